"""What the command line prints: summaries for people on stderr, one JSON object for scripts on
stdout, one line per error. Nothing here runs anything; ``flows.cli`` wires the commands.

Entries are read back from ``run-report.json`` as a stream (``flows.run_report``), never whole:
a registry-sized run's failures are listed without its report in memory.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from flows.errors import ExitCode
from mappers.output_layout import INDEX_PAGE, NDJSON_MANIFEST, REPORT

if TYPE_CHECKING:  # imported where used: an error line must not wait for the models
    from flows.records import PublishOutcome, ReportEntry, RunReport
    from mappers.model import Issue

MAX_KEYS_SHOWN = 10  # studies named on one console line; run-report.json names them all


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
        totals = report.totals
        needs_entries = totals.rejected or (published and report.publish and report.publish.totals.failed)
        found = _findings(output, published) if needs_entries else _Findings()
        if self.as_json:
            self.print_json(self._run_summary(report, output, found))
        elif not self.quiet:
            colour = "red" if totals.rejected else "default"
            superseded = f", [yellow]{totals.superseded} superseded[/yellow]" if totals.superseded else ""
            self.console.print(
                f"{totals.studies} studies read from {totals.inputs} inputs: "
                f"[green]{totals.exported} exported[/green], "
                f"[{colour}]{totals.rejected} rejected[/{colour}]{superseded}. "
                f"Outputs in {output}/ ({REPORT})",
                soft_wrap=True,
            )
            for warning in report.warnings:
                self.console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
        if found.rejected and not self.as_json:
            rejected = [
                f"{e.source}{'#' + str(e.record) if e.record is not None else ''} ({e.error_reasons()})"
                for e in found.rejected
            ]
            self.console.print(f"[red]rejected:[/red] {'; '.join(rejected)}", soft_wrap=True)
        if published and self._publish_lines(report, found):
            return ExitCode.NOT_PUBLISHED
        return ExitCode.REJECTED if totals.rejected else ExitCode.OK

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
        failed = report.publish is not None and report.publish.totals.failed
        found = _findings(output, publish=True) if failed else _Findings()
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
            keys = ", ".join(key for key, _ in not_sent[:MAX_KEYS_SHOWN])
            left = len(not_sent) - MAX_KEYS_SHOWN
            more = f" and {left} more" if left > 0 else ""
            self.console.print(
                f"[red]not sent:[/red] {len(not_sent)} studies ({keys}{more}): "
                f"{not_sent[0][1].reason or ''}. `trialexport publish` on the same output sends them.",
                soft_wrap=True,
            )
        return totals.failed

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
