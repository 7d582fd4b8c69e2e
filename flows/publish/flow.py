"""The publish flow: an export's bundles -> FHIR server, with a ledger, retries and a report.

Batches of studies are Prefect tasks (a task costs tens of milliseconds, a bundle upload a few);
inside a batch a thread pool keeps ``concurrency`` bundles in flight. A request is retried by the
HTTP client; a batch that still has studies failing for a passing reason (connection, 429, 5xx)
is retried by Prefect, and that retry sends only those studies: the others are settled in the
run's state and in the ledger. Whatever is left after the last try is reported per study, and
the next ``trialexport publish`` picks it up. A bundle the server refuses as too large is sent
in parts (:mod:`flows.publish.study`).

A server that does not answer at all stops the run early rather than costing every study its
full retry schedule: a preflight ``GET metadata`` before the first bundle, and a breaker that
holds back the remaining studies after a few requests in a row got no answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.runtime import task_run

from flows import Logger
from flows.errors import NoExport
from flows.publish.client import (
    UNREACHABLE,
    Attempted,
    Breaker,
    FhirClient,
    RetryPolicy,
    resolve_auth,
    tries,
)
from flows.publish.ledger import Ledger
from flows.publish.study import SizeMemory, publish_one
from flows.records import (
    PublishBlock,
    PublishOutcome,
    PublishStatus,
    PublishTotals,
    ReportEntry,
    Status,
)
from flows.run_report import read_report, write_run_report
from flows.settings import PublishSettings, load
from flows.urls import redacted
from mappers.output_layout import REPORT, bundle_version


class BatchNotSettled(RuntimeError):
    """Raised so that Prefect retries a batch whose studies still fail for a passing reason."""


@dataclass(frozen=True)
class Job:
    key: str
    bundle: str  # path relative to the output directory
    content_hash: str | None


class RateLimiter:
    """At most ``rate`` request starts a second across threads (even spacing, no bursts)."""

    def __init__(self, rate: float | None):
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class PublishRun:
    """What the batch tasks of one flow run share: client, ledger, limiter and settled results.

    A plain class on purpose: Prefect walks dataclass and model parameters of tasks to find
    upstream futures, and there is nothing to find in here.
    """

    def __init__(self, output: Path, settings: PublishSettings, client: FhirClient, ledger: Ledger):
        self.output = output
        self.settings = settings
        self.server = redacted(client.base_url)  # the ledger key, the report, logs: written down
        self.client = client
        self.ledger = ledger
        self.limiter = RateLimiter(settings.rate_limit)
        self.breaker = Breaker(settings.unreachable_after)
        self.sizes = SizeMemory()
        self.results: dict[str, PublishOutcome] = {}

    def settled(self, key: str) -> bool:
        result = self.results.get(key)
        return result is not None and not result.transient

    def send(self, body: bytes) -> Attempted | None:
        """POST one transaction; None, without sending, once the breaker has opened."""
        if self.breaker.open:
            return None
        self.limiter.wait()
        attempted = self.client.post_bundle(body)
        self.breaker.record(attempted)
        return attempted


def guarded(job: Job, run: PublishRun) -> tuple[str, PublishOutcome]:
    """A bug or an unreadable bundle costs one study, not the batch."""
    try:
        return job.key, publish_one(job, run)
    except Exception as exc:
        reason = f"internal error: {type(exc).__name__}: {exc}"
        return job.key, PublishOutcome(status=PublishStatus.FAILED, reason=reason)


@task(name="publish-batch", cache_policy=NO_CACHE)
def publish_batch(jobs: list[Job], run: PublishRun) -> dict[str, int]:
    """Publish the batch's unsettled studies with bounded concurrency; one log line of counts."""
    logger = get_run_logger()
    started = time.perf_counter()
    todo = [job for job in jobs if not run.settled(job.key)]
    with ThreadPoolExecutor(max_workers=run.settings.concurrency) as pool:
        for key, result in pool.map(guarded, todo, [run] * len(todo)):
            run.results[key] = result
    run.ledger.flush()
    outcomes = [run.results[job.key] for job in todo]
    counts = {
        "sent": sum(r.sent for r in outcomes),
        "unchanged": sum(r.status is PublishStatus.PUBLISHED and not r.sent for r in outcomes),
        "failed": sum(r.failed for r in outcomes),
        "retryable": sum(r.transient for r in outcomes),
    }
    elapsed = time.perf_counter() - started
    logger.info(
        "batch of %d studies: %d sent, %d unchanged, %d failed (%d retryable) in %.2f s (%.1f sent/s)",
        len(todo),
        counts["sent"],
        counts["unchanged"],
        counts["failed"],
        counts["retryable"],
        elapsed,
        counts["sent"] / elapsed if elapsed else 0.0,
    )
    # A retry of the batch waits for Prefect, not for the server: pointless once the breaker is open.
    retry = counts["retryable"] and not run.breaker.open
    if retry and task_run.run_count <= run.settings.task_retries:  # else: report, no traceback
        raise BatchNotSettled(f"{counts['retryable']} studies of the batch failed for a passing reason")
    return counts


def jobs_from_entries(entries: Iterable[ReportEntry]) -> Iterator[Job]:
    """A job per exported study with a bundle (the ``bundle`` of the entry; an older report's
    entries name it among their outputs only)."""
    for entry in entries:
        bundle = entry.bundle or next((o for o in entry.outputs if bundle_version(o)), None)
        if entry.status is Status.EXPORTED and bundle and entry.key:
            yield Job(entry.key, bundle, entry.content_hash)


def _artifact_rows(jobs: list[Job], results: dict[str, PublishOutcome]) -> list[dict[str, Any]]:
    rows = []
    for job in jobs:
        result = results[job.key]
        resources = ", ".join(
            f"{r.resourceType}/{r.id}" + (f" v{r.versionId}" if r.versionId else "") for r in result.resources
        )
        rows.append(
            {
                "study": job.key,
                "status": result.status.value,
                "sent": result.sent,
                "server resources": resources,
                "reason": result.reason or result.note or "",
            }
        )
    return rows


def preflight(run: PublishRun, versions: set[str]) -> dict | None:
    """Check the server answers before any bundle goes out; a silent one opens the breaker, and
    so does one whose CapabilityStatement declares a FHIR version the bundles are not in."""
    if not run.settings.preflight_attempts:
        return None
    attempted = run.client.preflight(run.settings.preflight_attempts)
    answered = attempted.response is not None
    record: dict[str, Any] = {
        "url": f"{run.server}/metadata",
        "answered": answered,
        "attempts": attempted.attempts,
        "http_status": attempted.response.status_code if attempted.response is not None else None,
    }
    if attempted.response is not None:
        declared = declared_fhir_version(attempted.response)
        record["fhir_version"] = declared
        other = sorted(v for v in versions if declared and not speaks(declared, v))
        if other:
            run.breaker.trip(
                f"not sent: the server speaks FHIR {declared} (its CapabilityStatement) and the "
                f"bundles are FHIR {', '.join(other)}; publish them to a server of that version, or "
                "export again with the server's --fhir-version",
                transient=False,
            )
    if not answered:
        record["error"] = attempted.error
        what = UNREACHABLE if attempted.transient else "server not trusted (TLS)"
        silent = f"GET metadata got no answer after {tries(attempted.attempts)} ({attempted.error})"
        run.breaker.trip(f"{what}: not sent, {silent}", attempted.transient)
    return record


def declared_fhir_version(response) -> str | None:
    """``fhirVersion`` of a CapabilityStatement answer (servers need not serve one to everyone)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("resourceType") == "CapabilityStatement":
        version = body.get("fhirVersion")
        return version if isinstance(version, str) and version else None
    return None


def speaks(declared: str, release: str) -> bool:
    """Whether a server of FHIR version ``declared`` (``4.0.1``) takes bundles of ``release``
    (``R4``): the major version is the release (R4B, 4.3, is R4's too)."""
    return declared.split(".", 1)[0] == release.removeprefix("R")


def publish_batches(jobs: list[Job], run: PublishRun, logger: Logger) -> None:
    """Every job gets a result: from a batch task, or, once the breaker is open, without sending
    (the ledger still knows which studies need nothing sent)."""
    batch_task = publish_batch.with_options(
        retries=run.settings.task_retries, retry_delay_seconds=min(run.settings.max_delay, 2.0)
    )
    warned = False
    for start in range(0, len(jobs), run.settings.batch_size):
        batch = jobs[start : start + run.settings.batch_size]
        if run.breaker.open:
            if not warned:
                logger.warning("%s; the studies left are reported, not sent", run.breaker.reason)
                warned = True
            for job in batch:
                run.results[job.key] = guarded(job, run)[1]
            continue
        state = batch_task(batch, run, return_state=True)
        if state.is_failed():
            for job in batch:  # a crashed batch leaves its unsettled studies to the next run
                reason = f"batch failed: {state.message}"
                failed = PublishOutcome(status=PublishStatus.FAILED, transient=True, reason=reason)
                run.results.setdefault(job.key, failed)
    if run.breaker.open and not warned:
        logger.warning("%s", run.breaker.reason)


def totals_of(results: Iterable[PublishOutcome]) -> PublishTotals:
    totals = PublishTotals()
    for result in results:
        totals.studies += 1
        published = result.status is PublishStatus.PUBLISHED
        totals.published += published
        totals.sent += result.sent
        totals.unchanged += published and not result.sent
        totals.failed += result.failed
        totals.split += published and result.split
        totals.not_sent += result.not_sent
    return totals


NOT_EXPORTED = PublishOutcome(status=PublishStatus.NOT_SENT, reason="the study was not exported")


def _with_outcomes(entries: Iterable[ReportEntry], results: dict[str, PublishOutcome], server: str):
    for entry in entries:
        exported = entry.status is Status.EXPORTED and entry.key in results
        outcome = results[entry.key] if exported and entry.key else NOT_EXPORTED
        yield entry.model_copy(update={"publish": outcome.to_json(server)})


@flow(name="publish-bundles")
def publish_bundles(output: str, fhir_url: str, **options: Any) -> dict:
    """Publish the bundles of the export in ``output`` to ``fhir_url``; returns the run report
    without its ``studies`` (each got its ``publish`` section in ``run-report.json``, which is
    read and rewritten as a stream).

    ``options`` are :class:`flows.settings.PublishSettings` fields (concurrency, batch_size,
    rate_limit, attempts, base_delay, max_delay, timeout, task_retries, preflight_attempts,
    unreachable_after, ca_bundle, secret_block, force); unset or None ones come from
    ``TRIALEXPORT_FHIR_*`` or the defaults.
    """
    logger = get_run_logger()
    settings = load(PublishSettings, url=fhir_url, **{k: v for k, v in options.items() if v is not None})
    root = Path(output)
    report_path = root / REPORT
    if not report_path.is_file():
        raise NoExport(f"no {REPORT} in {root}: run `trialexport run` first")
    jobs = list(jobs_from_entries(read_report(report_path)[1]))
    started = datetime.now(UTC)
    policy = RetryPolicy.of(settings)
    auth = resolve_auth(settings.secret_block)
    client = FhirClient(
        settings.url, auth, settings.ca_bundle, settings.timeout, settings.concurrency, policy
    )
    run = PublishRun(root, settings, client, Ledger.in_output(root))
    logger.info("%d studies to publish to %s, batches of %d", len(jobs), run.server, settings.batch_size)
    with client:
        checked = preflight(run, {v for job in jobs if (v := bundle_version(job.bundle))})
        publish_batches(jobs, run, logger)
    run.ledger.flush()
    totals = totals_of(run.results[job.key] for job in jobs)
    report, entries = read_report(report_path)
    report.publish = PublishBlock(
        server=run.server,
        started=started.isoformat(timespec="seconds"),
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        settings=settings.model_dump(),
        preflight=checked,
        unreachable=run.breaker.reason,
        totals=totals,
    )
    write_run_report(report_path, report, _with_outcomes(entries, run.results, run.server))
    create_table_artifact(
        key="trialexport-publish",
        table=_artifact_rows(jobs, run.results),
        description=f"publish to {run.server}",
    )
    logger.info(
        "%d studies: %d published (%d sent, %d split, %d unchanged), %d failed; details in %s",
        totals.studies,
        totals.published,
        totals.sent,
        totals.split,
        totals.unchanged,
        totals.failed,
        report_path,
    )
    return report.to_json_without_studies()
