"""What the command line prints: summaries for people on stderr, one JSON object for scripts on
stdout, one line per error, and a progress bar on long runs. Nothing here runs anything;
``flows.cli`` wires the commands.

Entries are read back from ``run-report.json`` as a stream (``flows.run_report``), never whole:
a registry-sized run's failures are listed without its report in memory.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from flows.errors import ExitCode
from mappers.output_layout import INDEX_PAGE, NDJSON_MANIFEST, REPORT, SOURCES, SYNC_REPORT

if TYPE_CHECKING:  # imported where used: an error line must not wait for the models
    from flows.records import PublishOutcome, ReportEntry, RunReport
    from flows.sync.report import FetchSection, RemovalCheck, SyncReport
    from mappers.model import Issue

MAX_KEYS_SHOWN = 10  # studies named on one console line; the reports name them all
# Below this many inputs an export takes seconds, and a bar would only flicker.
PROGRESS_MIN_INPUTS = 200


def prefect_console_handlers() -> list[logging.Handler]:
    """Prefect's handlers that write to the terminal (its API handler, the UI's logs, is not one)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    found = {id(h): h for lg in loggers for h in lg.handlers if isinstance(h, PrefectConsoleHandler)}
    return list(found.values())


class ProgressBar:
    """``flows.progress`` listener: a bar on stderr, of studies fetched / expected while a sync
    pages the registry, then of inputs done (and studies read) while the export runs.

    While a bar is drawn, Prefect's console logs are held to warnings: its handler writes to the
    terminal directly and each INFO line would tear the bar; the lines it hides are still in the
    Prefect UI's run logs."""

    def __init__(self, console: Console, enabled: bool):
        self.console = console
        self.enabled = enabled
        self.bar: Progress | None = None
        self.task = TaskID(0)
        self.fetching = False
        self.studies = 0
        self._levels: list[tuple[logging.Handler, int]] = []

    def fetch_started(self, expected: int | None) -> None:
        """A sync asked the registry; again when paging starts over (the API's new count)."""
        if self.bar is not None and self.fetching:
            self.bar.update(self.task, total=expected)
        elif self.enabled and self.console.is_terminal:
            self._draw("fetching", "studies", expected)
            self.fetching = True

    def fetched(self, studies: int) -> None:
        if self.bar is not None and self.fetching:
            self.bar.update(self.task, advance=studies)

    def start(self, total_inputs: int) -> None:
        self.close()  # a sync's fetch is over
        if self.enabled and total_inputs > PROGRESS_MIN_INPUTS and self.console.is_terminal:
            self._draw("exporting", "inputs, {task.fields[studies]} studies", total_inputs)

    def advance(self, inputs: int, studies: int) -> None:
        if self.bar is not None and not self.fetching:
            self.studies += studies
            self.bar.update(self.task, advance=inputs, studies=self.studies)

    def _draw(self, doing: str, counted: str, total: int | None) -> None:
        self.bar = Progress(
            TextColumn(doing),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(counted),
            TimeElapsedColumn(),
            console=self.console,
            redirect_stdout=False,  # stdout may be carrying --json
        )
        self.task = self.bar.add_task(doing, total=total, studies=0)
        self._levels = [(h, h.level) for h in prefect_console_handlers()]
        for handler, level in self._levels:
            handler.setLevel(max(level, logging.WARNING))
        self.bar.start()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        self.fetching = False
        for handler, level in self._levels:
            handler.setLevel(level)
        self._levels = []


def _names(keys: list[str]) -> str:
    """At most MAX_KEYS_SHOWN of ``keys``, and how many more."""
    left = len(keys) - MAX_KEYS_SHOWN
    return ", ".join(keys[:MAX_KEYS_SHOWN]) + (f" and {left} more" if left > 0 else "")


@dataclass
class _Findings:
    """What the console says about a run's entries, gathered in one pass over the report."""

    rejected: list[ReportEntry] = field(default_factory=list)
    failed: list[tuple[str, PublishOutcome]] = field(default_factory=list)  # not published

    @property
    def tried(self) -> list[tuple[str, PublishOutcome]]:
        return [(key, outcome) for key, outcome in self.failed if not outcome.not_sent]

    @property
    def not_sent(self) -> list[tuple[str, PublishOutcome]]:
        return [(key, outcome) for key, outcome in self.failed if outcome.not_sent]


def _findings(output: Path, publish: bool) -> _Findings:
    """Rejected entries (typed), and the studies not published: one pass over the report, each
    entry looked at by its status and publish section, typed only when it is listed."""
    from flows.records import PublishOutcome, ReportEntry
    from flows.run_report import read_report_json

    found = _Findings()
    for entry in read_report_json(output / REPORT)[1]:
        if entry.get("status") == "rejected":
            found.rejected.append(ReportEntry.from_json(entry))
        section = entry.get("publish") if publish else None
        if section and section.get("status") == "failed" and entry.get("key"):
            found.failed.append((entry["key"], PublishOutcome.from_json(section)))
    return found


def _listed(report: RunReport, output: Path, published: bool) -> _Findings:
    """The entries the console names, read only when the totals say there are some."""
    failed = published and report.publish is not None and report.publish.totals.failed
    return _findings(output, published) if report.totals.rejected or failed else _Findings()


class Presenter:
    def __init__(self, console: Console, quiet: bool = False, as_json: bool = False):
        self.console = console
        self.quiet = quiet
        self.as_json = as_json

    def print_json(self, data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def error(self, message: str) -> None:
        self.console.print(f"[red]error:[/red] {message}", soft_wrap=True, markup=True, highlight=False)

    def interrupted(self) -> None:
        self.console.print(
            "[red]interrupted[/red]: every file written is whole; the next run into the same"
            " output continues from them",
            soft_wrap=True,
        )

    # -- run -----------------------------------------------------------------------------------

    def run_done(self, report: RunReport, output: Path, published: bool) -> ExitCode:
        """The run's summary (and, after publishing, the publish summary); the exit code."""
        found = _listed(report, output, published)
        if self.as_json:
            self.print_json(self._run_summary(report, output, found))
        elif not self.quiet:
            totals = report.totals
            self._export_line(
                report, f"{totals.studies} studies read from {totals.inputs} inputs", output, (REPORT,)
            )
        return self._export_end(report, found, published)

    def _export_line(
        self, report: RunReport, read: str, output: Path, files: tuple[str, ...], unchanged: str = ""
    ) -> None:
        totals = report.totals
        colour = "red" if totals.rejected else "default"
        superseded = f", [yellow]{totals.superseded} superseded[/yellow]" if totals.superseded else ""
        self.console.print(
            f"{read}: [green]{totals.exported} exported[/green]{unchanged}, "
            f"[{colour}]{totals.rejected} rejected[/{colour}]{superseded}. "
            f"Outputs in {output}/ ({', '.join(files)})",
            soft_wrap=True,
        )
        for warning in report.warnings:
            self.console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)

    def _export_end(self, report: RunReport, found: _Findings, published: bool) -> ExitCode:
        """The lines of what went wrong (printed even with --quiet); the export's exit code."""
        if found.rejected and not self.as_json:
            rejected = [
                f"{e.source}{'#' + str(e.record) if e.record is not None else ''} ({e.error_reasons()})"
                for e in found.rejected
            ]
            self.console.print(f"[red]rejected:[/red] {'; '.join(rejected)}", soft_wrap=True)
        if published and self._publish_lines(report, found):
            return ExitCode.NOT_PUBLISHED
        return ExitCode.REJECTED if report.totals.rejected else ExitCode.OK

    def _run_summary(self, report: RunReport, output: Path, found: _Findings) -> dict[str, Any]:
        """``--json``'s object: run-report.json's totals, where everything is, what was rejected."""
        summary: dict[str, Any] = {
            "totals": report.totals.model_dump(),
            "output": str(output),
            "report": str(output / REPORT),
            "html": str(output / INDEX_PAGE),
            "bulk": [str(output / p) for p in report.bulk],
            "manifest": str(output / NDJSON_MANIFEST),
            "rejected": [
                {
                    "source": e.source,
                    **({"record": e.record} if e.record is not None else {}),
                    **({"key": e.key} if e.key else {}),
                    "reason": e.error_reasons(),
                }
                for e in found.rejected
            ],
            "warnings": report.warnings,
        }
        if report.publish is not None:
            summary["publish"] = self._publish_summary(report, found)
        return summary

    # -- publish -------------------------------------------------------------------------------

    def publish_done(self, report: RunReport, output: Path) -> ExitCode:
        found = _listed(report, output, published=True)
        if self.as_json:
            self.print_json({**self._publish_summary(report, found), "report": str(output / REPORT)})
        return ExitCode.NOT_PUBLISHED if self._publish_lines(report, found) else ExitCode.OK

    def _publish_summary(self, report: RunReport, found: _Findings) -> dict[str, Any]:
        assert report.publish is not None
        failed = [{"key": k, "reason": o.reason or "", "retry": o.transient} for k, o in found.failed]
        return {
            "server": report.publish.server,
            "totals": report.publish.totals.model_dump(),
            "failed": failed,
        }

    def _publish_lines(self, report: RunReport, found: _Findings) -> int:
        """The publish summary line (and the studies left behind); returns how many failed."""
        assert report.publish is not None
        section = report.publish
        totals = section.totals
        if not (self.quiet or self.as_json):
            colour = "red" if totals.failed else "default"
            split = f"{totals.split} split, " if totals.split else ""
            self.console.print(
                f"{totals.studies} studies: [green]{totals.published} published[/green] "
                f"({totals.sent} sent, {split}{totals.unchanged} unchanged), "
                f"[{colour}]{totals.failed} failed[/{colour}] on {section.server}",
                soft_wrap=True,
            )
        if self.as_json:
            return totals.failed
        if tried := found.tried:
            listed = "; ".join(f"{key} ({outcome.reason or ''})" for key, outcome in tried)
            self.console.print(f"[red]not published:[/red] {listed}", soft_wrap=True)
        if not_sent := found.not_sent:  # one reason for all of them: said once, not once a study
            keys = _names([key for key, _ in not_sent])
            self.console.print(
                f"[red]not sent:[/red] {len(not_sent)} studies ({keys}): "
                f"{not_sent[0][1].reason or ''}. `trialexport publish` on the same output sends them.",
                soft_wrap=True,
            )
        return totals.failed

    # -- sync ----------------------------------------------------------------------------------

    def sync_done(self, sync: SyncReport, report: RunReport, output: Path, published: bool) -> ExitCode:
        """What the sync fetched, then the export's (and publish's) summary; the exit code, where
        a fetch that fell short (5) wins over what the export and publish say."""
        found = _listed(report, output, published)
        if self.as_json:
            self.print_json(self._sync_summary(sync, report, output, found))
        else:
            self._fetch_lines(sync, output)
        if not (self.quiet or self.as_json):
            self._renamed_and_removed(sync)
            self._watermark_line(sync)
            totals = report.totals
            unchanged = f" ({totals.skipped} unchanged)"  # records the export's ledger skipped
            self._export_line(
                report, f"{totals.studies} studies read", output, (REPORT, SYNC_REPORT), unchanged
            )
        code = self._export_end(report, found, published)
        fetch = sync.fetch
        return ExitCode.FETCH_INCOMPLETE if not fetch.complete or fetch.shortfall else code

    def _sync_summary(
        self, sync: SyncReport, report: RunReport, output: Path, found: _Findings
    ) -> dict[str, Any]:
        """``--json``'s object: ``sync-report.json``, where things are, and what ``run --json``
        says of the export (``run``)."""
        return {
            **sync.model_dump(mode="json"),
            "output": str(output),
            "report": str(output / SYNC_REPORT),
            "run_report": str(output / REPORT),
            "run": self._run_summary(report, output, found),
        }

    def _fetch_lines(self, sync: SyncReport, output: Path) -> None:
        """What was fetched from where (not with --quiet), and why the fetch fell short (always)."""
        fetch, api = sync.fetch, sync.api
        if not self.quiet:
            pages = f"{fetch.pages} page{'s' if fetch.pages != 1 else ''}"
            expected = fetch.expected if fetch.expected is not None else "?"
            self.console.print(
                f"{fetch.fetched} of {expected} studies fetched ({len(fetch.new)} new, "
                f"{len(fetch.changed)} changed, {fetch.unchanged} unchanged) in {pages} from {api.url} "
                f"(data of {api.data_timestamp or 'unknown date'}); records in {output / SOURCES}/",
                soft_wrap=True,
            )
        for line in _fetch_problems(fetch):
            self.console.print(line, soft_wrap=True)

    def _renamed_and_removed(self, sync: SyncReport) -> None:
        for renamed in sync.renamed:
            self.console.print(
                f"[yellow]renamed:[/yellow] {renamed.old} is now {renamed.current}: stored under the new "
                f"id, the old record moved to {renamed.moved_to}; what was exported or published under "
                f"{renamed.old} is left as it is",
                soft_wrap=True,
            )
        if sync.removed is not None and (line := _removal_line(sync.removed)):
            self.console.print(line, soft_wrap=True)

    def _watermark_line(self, sync: SyncReport) -> None:
        mark = sync.watermark
        if mark.advanced:
            was = f" (was {mark.previous})" if mark.previous else ""
            line = f"watermark {mark.current}{was}: the next sync asks from the day before"
        else:
            line = (
                f"[red]watermark held[/red] at {mark.current or 'none (everything is asked again)'}: "
                f"{'; '.join(mark.held_because)}"
            )
        self.console.print(line, soft_wrap=True)

    # -- validate ------------------------------------------------------------------------------

    def validated(self, path: Path, issues: list[Issue]) -> None:
        invalid = any(i.severity == "error" for i in issues)
        if self.as_json or (self.quiet and not invalid):
            return
        mark = "[red]invalid[/red]" if invalid else "[green]valid[/green]"
        self.console.print(f"{mark} {path}", soft_wrap=True)
        for issue in issues:
            if self.quiet and issue.severity != "error":
                continue
            where = f" ({issue.field or issue.location})" if issue.field or issue.location else ""
            self.console.print(f"  {issue.severity} {issue.code}{where}: {issue.message}", soft_wrap=True)


def _fetch_problems(fetch: FetchSection) -> list[str]:
    lines = []
    if fetch.error:
        lines.append(f"[red]fetch stopped:[/red] {fetch.error}")
    if fetch.shortfall:
        lines.append(f"[red]shortfall:[/red] {fetch.shortfall} studies fewer than the API counted")
    return lines


def _removal_line(removal: RemovalCheck) -> str | None:
    if not removal.checked:
        return f"[yellow]removed studies not checked:[/yellow] {removal.reason}"
    if not removal.removed:
        return None
    gone = [f"{r.nct_id} ({r.reason})" for r in removal.removed]
    return (
        f"[yellow]no longer returned:[/yellow] {len(gone)} stored studies: {_names(gone)}; "
        f"kept and still exported ({SYNC_REPORT} lists them)"
    )
