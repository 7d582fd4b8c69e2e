"""What ``trialexport sync`` draws and how it ends, without running a sync."""

from __future__ import annotations

import io
import logging

from rich.console import Console

from flows.sync.console import EXIT_SYNC_INCOMPLETE, SyncProgress, exit_code


class ExportBar:
    def __init__(self):
        self.calls = []

    def start(self, total_inputs):
        self.calls.append(("start", total_inputs))

    def advance(self, inputs, studies):
        self.calls.append(("advance", inputs, studies))

    def close(self):
        self.calls.append(("close",))


def test_the_bar_counts_studies_fetched_of_those_expected_then_hands_over_to_the_export():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    handler = logging.StreamHandler(io.StringIO())
    handler.setLevel(logging.INFO)
    export = ExportBar()
    bar = SyncProgress(console, True, export, lambda: [handler])
    bar.fetch_started(20)
    assert handler.level == logging.WARNING  # INFO lines would tear the bar while it is drawn
    bar.fetched(6)
    bar.fetched(14)
    bar.start(20)  # the export begins: the fetch's bar is done
    assert handler.level == logging.INFO
    bar.advance(20, 20)
    bar.close()
    drawn = screen.getvalue()
    assert "fetching" in drawn and "20/20" in drawn and "studies" in drawn
    assert export.calls == [("start", 20), ("advance", 20, 20), ("close",)]


def test_no_bar_off_a_terminal():
    screen = io.StringIO()
    bar = SyncProgress(Console(file=screen, force_terminal=False), True, ExportBar(), list)
    bar.fetch_started(20)
    bar.fetched(20)
    bar.close()
    assert screen.getvalue() == ""


def report(complete: bool = True, shortfall: int = 0) -> dict:
    return {"fetch": {"complete": complete, "shortfall": shortfall}}


def test_exit_codes_put_an_incomplete_fetch_first():
    assert exit_code(report(), 0, 0) == 0
    assert exit_code(report(), 2, 0) == 3
    assert exit_code(report(), 2, 1) == 4
    assert exit_code(report(complete=False), 2, 1) == EXIT_SYNC_INCOMPLETE == 5
    assert exit_code(report(shortfall=1), 0, 0) == 5
