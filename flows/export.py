"""The export flow: inputs -> batches -> (read, map, render, validate) -> write -> run report.

Tasks work on batches, never on single studies: a Prefect task costs 60-90 ms here while a
study's whole mapping costs a few milliseconds. Reading and mapping happen in one task because
mapping is pure and cheap; writing is its own task so that a failed disk write retries without
redoing the mapping.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.tasks import exponential_backoff

from flows.output import NdjsonWriter, write_atomic, write_report
from flows.report import write_html_report
from flows.settings import UNCONFIGURED_ORG, ExportSettings
from mappers.export import StudyExport, export_study
from mappers.model import Issue
from mappers.readers import RejectedInput, read_document

REPORT_NAME = "run-report.json"
NDJSON_DIR = "ndjson"
MAX_BATCHES_IN_FLIGHT = 4
_IO_RETRIES = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=0.5),
    "retry_jitter_factor": 0.5,
}


class InputNotFound(FileNotFoundError):
    pass


@dataclass
class RejectedSource:
    """An input of which nothing could be read."""

    source: str
    reason: str
    issues: list[Issue] = field(default_factory=list)


def discover(inputs: Iterable[str]) -> list[str]:
    """Every file named or under a named directory, sorted so that runs are reproducible.

    Hidden files and directories (``.git``, editor swap files) are not inputs.
    """
    found: set[str] = set()
    for raw in inputs:
        path = Path(raw)
        if path.is_file():
            found.add(str(path))
        elif path.is_dir():
            for child in path.rglob("*"):
                relative = child.relative_to(path).parts
                if child.is_file() and not any(part.startswith(".") for part in relative):
                    found.add(str(child))
        else:
            raise InputNotFound(f"input not found: {raw}")
    return sorted(found)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@task(name="export-batch", cache_policy=NO_CACHE, **_IO_RETRIES)
def export_batch(paths: list[str], settings: ExportSettings) -> list[StudyExport | RejectedSource]:
    """Read and map one batch; retried as a whole because reading is I/O and mapping is pure."""
    logger = get_run_logger()
    started = time.perf_counter()
    mapping = settings.mapping()
    results: list[StudyExport | RejectedSource] = []
    for path in paths:
        try:
            studies = read_document(Path(path).read_bytes(), path)
            results.extend(export_study(study, mapping, settings.templates) for study in studies)
        except RejectedInput as exc:
            results.append(RejectedSource(path, exc.reason, exc.issues))
        except OSError as exc:
            results.append(RejectedSource(path, f"cannot read file: {exc.strerror or exc}"))
        except Exception as exc:  # a bug must cost one input, not the batch: report it and go on
            logger.error(
                "internal error on %s: %s: %s",
                path,
                type(exc).__name__,
                exc,
                exc_info=logger.isEnabledFor(10),
            )
            results.append(RejectedSource(path, f"internal error: {type(exc).__name__}: {exc}"))
    exports = [r for r in results if isinstance(r, StudyExport)]
    elapsed = time.perf_counter() - started
    logger.info(
        "mapped %d inputs: %d studies, %d exported, %d rejected in %.2f s (%.0f studies/s)",
        len(paths),
        len(exports),
        sum(e.status == "exported" for e in exports),
        len(results) - sum(e.status == "exported" for e in exports),
        elapsed,
        len(exports) / elapsed if elapsed else 0,
    )
    return results


@task(name="write-batch", cache_policy=NO_CACHE, **_IO_RETRIES)
def write_batch(exports: list[StudyExport], output: str) -> int:
    root = Path(output)
    count = 0
    for export in exports:
        for relative, data in export.files.items():
            write_atomic(root / relative, data)
            count += 1
    return count


def _issue_dicts(issues: list[Issue]) -> list[dict]:
    return [i.model_dump(exclude_none=True) for i in issues]


def _entry(result: StudyExport | RejectedSource) -> dict:
    if isinstance(result, RejectedSource):
        issue = Issue(severity="error", code="input-rejected", message=result.reason)
        return {
            "source": result.source,
            "status": "rejected",
            "outputs": [],
            "issues": _issue_dicts([*result.issues, issue]),
        }
    prov = result.study.provenance
    return {
        "source": prov.source,
        **({"record": prov.record} if prov.record is not None else {}),
        "key": result.key,
        "identifier": result.study.identifiers[0].value if result.study.identifiers else None,
        "layout": prov.layout,
        "content_hash": prov.content_hash,
        "status": result.status,
        "outputs": sorted(result.files),
        "issues": _issue_dicts(result.issues),
    }


def _claim_keys(results: list, seen: dict[str, str]) -> None:
    """Two records with one business identifier would overwrite each other's files and server
    resources: the first keeps it, later ones are rejected with the reason."""
    for result in results:
        if not isinstance(result, StudyExport) or result.status != "exported":
            continue
        source = result.study.provenance.source
        if result.key in seen:
            result.reject(
                "duplicate-identifier",
                f"identifier '{result.key}' was already exported from {seen[result.key]}",
            )
            result.files.clear()
            result.resources.clear()
        else:
            seen[result.key] = source


def _summary_markdown(report: dict) -> str:
    totals = report["totals"]
    lines = [
        "# trialexport run",
        "",
        "| inputs | studies read | exported | rejected |",
        "|---:|---:|---:|---:|",
        f"| {totals['inputs']} | {totals['studies']} | {totals['exported']} | {totals['rejected']} |",
        "",
        f"Outputs: `{report['settings']['output']}`",
    ]
    rejected = [s for s in report["studies"] if s["status"] == "rejected"]
    if rejected:
        lines += ["", "## Rejected", "", "| source | reason |", "|---|---|"]
        for entry in rejected:
            reason = "; ".join(i["message"] for i in entry["issues"] if i["severity"] == "error")
            lines.append(f"| {entry['source']} | {reason.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


@flow(name="export-trials")
def export_trials(
    inputs: list[str],
    output: str = "output",
    templates: str | None = None,
    fhir_version: str = "R4",
    prs_org_name: str | None = None,
    batch_size: int | None = None,
    fhir_url: str | None = None,
) -> dict:
    """Export every study in ``inputs`` (files and directories) to ``output``; returns the run report.

    With ``fhir_url`` the bundles are then published there (``flows.publish.flow``, settings from
    ``TRIALEXPORT_FHIR_*``) and the report returned carries the ``publish`` sections.
    """
    logger = get_run_logger()
    overrides = {"output": output, "templates": templates, "fhir_version": fhir_version}
    overrides |= {k: v for k, v in {"prs_org_name": prs_org_name, "batch_size": batch_size}.items() if v}
    settings = ExportSettings(**overrides)
    started = datetime.now(UTC)
    paths = discover(inputs)
    logger.info("%d inputs, batches of %d", len(paths), settings.batch_size)
    root = Path(settings.output)
    ndjson = NdjsonWriter(root / NDJSON_DIR)
    ndjson.start()
    seen: dict[str, str] = {}
    entries: list[dict] = []

    def collect(future) -> None:  # in submission order, so outputs and report are deterministic
        results = future.result()
        _claim_keys(results, seen)
        exported = [r for r in results if isinstance(r, StudyExport) and r.status == "exported"]
        write_batch(exported, settings.output)
        for export in exported:
            ndjson.append(export.resources)
        entries.extend(_entry(r) for r in results)

    in_flight: deque = deque()  # bounded, so memory does not grow with the corpus
    for batch in _chunks(paths, settings.batch_size):
        in_flight.append(export_batch.submit(batch, settings))
        if len(in_flight) > MAX_BATCHES_IN_FLIGHT:
            collect(in_flight.popleft())
    while in_flight:
        collect(in_flight.popleft())
    ndjson_files = [str(p.relative_to(root)) for p in ndjson.finish()]
    report = {
        "run": {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "trialexport_version": version("trialexport"),
        },
        "settings": settings.model_dump(),
        "totals": {
            "inputs": len(paths),
            "studies": sum(1 for e in entries if "key" in e),
            "exported": sum(e["status"] == "exported" for e in entries),
            "rejected": sum(e["status"] == "rejected" for e in entries),
        },
        "bulk": ndjson_files,
        "studies": entries,
    }
    if settings.prs_org_name == UNCONFIGURED_ORG:
        report["warnings"] = [
            "prs_org_name is not configured (TRIALEXPORT_PRS_ORG_NAME): PRS XML says UNCONFIGURED"
        ]
    write_report(root / REPORT_NAME, report)
    pages = write_html_report(root, report)
    logger.info("HTML report: %s (%d study pages)", root / "index.html", len(pages) - 1)
    create_markdown_artifact(
        key="trialexport-run", markdown=_summary_markdown(report), description="export summary"
    )
    logger.info(
        "%d studies read, %d exported, %d rejected; outputs in %s",
        report["totals"]["studies"],
        report["totals"]["exported"],
        report["totals"]["rejected"],
        root,
    )
    if fhir_url:
        from flows.publish.flow import publish_bundles

        report = publish_bundles(output=settings.output, fhir_url=fhir_url)
    return report
