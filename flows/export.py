"""The export flow: inputs -> batches -> (read, map, render, validate) -> write -> run report.

Tasks work on batches, never on single studies: a Prefect task costs 60-90 ms here while a
study's whole mapping costs a few milliseconds. Reading and mapping happen in one task because
mapping is pure and cheap; writing is its own task so that a failed disk write retries without
redoing the mapping.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import orjson
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.exceptions import MissingContextError
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger
from prefect.tasks import exponential_backoff

from flows import progress
from flows.incremental import ExportLedger, fingerprint, unchanged
from flows.output import NdjsonWriter, write_atomic
from flows.report import PageSlugs, page_from_disk, render_study_page, study_view, write_index
from flows.run_report import StudySpool, write_run_report
from flows.settings import UNCONFIGURED_ORG, ExportSettings
from mappers.context import MappingSettings
from mappers.export import StudyExport, export_study
from mappers.finish import dump_json_line
from mappers.model import Issue
from mappers.output_layout import bundle_version
from mappers.readers import RejectedInput, RejectedRecord, TooManyStudies, iter_document

REPORT_NAME = "run-report.json"
STAGING = ".staging"
NDJSON_DIR = "ndjson"
_IO_RETRIES = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=0.5),
    "retry_jitter_factor": 0.5,
}


class InputNotFound(FileNotFoundError):
    pass


@dataclass
class RejectedSource:
    """An input of which nothing could be read, or one record of it (``record``) that could not."""

    source: str
    reason: str
    issues: list[Issue] = field(default_factory=list)
    record: int | None = None


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


class Stage:
    """Where a batch leaves its studies' files until the flow process settles them.

    The batch's worker writes them (on every core, or every Dask worker) and the flow process only
    renames them into place, so neither the flow's memory nor its one thread grows with a batch's
    outputs: an input of a thousand studies costs the flow its entries, not its files. The stage
    is inside the output directory, so a rename is atomic and costs nothing, and hidden, so what a
    killed run leaves there is never taken for an output (every run clears it). A Dask cluster's
    workers therefore need the output directory on a file system they share, as they need the
    inputs.
    """

    def __init__(self, output: str):
        self.directory = Path(output) / STAGING / uuid.uuid4().hex
        self.count = 0

    def put(self, data: bytes) -> str:
        if not self.count:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path = self.directory / str(self.count)
        path.write_bytes(data)
        return str(path)


@dataclass
class InputResult:
    """What one input gave: its run-report entries, and per entry its staged files, report page
    and NDJSON lines (paths in the batch's ``Stage``).

    Entries are as the input alone gives them; duplicates across the run are settled afterwards
    (``_claim``). ``sha256`` is None when the outcome must not be reused (the file could not be
    read, or a bug stopped it), so the ledger does not record it.
    """

    source: str
    sha256: str | None
    entries: list[dict]
    files: list[dict[str, str]]  # per entry: output path -> staged file
    resources: list[dict[str, str | bytes]]  # per entry: resource type -> NDJSON lines (or staged)
    pages: list[str | None]  # per entry its staged report page (None when skipped)
    skipped: bool = False
    lost: list[int] = field(default_factory=list)  # skipped: entries that lost their key last time


# A window of a rerun holds at most this many batches' worth of inputs (their ledger records wait
# in memory until it is settled): one export task per thousand inputs at a 1 % change rate.
WINDOW_BATCHES = 5


@dataclass
class Window:
    """Consecutive inputs settled together. The flow reuses those unchanged since the last run
    itself and sends the rest to one export task, so a rerun pays a task (60-90 ms) per window,
    not per batch of mostly unchanged inputs. A window closes at a batch of inputs to export or
    at ``WINDOW_BATCHES`` batches of inputs in all: a full run's windows are its batches."""

    paths: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)  # to export, in a task
    reused: dict[str, dict] = field(default_factory=dict)  # unchanged: path -> its ledger record
    future: PrefectFuture | None = None


@dataclass
class StagedStudy:
    entry: dict
    files: dict[str, str]
    resources: dict[str, str]
    page: str


def _staged(result: StudyExport | RejectedSource, stage: Stage, templates: str | None) -> StagedStudy:
    """A study's export, once its files, NDJSON lines and report page are staged: all that is kept
    of it. The page is rendered here, where the study is still in memory."""
    entry = _entry(result)
    study = _study_of(result.files) if isinstance(result, StudyExport) else None
    page = stage.put(render_study_page(study_view(entry, study), templates))
    if not isinstance(result, StudyExport):
        return StagedStudy(entry, {}, {}, page)
    files = {relative: stage.put(data) for relative, data in result.files.items()}
    lines = {
        rtype: stage.put(b"".join(dump_json_line(r) for r in items))
        for rtype, items in result.resources.items()
    }
    return StagedStudy(entry, files, lines, page)


def _bytes(data: bytes | str) -> bytes:
    return data if isinstance(data, bytes) else Path(data).read_bytes()


def _from_staged(source: str, sha256: str | None, staged: list[StagedStudy]) -> InputResult:
    return InputResult(
        source,
        sha256,
        [s.entry for s in staged],
        [s.files for s in staged],
        [s.resources for s in staged],
        [s.page for s in staged],
    )


def _reuse(source: str, previous: dict, root: Path) -> InputResult:
    """An unchanged input from the ledger: its entries as recorded, its NDJSON lines read back
    from the bundles on disk, so the run's NDJSON equals a full run's."""
    resources = []
    for entry in previous["entries"]:
        grouped: dict[str, list[bytes]] = {}
        bundle = next((o for o in entry["outputs"] if o.endswith("-bundle.json")), None)
        if entry["status"] == "exported" and bundle is not None:
            for item in orjson.loads((root / bundle).read_bytes()).get("entry", []):
                line = dump_json_line(item["resource"])
                grouped.setdefault(item["resource"]["resourceType"], []).append(line)
        # kept in memory, not staged: a few kB a study, and a small file costs more than its bytes
        resources.append({rtype: b"".join(lines) for rtype, lines in grouped.items()})
    entries = previous["entries"]
    return InputResult(
        source,
        previous["sha256"],
        entries,
        [{}] * len(entries),
        resources,
        [None] * len(entries),
        skipped=True,
        lost=previous.get("lost", []),
    )


class InputTooLarge(Exception):
    """Raised by ``_read_input``: the flow's triage and the export both read inputs, and only the
    export turns the size into a rejection."""

    def __init__(self, size: int):
        self.size = size


def _read_input(path: str, limit: int) -> bytes:
    """An input's bytes, never more than ``limit`` + 1 of them: sized before a byte is read, so a
    huge file costs nothing. Raises OSError, or InputTooLarge with the size found."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        data = b"" if size > limit else handle.read(size + 1)  # +1: one growing meanwhile
        if size < len(data) <= limit:  # it did grow: the rest, still bounded (read(n) allocates n)
            data += handle.read(limit + 1 - len(data))
    if size > limit or len(data) > limit:
        raise InputTooLarge(max(size, len(data)))
    return data


def is_unchanged(path: str, record: dict | None, fp: str, settings: ExportSettings) -> bool:
    """Whether an input's ledger ``record`` still stands for it: decided in the flow process, so
    that an unchanged input costs a hash and no share of a task (a task run costs more than
    reusing a hundred inputs)."""
    if record is None:
        return False
    try:
        data = _read_input(path, settings.max_file_bytes)
    except (OSError, InputTooLarge):
        return False  # the export says why
    return unchanged(record, hashlib.sha256(data).hexdigest(), fp, Path(settings.output))


def _export_input(path: str, settings: ExportSettings, mapping: MappingSettings, stage: Stage) -> InputResult:
    def rejected(reason: str) -> InputResult:
        return _from_staged(path, None, [_staged(RejectedSource(path, reason), stage, settings.templates)])

    limit = settings.max_file_bytes
    try:
        data = _read_input(path, limit)
    except OSError as exc:
        return rejected(f"cannot read file: {exc.strerror or exc}")
    except InputTooLarge as exc:
        return rejected(
            f"file too large: {exc.size} bytes, over the limit of {limit} bytes"
            " (max_file_bytes, TRIALEXPORT_MAX_FILE_BYTES)"
        )
    digest = hashlib.sha256(data).hexdigest()
    staged: list[StagedStudy] = []

    def keep(result: StudyExport | RejectedSource) -> None:
        staged.append(_staged(result, stage, settings.templates))

    try:  # studies come one at a time, and are staged as they come: memory holds one at a time
        for item in iter_document(data, path, max_studies=settings.max_studies_per_file):
            if isinstance(item, RejectedRecord):
                keep(RejectedSource(path, item.reason, record=item.record))
            else:
                keep(export_study(item, mapping, settings.templates))
    except TooManyStudies as exc:  # not recorded in the ledger: under a raised limit it reads anew
        keep(RejectedSource(path, f"{exc.reason} (max_studies_per_file, TRIALEXPORT_MAX_STUDIES_PER_FILE)"))
        return _from_staged(path, None, staged)
    except RejectedInput as exc:  # the rest of the input is unreadable; what was read stands
        keep(RejectedSource(path, exc.reason, exc.issues))
    return _from_staged(path, digest, staged)


def _export_or_report(
    path: str, settings: ExportSettings, mapping: MappingSettings, *, stage: Stage, logger
) -> InputResult:
    try:
        return _export_input(path, settings, mapping, stage)
    except Exception as exc:  # a bug must cost one input, not the batch: report it and go on
        logger.error(
            "internal error on %s: %s: %s",
            path,
            type(exc).__name__,
            exc,
            exc_info=logger.isEnabledFor(10),
        )
        reason = f"internal error: {type(exc).__name__}: {exc}"
        return _from_staged(path, None, [_staged(RejectedSource(path, reason), stage, settings.templates)])


def _study_of(files: dict[str, bytes]) -> dict | None:
    data = next((data for name, data in files.items() if name.endswith("/study.json")), None)
    return None if data is None else orjson.loads(data)


@task(name="export-batch", cache_policy=NO_CACHE, **_IO_RETRIES)
def export_batch(paths: list[str], settings: ExportSettings) -> list[InputResult]:
    """Read and map one batch of inputs to export; retried as a whole because reading is I/O and
    mapping is pure. Unchanged inputs never get here: the flow reuses them (``is_unchanged``)."""
    logger = get_run_logger()
    started = time.perf_counter()
    mapping = settings.mapping()
    stage = Stage(settings.output)
    results = [_export_or_report(path, settings, mapping, stage=stage, logger=logger) for path in paths]
    entries = [e for r in results for e in r.entries]
    studies = sum("key" in e for e in entries)
    exported = sum(e["status"] == "exported" for e in entries)
    elapsed = time.perf_counter() - started
    logger.info(
        "mapped %d inputs: %d studies, %d exported, %d rejected in %.2f s (%.0f studies/s)",
        len(paths),
        studies,
        exported,
        len(entries) - exported,
        elapsed,
        studies / elapsed if elapsed else 0,
    )
    return results


@task(name="write-batch", cache_policy=NO_CACHE, **_IO_RETRIES)
def write_batch(files: list[dict[str, bytes | str]], output: str) -> int:
    """Each output from its staged file (a rename) or, for the few the flow renders itself, its
    bytes (an atomic write). A retry skips what the failed try already moved."""
    root = Path(output)
    count = 0
    for study_files in files:
        for relative, data in study_files.items():
            place(root / relative, data)
            count += 1
    return count


def place(target: Path, data: bytes | str) -> None:
    """One output into place: ``data`` is its bytes, or the path of its staged file."""
    if isinstance(data, bytes):
        write_atomic(target, data)
    elif Path(data).exists() or not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(data, target)


def _issue_dicts(issues: list[Issue]) -> list[dict]:
    return [i.model_dump(exclude_none=True) for i in issues]


def _entry(result: StudyExport | RejectedSource) -> dict:
    if isinstance(result, RejectedSource):
        issue = Issue(severity="error", code="input-rejected", message=result.reason)
        return {
            "source": result.source,
            **({"record": result.record} if result.record is not None else {}),
            "status": "rejected",
            "outputs": [],
            "issues": _issue_dicts([*result.issues, issue]),
        }
    study = result.study
    prov = study.provenance
    return {
        "source": prov.source,
        **({"record": prov.record} if prov.record is not None else {}),
        "key": result.key,
        "identifier": study.identifiers[0].value if study.identifiers else None,
        **({"title": title} if (title := study.brief_title or study.official_title) else {}),
        "counts": {"arms": len(study.arms), "outcomes": len(study.outcomes), "sites": len(study.sites)},
        "layout": prov.layout,
        "content_hash": prov.content_hash,
        "status": result.status,
        "outputs": sorted(result.files),
        **({"bundle": bundle} if (bundle := _bundle_of(result.files)) else {}),
        "issues": _issue_dicts(result.issues),
    }


def _bundle_of(files) -> str | None:
    return next((name for name in files if bundle_version(name)), None)


def _claim(entry: dict, seen: dict[str, str]) -> dict:
    """Two records with one business identifier would overwrite each other's files and server
    resources: the first keeps it, later ones are rejected with the reason."""
    if entry["status"] != "exported":
        return entry
    key = entry["key"]
    if key not in seen:
        seen[key] = entry["source"]
        return entry
    issue = Issue(
        severity="error",
        code="duplicate-identifier",
        message=f"identifier '{key}' was already exported from {seen[key]}",
    )
    issues = [*entry["issues"], *_issue_dicts([issue])]
    kept = {k: v for k, v in entry.items() if k != "bundle"}
    return {**kept, "status": "rejected", "outputs": [], "issues": issues}


def _losers(entries: list[dict], seen: dict[str, str]) -> list[int]:
    """Which of an input's entries would lose their identifier to an earlier input (or to an
    earlier entry of its own), as ``_claim`` would decide, without claiming: asked of every
    unchanged input, so it must not copy ``seen``, which grows with the run."""
    own: set[str] = set()
    losers = []
    for number, entry in enumerate(entries):
        if entry["status"] != "exported":
            continue
        if entry["key"] in seen or entry["key"] in own:
            losers.append(number)
        own.add(entry["key"])
    return losers


MAX_ARTIFACT_REJECTS = 100  # the artifact is read in the Prefect UI; the report file has them all


def _summary_markdown(report: dict, rejected: list[dict]) -> str:
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
    if rejected:
        lines += ["", "## Rejected", "", "| source | reason |", "|---|---|"]
        for entry in rejected:
            reason = "; ".join(i["message"] for i in entry["issues"] if i["severity"] == "error")
            lines.append(f"| {entry['source']} | {reason.replace('|', '/')} |")
        if totals["rejected"] > len(rejected):
            lines.append(f"| … | {totals['rejected'] - len(rejected)} more in {REPORT_NAME} |")
    return "\n".join(lines) + "\n"


def _batches_in_flight() -> int:
    """Enough batches submitted ahead to keep every worker busy, and no more: each finished batch
    waiting to be collected holds its entries in the flow process and its files in the staging
    directory. Threads share one core (the GIL): one batch mapping while the flow writes the
    last one is all they can use."""
    try:
        nthreads = get_run_context().task_runner.client.nthreads()  # a Dask runner's workers
    except (AttributeError, RuntimeError, MissingContextError):
        return 2
    return max(2, sum(nthreads.values()) + 1)


@flow(name="export-trials")
def export_trials(
    inputs: list[str],
    output: str = "output",
    templates: str | None = None,
    fhir_version: str = "R4",
    prs_org_name: str | None = None,
    batch_size: int | None = None,
    fhir_url: str | None = None,
    full: bool = False,
) -> dict:
    """Export every study in ``inputs`` (files and directories) to ``output``; returns the run
    report without its ``studies``, which are in ``run-report.json`` only (a registry-sized run's
    entries would not fit in memory; ``flows.run_report.read_studies`` loads them).

    Inputs unchanged since they were last exported to ``output`` (``export-ledger.sqlite``) are not
    exported again; ``full`` exports everything. With ``fhir_url`` the bundles are then published
    there (``flows.publish.flow``, settings from ``TRIALEXPORT_FHIR_*``) and the report returned
    carries the ``publish`` sections.
    """
    logger = get_run_logger()
    overrides = {"output": output, "templates": templates, "fhir_version": fhir_version}
    overrides |= {k: v for k, v in {"prs_org_name": prs_org_name, "batch_size": batch_size}.items() if v}
    settings = ExportSettings(**overrides)
    started = datetime.now(UTC)
    paths = discover(inputs)
    progress.start(len(paths))
    root = Path(settings.output)
    ledger = ExportLedger.in_output(root)
    fp = fingerprint(settings.mapping(), settings.templates)
    current = set(paths)
    removed = [
        {"source": source, "outputs": ledger.get(source)["outputs"]}
        for source in ledger.sources()
        if source not in current
    ]
    logger.info(
        "%d inputs, batches of %d, %s; %d inputs of the last run are gone",
        len(paths),
        settings.batch_size,
        "everything exported (full)" if full else "unchanged inputs skipped",
        len(removed),
    )
    shutil.rmtree(root / STAGING, ignore_errors=True)  # a killed run's
    ndjson = NdjsonWriter(root / NDJSON_DIR)
    ndjson.start()
    spool = StudySpool(root)  # the run's entries wait on disk, not in memory
    slugs = PageSlugs()
    totals = dict.fromkeys(("studies", "exported", "rejected"), 0)
    rejected: list[dict] = []  # the first few, for the Prefect artifact
    seen: dict[str, str] = {}
    skipped = 0

    def settle(result: InputResult, number: int, out: dict[str, bytes]) -> tuple[dict, bool]:
        """One entry's final form in this run (its identifier claimed, its page named), with the
        files to write for it in ``out``; says whether it lost its identifier to an earlier input."""
        entry = result.entries[number]
        page = slugs.page(entry)
        renamed = entry.get("page") != page
        entry["page"] = page  # recorded so: an unchanged input's page is found again by name
        claimed = _claim(entry, seen)
        if claimed["status"] == "exported" or claimed is entry:
            out.update(result.files[number])  # a rejected study's outputs go to rejected/<key>/
        if result.skipped and not renamed and (root / page).is_file():
            pass  # the page an earlier run wrote says all this already
        elif claimed is not entry:  # lost its identifier: the page says so, without the study
            out[page] = render_study_page(study_view(claimed, None), settings.templates)
        elif not result.skipped:
            out[page] = result.pages[number]
        else:
            out[page] = page_from_disk(root, claimed, settings.templates)
        totals["studies"] += "key" in claimed
        totals[claimed["status"]] += 1
        if claimed["status"] == "rejected" and len(rejected) < MAX_ARTIFACT_REJECTS:
            rejected.append(claimed)
        spool.append(claimed)
        return claimed, renamed

    def export_here(path: str) -> InputResult:  # rare cases: not worth a task
        return _export_or_report(path, settings, mapping, stage=Stage(settings.output), logger=logger)

    def reuse(path: str, record: dict) -> InputResult:
        try:
            return _reuse(path, record, root)
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            return export_here(path)  # an output edited or damaged since: export the input again

    def collect(window: Window) -> None:  # in input order, so outputs and report are deterministic
        nonlocal skipped
        exported = dict(zip(window.todo, window.future.result(), strict=True)) if window.future else {}
        results = [exported[p] if p in exported else reuse(p, window.reused[p]) for p in window.paths]
        files, resources, lost, changed = [], [], {}, set()
        for index, result in enumerate(results):
            if result.skipped and _losers(result.entries, seen) != result.lost:
                # a study that lost its identifier last time now keeps it, or the other way round:
                # its files on disk are another input's, so export it again
                results[index] = result = export_here(result.source)
            skipped += result.skipped
            lost[result.source] = []
            for number in range(len(result.entries)):
                out: dict[str, bytes] = {}
                claimed, renamed = settle(result, number, out)
                files.append(out)
                if claimed["status"] == "exported":
                    resources.append(result.resources[number])
                elif claimed is not result.entries[number]:
                    lost[result.source].append(number)
                if renamed:
                    changed.add(result.source)
        if any(files):  # a window of unchanged inputs has nothing to write, and needs no task
            write_batch(files, settings.output)
        for study_resources in resources:
            ndjson.append({rtype: [_bytes(lines)] for rtype, lines in study_resources.items()})
        for staged in {Path(p).parent for r in results for p in r.pages if p}:
            shutil.rmtree(staged, ignore_errors=True)  # the batch is settled: nothing left is needed
        for result in results:  # only once its files are on disk
            if result.sha256 is None:
                ledger.forget(result.source)
            elif not result.skipped or lost[result.source] != result.lost or result.source in changed:
                ledger.record(result.source, result.sha256, fp, result.entries, lost[result.source])
        ledger.flush()
        if window.reused:
            logger.info(
                "%d inputs settled: %d unchanged (reused), %d exported",
                len(results),
                sum(r.skipped for r in results),
                sum(not r.skipped for r in results),
            )
        progress.advance(len(results), sum("key" in e for r in results for e in r.entries))

    mapping = settings.mapping()
    in_flight: deque[Window] = deque()  # bounded, so memory does not grow with the corpus
    slots = _batches_in_flight()

    def submit(window: Window) -> None:
        if window.todo:
            window.future = export_batch.submit(window.todo, settings)
        in_flight.append(window)
        while in_flight and (len(in_flight) >= slots or in_flight[0].future is None):
            collect(in_flight.popleft())

    window_limit = WINDOW_BATCHES * settings.batch_size
    window = Window()
    try:
        for chunk in _chunks(paths, settings.batch_size):
            previous = {} if full else ledger.get_many(chunk)
            for path in chunk:
                window.paths.append(path)
                if is_unchanged(path, previous.get(path), fp, settings):
                    window.reused[path] = previous[path]
                else:
                    window.todo.append(path)
                if len(window.todo) >= settings.batch_size or len(window.paths) >= window_limit:
                    submit(window)
                    window = Window()
        if window.paths:
            submit(window)
        while in_flight:
            collect(in_flight.popleft())
    except BaseException:  # what was written so far is not exported again by the next run
        ledger.close()
        raise
    ndjson_files = [str(p.relative_to(root)) for p in ndjson.finish()]
    report = {
        "run": {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "trialexport_version": version("trialexport"),
        },
        "settings": settings.model_dump(),
        "totals": {"inputs": len(paths), **totals, "skipped": skipped, "removed": len(removed)},
        "bulk": ndjson_files,
        "studies": None,  # streamed in from the spool, here, by write_run_report
        "removed": removed,
    }
    if settings.prs_org_name == UNCONFIGURED_ORG:
        report["warnings"] = [
            "prs_org_name is not configured (TRIALEXPORT_PRS_ORG_NAME): PRS XML says UNCONFIGURED"
        ]
    write_run_report(root / REPORT_NAME, report, iter(spool))
    for gone in removed:
        ledger.forget(gone["source"])
    ledger.close()
    del report["studies"]
    write_index(root, report, iter(spool))
    slugs.remove_stale(root)
    spool.close()
    shutil.rmtree(root / STAGING, ignore_errors=True)
    logger.info("HTML report: %s (%d study pages)", root / "index.html", spool.count)
    create_markdown_artifact(
        key="trialexport-run", markdown=_summary_markdown(report, rejected), description="export summary"
    )
    logger.info(
        "%d studies read, %d exported, %d rejected, %d inputs unchanged (skipped); outputs in %s",
        report["totals"]["studies"],
        report["totals"]["exported"],
        report["totals"]["rejected"],
        skipped,
        root,
    )
    if fhir_url:
        from flows.publish.flow import publish_bundles

        report = publish_bundles(output=settings.output, fhir_url=fhir_url)
    return report
