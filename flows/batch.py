"""What one batch's worker does: read, map, validate and stage each input. No Prefect here.

A batch runs in a thread, a worker process or a Dask worker elsewhere; all it returns is
:class:`InputResult` records, whose files wait in a staging directory inside the output
directory until the flow process settles the batch (``flows.settle``) and moves them into
place. A study is mapped, its outputs, NDJSON lines and report page staged, and dropped from
memory before the next is read: memory holds one study at a time.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from flows import Logger, collector
from flows.errors import InputNotFound
from flows.incremental import unchanged
from flows.records import (
    Counts,
    InputResult,
    LedgerRecord,
    Lines,
    MappedStudy,
    ReportEntry,
    StagedLines,
    Status,
)
from flows.report import render_study_page, study_view
from flows.settings import ExportSettings
from mappers.context import MappingSettings
from mappers.export import StudyExport, bulk_resources, export_study
from mappers.finish import dump_json_line
from mappers.model import Issue, Study
from mappers.output_layout import STAGING, bundle_version
from mappers.readers import RejectedInput, RejectedRecord, TooManyStudies, iter_document


@dataclass(frozen=True)
class InputTrees:
    """The inputs the user named, by their real paths: a file is read only when its real path
    lies in one of them.

    A symbolic link inside an input folder may lead anywhere (``in/notes.txt -> ../secret.txt``,
    a link to the home directory): followed, another file's text would land in the report, the
    bundles, the NDJSON and a FHIR server. Links that stay inside the named trees are followed;
    one that leaves them is an input of its own, rejected unread with the reason. A named input
    that is itself a link is what the user asked for: its target is the tree."""

    roots: tuple[str, ...]

    @classmethod
    def of(cls, inputs: Iterable[str]) -> InputTrees:
        return cls(tuple(sorted({os.path.realpath(p) for p in inputs})))

    def contain(self, real: str) -> bool:
        """Whether the real path ``real`` lies in one of the trees."""
        return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.roots)


def iter_inputs(inputs: Iterable[str]) -> Iterator[str]:
    """Every file named or under a named directory, unsorted; hidden files and directories
    (``.git``, editor swap files) are not inputs. Raises InputNotFound for a missing one.

    Directory links are followed only inside the named trees, each real directory once (a link
    to an ancestor does not loop); a link leading out of them is yielded as it is, so that the
    export reports it (:func:`read_input` refuses to read it)."""
    trees = InputTrees.of(inputs)
    for raw in inputs:
        path = Path(raw)
        if path.is_file():
            yield str(path)
        elif path.is_dir():
            yield from _walk(path, trees, {os.path.realpath(path)})
        else:
            raise InputNotFound(f"input not found: {raw}")


def _walk(directory: Path, trees: InputTrees, seen: set[str]) -> Iterator[str]:
    try:
        children = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return  # unreadable folder: nothing in it can be read either
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_file(follow_symlinks=False):  # the common case, without resolving a path
            yield child.path
            continue
        real = os.path.realpath(child.path)
        if child.is_symlink() and not trees.contain(real):
            yield child.path  # reported, never read or walked
        elif child.is_dir():  # a folder, or a link to one inside the trees: each real folder once
            if real not in seen:
                seen.add(real)
                yield from _walk(Path(child.path), trees, seen)
        elif child.is_file():
            yield child.path


def discover(inputs: Iterable[str]) -> list[str]:
    """Every input file, sorted so that runs are reproducible."""
    return sorted(set(iter_inputs(inputs)))


def count_inputs(inputs: Iterable[str], enough: int) -> int:
    """How many input files there are, counting no further than ``enough`` (a registry's walk
    is the flow's to make, once)."""
    count = 0
    for _ in iter_inputs(inputs):
        count += 1
        if count >= enough:
            break
    return count


class Stage:
    """Where a batch leaves its studies' files until the flow process settles them.

    The batch's worker writes them (on every core, or every Dask worker) and the flow process only
    renames them into place, so neither the flow's memory nor its one thread grows with a batch's
    outputs: an input of a thousand studies costs the flow its entries, not its files. The stage
    is inside the output directory, so a rename is atomic and costs nothing, and hidden, so what a
    killed run leaves there is never taken for an output (every run clears it). A Dask cluster's
    workers therefore need the output directory on a file system they share, as they need the
    inputs.

    A study's NDJSON lines are not files of their own: they go to the end of the batch's one
    lines file (``put_lines``), since the flow only reads them once to append them to the NDJSON
    files. Creating a file is the dear part of writing a small one (on the benchmark machine 20-35
    µs of CPU on a quiet disk, up to 0.7 ms while other processes write to it; appending to an
    existing file, 4 µs), and a study's lines were two of the seven files it staged.
    """

    LINES = "lines.ndjson"  # the batch's NDJSON lines, every study's one after the other

    def __init__(self, output: str):
        self.directory = Path(output) / STAGING / uuid.uuid4().hex
        self.count = 0
        self.lines_size = 0

    def _ready(self) -> None:
        if not self.count and not self.lines_size:
            self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        self._ready()
        self.count += 1
        path = self.directory / str(self.count)
        path.write_bytes(data)
        return str(path)

    def put_lines(self, data: bytes) -> StagedLines:
        self._ready()
        path = self.directory / self.LINES
        with path.open("ab") as handle:  # opened per study: an open file would outlive a failed batch
            handle.write(data)
        staged = StagedLines(str(path), self.lines_size, len(data))
        self.lines_size += len(data)
        return staged


@dataclass
class RejectedSource:
    """An input of which nothing could be read, or one record of it (``record``) that could not."""

    source: str
    reason: str
    issues: list[Issue] = field(default_factory=list)
    record: int | None = None


def last_update(study: Study) -> tuple[str | None, str | None]:
    """The record's last update, posted and submitted: which of two records of one study is
    newer (``flows.settle.Rank``). Formats say one or both: a CSV export the posted date, a
    2016-era public XML the submitted one (``lastchanged_date``), API v2 both."""
    return study.status.last_update_post_date, study.status.last_update_submit_date


def entry_of(result: StudyExport | RejectedSource) -> ReportEntry:
    if isinstance(result, RejectedSource):
        issue = Issue(severity="error", code="input-rejected", message=result.reason)
        return ReportEntry(
            source=result.source,
            record=result.record,
            status=Status.REJECTED,
            issues=[*result.issues, issue],
        )
    study = result.study
    provenance = study.provenance
    outputs = sorted(result.files)
    return ReportEntry(
        source=provenance.source,
        record=provenance.record,
        key=result.key,
        identifier=study.identifiers[0].value if study.identifiers else None,
        title=study.brief_title or study.official_title,
        counts=Counts(arms=len(study.arms), outcomes=len(study.outcomes), sites=len(study.sites)),
        layout=provenance.layout,
        content_hash=provenance.content_hash,
        last_update=last_update(study)[0],
        last_update_submitted=last_update(study)[1],
        status=Status(result.status),
        outputs=outputs,
        bundle=next((name for name in outputs if bundle_version(name)), None),
        issues=list(result.issues),
    )


def stage_study(result: StudyExport | RejectedSource, stage: Stage, templates: str | None) -> MappedStudy:
    """A study's export once its files, NDJSON lines and report page are staged: all that is
    kept of it. The page is rendered here, where the study is still in memory."""
    entry = entry_of(result)
    study = result.canonical if isinstance(result, StudyExport) else None  # study.json's dict
    page = stage.put(render_study_page(study_view(entry, study), templates))
    if not isinstance(result, StudyExport):
        return MappedStudy(entry, page=page)
    files = {relative: stage.put(data) for relative, data in result.files.items()}
    lines: Lines = {
        rtype: stage.put_lines(b"".join(dump_json_line(r) for r in items))
        for rtype, items in result.resources.items()
    }
    return MappedStudy(entry, files, lines, page)


class InputTooLarge(Exception):
    """Raised by :func:`read_input`: the flow's triage and the export both read inputs, and only
    the export turns the size into a rejection."""

    def __init__(self, size: int):
        self.size = size


class LeavesInputs(Exception):
    """Raised by :func:`read_input`: the path is a link to a file outside the named inputs."""

    reason = "not read: a symbolic link that leads outside the inputs named to the run (InputTrees)"


def read_input(path: str, limit: int, trees: InputTrees | None = None) -> bytes:
    """An input's bytes, never more than ``limit`` + 1 of them: sized before a byte is read, so a
    huge file costs nothing. Raises OSError, InputTooLarge with the size found, or LeavesInputs.

    ``trees``: the named inputs the file must lie in (None: ``path`` was named itself). Checked
    before the file is opened (a link to a pipe elsewhere must not block the run), and again on
    the file opened, so that a link swapped in between is caught too."""
    real = os.path.realpath(path)
    if trees is not None and not trees.contain(real):
        raise LeavesInputs
    with open(path, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if trees is not None and (opened.st_dev, opened.st_ino) != _identity(real):
            raise LeavesInputs
        size = opened.st_size
        data = b"" if size > limit else handle.read(size + 1)  # +1: one growing meanwhile
        if size < len(data) <= limit:  # it did grow: the rest, still bounded (read(n) allocates n)
            data += handle.read(limit + 1 - len(data))
    if size > limit or len(data) > limit:
        raise InputTooLarge(max(size, len(data)))
    return data


def _identity(path: str) -> tuple[int, int]:
    there = os.stat(path)
    return there.st_dev, there.st_ino


def digest_of(path: str, limit: int, trees: InputTrees | None = None) -> str | None:
    """SHA-256 of an input's bytes; None when it cannot be read (the export says why)."""
    try:
        return hashlib.sha256(read_input(path, limit, trees)).hexdigest()
    except (OSError, InputTooLarge, LeavesInputs):
        return None


def is_unchanged(
    path: str, record: LedgerRecord, fp: str, settings: ExportSettings, trees: InputTrees | None = None
) -> bool:
    """Whether an input's ledger ``record`` still stands for it: decided in the flow process, so
    that an unchanged input costs a hash and no share of a task (a task run costs more than
    reusing a hundred inputs)."""
    digest = digest_of(path, settings.max_file_bytes, trees)
    return digest is not None and unchanged(record, digest, fp, Path(settings.output))


def export_input(
    path: str,
    settings: ExportSettings,
    mapping: MappingSettings,
    stage: Stage,
    trees: InputTrees | None = None,
) -> InputResult:
    def rejected(reason: str) -> InputResult:
        return InputResult(path, None, [stage_study(RejectedSource(path, reason), stage, settings.templates)])

    limit = settings.max_file_bytes
    try:
        data = read_input(path, limit, trees)
    except LeavesInputs:
        return rejected(LeavesInputs.reason)
    except OSError as exc:
        return rejected(f"cannot read file: {exc.strerror or exc}")
    except InputTooLarge as exc:
        return rejected(
            f"file too large: {exc.size} bytes, over the limit of {limit} bytes"
            " (max_file_bytes, TRIALEXPORT_MAX_FILE_BYTES)"
        )
    digest = hashlib.sha256(data).hexdigest()
    staged: list[MappedStudy] = []

    def keep(result: StudyExport | RejectedSource) -> None:
        staged.append(stage_study(result, stage, settings.templates))

    try:  # studies come one at a time, and are staged as they come: memory holds one at a time
        for item in iter_document(data, path, max_studies=settings.max_studies_per_file):
            if isinstance(item, RejectedRecord):
                keep(RejectedSource(path, item.reason, record=item.record))
            else:
                keep(export_study(item, mapping, settings.templates))
    except TooManyStudies as exc:  # not recorded in the ledger: under a raised limit it reads anew
        keep(RejectedSource(path, f"{exc.reason} (max_studies_per_file, TRIALEXPORT_MAX_STUDIES_PER_FILE)"))
        return InputResult(path, None, staged)
    except RejectedInput as exc:  # the rest of the input is unreadable; what was read stands
        keep(RejectedSource(path, exc.reason, exc.issues))
    return InputResult(path, digest, staged)


def export_or_report(
    path: str,
    settings: ExportSettings,
    mapping: MappingSettings,
    *,
    stage: Stage,
    logger: Logger,
    trees: InputTrees | None = None,
) -> InputResult:
    try:
        return export_input(path, settings, mapping, stage, trees)
    except Exception as exc:  # a bug must cost one input, not the batch: report it and go on
        logger.error(
            "internal error on %s: %s: %s", path, type(exc).__name__, exc, exc_info=logger.isEnabledFor(10)
        )
        reason = f"internal error: {type(exc).__name__}: {exc}"
        return InputResult(path, None, [stage_study(RejectedSource(path, reason), stage, settings.templates)])


def map_batch(
    paths: list[str], settings: ExportSettings, logger: Logger, trees: InputTrees | None = None
) -> list[InputResult]:
    """Read and map one batch of inputs to export, staging what they give; one log line.
    ``trees``: the inputs named to the run, which every file read must lie in."""
    started = time.perf_counter()
    mapping = settings.mapping()
    stage = Stage(settings.output)
    results = [
        export_or_report(path, settings, mapping, stage=stage, logger=logger, trees=trees) for path in paths
    ]
    entries = [e for r in results for e in r.entries]
    studies = sum(e.is_study for e in entries)
    exported = sum(e.status is Status.EXPORTED for e in entries)
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
    collector.settle()  # after the first batch: what the process loaded for good is loaded
    return results


def reuse(source: str, previous: LedgerRecord, root: Path) -> InputResult:
    """An unchanged input from the ledger: its entries as recorded, its NDJSON lines read back
    from the bundles on disk, so the run's NDJSON equals a full run's. Raises OSError or
    ValueError when an output was edited or damaged since (the input is then exported again)."""
    studies = []
    for number, entry in enumerate(previous.entries):
        grouped: dict[str, list[bytes]] = {}
        bundle = entry.bundle or next((o for o in entry.outputs if bundle_version(o)), None)
        if entry.status is Status.EXPORTED and bundle and number not in previous.lost:
            for rtype, items in bulk_resources(orjson.loads((root / bundle).read_bytes())).items():
                grouped.setdefault(rtype, []).extend(dump_json_line(item) for item in items)
        # kept in memory, not staged: a few kB a study, and a small file costs more than its bytes
        studies.append(MappedStudy(entry, lines={t: b"".join(lines) for t, lines in grouped.items()}))
    return InputResult(source, previous.sha256, studies, skipped=True, lost=list(previous.lost))
