"""One export run over its inputs, without Prefect: windows to map, collecting what a window
gave, finishing. The flow (``flows.export``) drives it with Prefect tasks; tests and benchmarks
drive it with plain calls (:func:`drive`), through the same code.

Tasks work on batches, never on single studies: a Prefect task costs 60-90 ms here while a
study's whole mapping costs a few milliseconds.

The skip of unchanged inputs is decided here, in the flow process, not with Prefect's task
cache: hashing an input costs microseconds, a task run 60-90 ms. Inputs are taken in windows of
consecutive inputs; a window closes once it holds a batch of inputs to export, or
``WINDOW_BATCHES`` batches' worth of inputs in all. Its unchanged inputs are reused here, the
rest go to one export task: a daily change set of 1 % costs one task per thousand inputs, not
one per batch. A full run's windows are its batches.
"""

from __future__ import annotations

import logging
import shlex
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from flows import Logger, collector, progress
from flows.batch import InputTrees, Stage, discover, export_or_report, is_unchanged, map_batch, reuse
from flows.incremental import ExportLedger, fingerprint
from flows.output import remove_tree, write_files
from flows.records import InputResult, LedgerRecord, RemovedInput, RunReport
from flows.settings import ExportSettings
from flows.settle import Settler
from flows.writer import RunWriter, Write
from mappers.output_layout import STAGING

# A window of a rerun holds at most this many batches' worth of inputs (their ledger records wait
# in memory until it is settled): one export task per thousand inputs at a 1 % change rate.
WINDOW_BATCHES = 5


class Pending(Protocol):
    def result(self) -> list[InputResult]: ...


@dataclass
class Window:
    """Consecutive inputs settled together: ``todo`` go to one export task, ``reused`` (unchanged
    since the last run) are taken from the ledger here."""

    paths: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    reused: dict[str, LedgerRecord] = field(default_factory=dict)


class ExportRun:
    def __init__(
        self,
        settings: ExportSettings,
        inputs: list[str],
        *,
        full: bool,
        logger: Logger,
        write: Callable[[list[Write]], object],
    ):
        self.settings = settings
        self.full = full
        self.logger = logger
        self.started = datetime.now(UTC)
        self.root = Path(settings.output)
        self.request = shlex.join(["trialexport", "run", *inputs, "--fhir-version", settings.fhir_version])
        self.paths = discover(inputs)
        self.trees = InputTrees.of(inputs)  # every file read lies in one (symbolic links)
        self.ledger = ExportLedger.in_output(self.root)
        self.fingerprint = fingerprint(settings.mapping(), settings.templates)
        current = set(self.paths)
        self.removed = [
            RemovedInput(source=source, outputs=self.ledger.outputs(source))
            for source in self.ledger.sources()
            if source not in current
        ]
        remove_tree(self.root / STAGING)  # a killed run's
        self.settler = Settler()
        self.writer = RunWriter(settings, self.ledger, self.fingerprint, write)
        self.skipped = 0
        logger.info(
            "%d inputs, batches of %d, %s; %d inputs of the last run are gone",
            len(self.paths),
            settings.batch_size,
            "everything exported (full)" if full else "unchanged inputs skipped",
            len(self.removed),
        )
        progress.start(len(self.paths))

    def windows(self) -> Iterator[Window]:
        batch = self.settings.batch_size
        window = Window()
        for start in range(0, len(self.paths), batch):
            chunk = self.paths[start : start + batch]
            previous = {} if self.full else self.ledger.get_many(chunk)
            for path in chunk:
                window.paths.append(path)
                record = previous.get(path)
                if record is not None and is_unchanged(
                    path, record, self.fingerprint, self.settings, self.trees
                ):
                    window.reused[path] = record
                else:
                    window.todo.append(path)
                if len(window.todo) >= batch or len(window.paths) >= WINDOW_BATCHES * batch:
                    yield window
                    window = Window()
        if window.paths:
            yield window

    def export_here(self, path: str) -> InputResult:
        """An input mapped in the flow process: too few to be worth a task."""
        stage = Stage(self.settings.output)
        return export_or_report(
            path, self.settings, self.settings.mapping(), stage=stage, logger=self.logger, trees=self.trees
        )

    def _reuse(self, path: str, record: LedgerRecord) -> InputResult:
        try:
            return reuse(path, record, self.root)
        except (OSError, ValueError, KeyError, TypeError):
            return self.export_here(path)  # an output edited or damaged since: export it again

    def collect(self, window: Window, exported: list[InputResult]) -> None:
        """Settle a window in input order, so that outputs and report are deterministic."""
        mapped = dict(zip(window.todo, exported, strict=True))
        results = [mapped[p] if p in mapped else self._reuse(p, window.reused[p]) for p in window.paths]
        self.writer.apply(self.settler.settle(results))
        self.skipped += sum(r.skipped for r in results)
        _remove_stages(results)  # the window is settled: nothing it staged is needed
        if window.reused:
            self.logger.info(
                "%d inputs settled: %d unchanged (reused), %d exported",
                len(results),
                sum(r.skipped for r in results),
                sum(not r.skipped for r in results),
            )
        progress.advance(len(results), sum(e.is_study for r in results for e in r.entries))
        # the flow process too, when workers elsewhere map: Prefect's client and the run's
        # state are loaded for good after the first window (flows.collector)
        collector.settle()

    def finish(self) -> RunReport:
        for source, numbers in self.settler.pending().items():
            # still holding an identifier whose files on disk are another input's: exported again
            result = self.export_here(source)
            self.writer.apply(self.settler.resolve(result, numbers))
            _remove_stages([result])
        self.writer.apply(self.settler.finish())
        totals = self.settler.totals.model_copy(
            update={"inputs": len(self.paths), "skipped": self.skipped, "removed": len(self.removed)}
        )
        report = self.writer.finish(
            self.started, totals, self.removed, self.settler.pages, self.request, self.logger
        )
        self.logger.info(
            "%d studies read, %d exported, %d rejected, %d superseded, %d inputs unchanged (skipped); "
            "outputs in %s",
            totals.studies,
            totals.exported,
            totals.rejected,
            totals.superseded,
            totals.skipped,
            self.root,
        )
        return report

    def abort(self) -> None:
        self.writer.abort()


def _remove_stages(results: list[InputResult]) -> None:
    """The staging directories of these results (other windows' may still be in use)."""
    for stage in {Path(s.page).parent for r in results for s in r.studies if s.page}:
        remove_tree(stage)


def drive(run: ExportRun, submit: Callable[[list[str]], Pending], slots: int) -> RunReport:
    """Submit each window's inputs to export, keep ``slots`` windows in flight, collect them in
    order. Bounded, so memory does not grow with the corpus: a finished window waiting to be
    collected holds its entries here and its files in the staging directory."""
    in_flight: deque[tuple[Window, Pending | None]] = deque()
    try:
        for window in run.windows():
            in_flight.append((window, submit(window.todo) if window.todo else None))
            while in_flight and (len(in_flight) >= slots or in_flight[0][1] is None):
                done, pending = in_flight.popleft()
                run.collect(done, pending.result() if pending else [])
        while in_flight:
            done, pending = in_flight.popleft()
            run.collect(done, pending.result() if pending else [])
        return run.finish()
    except BaseException:  # what was written so far is not exported again by the next run
        run.abort()
        raise


class Done:
    """A batch already mapped: :func:`drive` without a task runner (tests, benchmarks)."""

    def __init__(self, results: list[InputResult]):
        self._results = results

    def result(self) -> list[InputResult]:
        return self._results


def export_in_process(settings: ExportSettings, inputs: list[str], *, full: bool = False) -> RunReport:
    """The whole run in this process and thread, without Prefect: the same windows, settling and
    writing as the flow, with each batch mapped where it is submitted."""
    logger = logging.getLogger("trialexport")
    run = ExportRun(
        settings, inputs, full=full, logger=logger, write=lambda files: write_files(files, settings.output)
    )
    return drive(run, lambda todo: Done(map_batch(todo, settings, logger, run.trees)), slots=1)
