"""Carrying out what the settler decided: the output directory, the NDJSON files, the report
spool and the export ledger. No Prefect here: the file writes go through the callable the flow
passes (a retried Prefect task), and everything else happens in the flow process.

Order within a window: the spool (a scratch file), then every file into place, then the NDJSON
lines, and last the ledger commit. A run killed at any point therefore leaves a ledger that
describes only files already on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from flows import Logger
from flows.incremental import ExportLedger
from flows.output import NdjsonWriter, remove_tree, write_atomic
from flows.records import Lines, RemovedInput, ReportEntry, RunInfo, RunReport, Status, Totals
from flows.report import page_from_disk, remove_stale_pages, render_study_page, study_view, write_index
from flows.run_report import StudySpool, write_run_report
from flows.settings import UNCONFIGURED_ORG, ExportSettings
from flows.settle import (
    Append,
    Claim,
    Fill,
    Forget,
    Page,
    Prune,
    Record,
    SetLost,
    Settlement,
    Spool,
    demoted,
)
from mappers.fhir_package import package_archive
from mappers.output_layout import FHIR_PACKAGE, NDJSON, REPORT, STAGING, STUDIES

Write = tuple[str, bytes | str]  # (target relative to the output directory, its bytes or staged file)
MAX_ARTIFACT_REJECTS = 100  # the Prefect artifact is read in the UI; the report file has them all


class RunWriter:
    def __init__(
        self,
        settings: ExportSettings,
        ledger: ExportLedger,
        fingerprint: str,
        write: Callable[[list[Write]], object],
    ):
        self.settings = settings
        self.root = Path(settings.output)
        self.ledger = ledger
        self.fingerprint = fingerprint
        self.write = write
        self.ndjson = NdjsonWriter(self.root / NDJSON)
        self.ndjson.start()
        self.spool = StudySpool(self.root)  # the run's entries wait on disk, not in memory
        self.rejected: list[ReportEntry] = []  # the first few, for the Prefect artifact

    def apply(self, settlement: Settlement) -> None:
        demoted_pages = self._spool(settlement)
        writes: list[Write] = [(move.target, move.staged) for move in settlement.moves]
        writes += [w for page in settlement.pages if (w := self._page(page)) is not None]
        writes += demoted_pages  # last: an entry demoted in its own window had its page just above
        if writes:  # a window of unchanged inputs has nothing to write, and needs no task
            self.write(writes)
        for prune in settlement.prunes:
            self._prune(prune)
        for op in settlement.ndjson:
            if isinstance(op, Append):
                block = self.ndjson.append(_lines(op.lines))
                assert block == op.block, "the settler and the NDJSON writer count blocks alike"
            elif isinstance(op, Fill):
                self.ndjson.fill(op.block, _lines(op.lines))
            else:
                self.ndjson.drop(op.block)
        for change in settlement.ledger:
            self._record(change)
        self.ledger.flush()

    def _spool(self, settlement: Settlement) -> list[Write]:
        """The entries into the spool; the pages of entries demoted after the fact."""
        pages: list[Write] = []
        for op in settlement.spool:
            if isinstance(op, Spool):
                number = self.spool.append(op.entry)
                assert number == op.number, "the settler and the spool count entries alike"
            else:
                entry = demoted(self.spool.read(op.number), Claim.SUPERSEDED, op.message)
                self.spool.replace(op.number, entry)
                pages.append(
                    (entry.page or "", render_study_page(study_view(entry, None), self.settings.templates))
                )
        return pages

    def _page(self, page: Page) -> Write | None:
        if page.staged is not None:
            return page.page, page.staged
        assert page.entry is not None
        if not page.force and (self.root / page.page).is_file():
            return None  # the page an earlier run wrote says all this already
        return page.page, page_from_disk(self.root, page.entry, self.settings.templates)

    def _prune(self, prune: Prune) -> None:
        keep = {self.root / output for output in self.spool.read(prune.holder).outputs}
        folder = self.root / STUDIES / prune.key
        for path in folder.iterdir() if folder.is_dir() else ():
            if path.is_file() and path not in keep and not path.name.startswith("."):
                path.unlink()

    def _record(self, change: Record | SetLost | Forget) -> None:
        if isinstance(change, Record):
            self.ledger.record(change.source, change.sha256, self.fingerprint, change.entries, change.lost)
        elif isinstance(change, SetLost):
            self.ledger.set_lost(change.source, change.lost)
        else:
            self.ledger.forget(change.source)

    def entries(self) -> Iterator[ReportEntry]:
        """The run's entries as settled, in run order."""
        for entry in self.spool:
            if entry.status is Status.REJECTED and len(self.rejected) < MAX_ARTIFACT_REJECTS:
                self.rejected.append(entry)
            yield entry

    def _write_fhir_package(self) -> str | None:
        """The project's FHIR package for the run's release beside the bundles (every extension
        they use is defined in it), the same bytes every run; the package of another release or
        version left by an earlier run is removed, so the directory holds the one that applies."""
        directory = self.root / FHIR_PACKAGE
        if "fhir" not in self.settings.formats:
            return None
        name, data = package_archive(self.settings.fhir_version.lower())
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.tgz"):
            if old.name != name:
                old.unlink()
        write_atomic(directory / name, data)
        return f"{FHIR_PACKAGE}/{name}"

    def finish(
        self,
        started: datetime,
        totals: Totals,
        removed: list[RemovedInput],
        pages: set[str],
        request: str,
        logger: Logger,
    ) -> RunReport:
        """The NDJSON files and their manifest, ``run-report.json``, ``index.html``."""
        bulk = self.ndjson.finish(started.isoformat(timespec="seconds"), request)
        report = RunReport(
            fhir_package=self._write_fhir_package(),
            run=RunInfo(
                started=started.isoformat(timespec="seconds"),
                finished=datetime.now(UTC).isoformat(timespec="seconds"),
                trialexport_version=version("trialexport"),
            ),
            settings=self.settings.model_dump(),
            totals=totals,
            bulk=bulk,
            removed=removed,
        )
        if self.settings.prs_org_name == UNCONFIGURED_ORG and "prs" in self.settings.formats:
            report.warnings.append(
                "prs_org_name is not configured (TRIALEXPORT_PRS_ORG_NAME): PRS XML says UNCONFIGURED"
            )
        write_run_report(self.root / REPORT, report, self.entries())
        for gone in removed:
            self.ledger.forget(gone.source)
        self.ledger.close()
        write_index(self.root, report, iter(self.spool))
        remove_stale_pages(self.root, pages)
        self.spool.close()
        remove_tree(self.root / STAGING)
        logger.info("HTML report: %s (%d study pages)", self.root / "index.html", self.spool.count)
        return report

    def abort(self) -> None:
        """What was written so far is on record: the next run does not export it again."""
        self.ledger.close()


def _lines(lines: Lines) -> dict[str, bytes]:
    """NDJSON lines as bytes: staged ones read, or already bytes (an input reused from the ledger)."""
    return {t: data if isinstance(data, bytes) else data.read() for t, data in lines.items()}
