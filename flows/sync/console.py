"""What ``trialexport sync`` shows and how it ends: a bar of studies fetched / expected while the
registry is paged (then the export's own bar), the summary lines, the exit code, and the served
form (a Prefect deployment on a cron schedule).

Exit codes add one to the command line's: 5, the sync did not fetch everything it should have
(the API failed past its retries, or gave fewer studies than it counted); the watermark stayed,
and the next sync asks again. It wins over 4 (publish) and 3 (rejects), which keep their meaning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flows.export import REPORT_NAME
from flows.sync.store import SYNC_REPORT_NAME

EXIT_SYNC_INCOMPLETE = 5
MAX_SHOWN = 10  # studies named on one console line; sync-report.json names them all


class SyncProgress:
    """``flows.progress`` listener for a sync: its own bar while fetching (studies fetched of the
    count the API gave), then ``export_bar`` (the ``run`` command's) for the export."""

    def __init__(self, console: Console, enabled: bool, export_bar, prefect_handlers):
        self.console = console
        self.enabled = enabled
        self.export_bar = export_bar
        self._handlers = prefect_handlers  # () -> Prefect's console handlers, held down while drawn
        self.bar: Progress | None = None
        self._levels: list[tuple[logging.Handler, int]] = []

    def fetch_started(self, expected: int | None) -> None:
        if not self.enabled or not self.console.is_terminal:
            return
        if self.bar is not None:  # paging started again: the API's new count
            self.bar.update(self.task, total=expected)
            return
        self.bar = Progress(
            TextColumn("fetching"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("studies"),
            TimeElapsedColumn(),
            console=self.console,
            redirect_stdout=False,  # stdout may be carrying --json
        )
        self.task = self.bar.add_task("fetch", total=expected)
        self._levels = [(h, h.level) for h in self._handlers()]
        for handler, level in self._levels:
            handler.setLevel(max(level, logging.WARNING))
        self.bar.start()

    def fetched(self, studies: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=studies)

    def start(self, total_inputs: int) -> None:
        self._close_fetch()
        self.export_bar.start(total_inputs)

    def advance(self, inputs: int, studies: int) -> None:
        self.export_bar.advance(inputs, studies)

    def _close_fetch(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        for handler, level in self._levels:
            handler.setLevel(level)
        self._levels = []

    def close(self) -> None:
        self._close_fetch()
        self.export_bar.close()


def _names(keys: list[str]) -> str:
    more = f" and {len(keys) - MAX_SHOWN} more" if len(keys) > MAX_SHOWN else ""
    return ", ".join(keys[:MAX_SHOWN]) + more


def print_summary(console: Console, report: dict, output: Path) -> None:
    """The sync's lines (the export's and publish's follow, as ``run`` prints them)."""
    fetch, api, mark = report["fetch"], report["api"], report["watermark"]
    expected = fetch["expected"] if fetch["expected"] is not None else "?"
    pages = f"{fetch['pages']} page{'s' if fetch['pages'] != 1 else ''}"
    console.print(
        f"{fetch['fetched']} of {expected} studies fetched ({len(fetch['new'])} new, "
        f"{len(fetch['changed'])} changed, {fetch['unchanged']} unchanged) in {pages} from {api['url']}"
        f" (data of {api['data_timestamp'] or 'unknown date'}); records in {output / 'sources' / 'ctgov'}/",
        soft_wrap=True,
    )
    if fetch["error"]:
        console.print(f"[red]fetch stopped:[/red] {fetch['error']}", soft_wrap=True)
    if fetch["shortfall"]:
        console.print(
            f"[red]shortfall:[/red] {fetch['shortfall']} studies fewer than the API counted", soft_wrap=True
        )
    for renamed in report["renamed"]:
        console.print(
            f"[yellow]renamed:[/yellow] {renamed['old']} is now {renamed['current']}: stored under the new "
            f"id, the old record moved to {renamed['moved_to']}; what was exported or published under "
            f"{renamed['old']} is left as it is",
            soft_wrap=True,
        )
    removal = report["removed"]
    if removal and not removal["checked"]:
        console.print(f"[yellow]removed studies not checked:[/yellow] {removal['reason']}", soft_wrap=True)
    elif removal and removal["removed"]:
        gone = [f"{r['nct_id']} ({r['reason']})" for r in removal["removed"]]
        console.print(
            f"[yellow]no longer returned:[/yellow] {len(gone)} stored studies: {_names(gone)}; "
            "kept and still exported (sync-report.json lists them)",
            soft_wrap=True,
        )
    if mark["advanced"]:
        was = f" (was {mark['previous']})" if mark["previous"] else ""
        console.print(
            f"watermark {mark['current']}{was}: the next sync asks from the day before", soft_wrap=True
        )
    else:
        console.print(
            f"[red]watermark held[/red] at {mark['current'] or 'none (everything is asked again)'}: "
            f"{'; '.join(mark['held_because'])}",
            soft_wrap=True,
        )


def exit_code(report: dict, rejects: int, publish_failures: int) -> int:
    from flows.cli import EXIT_PUBLISH, EXIT_REJECTS

    fetch = report["fetch"]
    if not fetch["complete"] or fetch["shortfall"]:
        return EXIT_SYNC_INCOMPLETE
    if publish_failures:
        return EXIT_PUBLISH
    return EXIT_REJECTS if rejects else 0


def json_summary(report: dict, output: Path) -> dict:
    return {
        **report,
        "output": str(output),
        "report": str(output / SYNC_REPORT_NAME),
        "run_report": str(output / REPORT_NAME),
    }


def serve(cron: str, name: str, parameters: dict, secret_block: str | None) -> None:
    """The sync as a deployment of this process, on ``cron`` (UTC), until Ctrl-C; paths absolute,
    so that a run started from the UI does not depend on where this was started."""
    from prefect.schedules import Cron

    from flows.sync.flow import sync_trials

    if secret_block:  # read by the publish settings inside every flow run this process starts
        os.environ["TRIALEXPORT_FHIR_SECRET_BLOCK"] = secret_block
    sync_trials.serve(
        name=name,
        schedules=[Cron(cron, timezone="UTC")],
        parameters=parameters,
        limit=1,  # two syncs into one directory would interleave their records and outputs
        tags=["trialexport"],
    )
