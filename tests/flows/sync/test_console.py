"""What ``trialexport sync`` draws and how it ends, without running a sync."""

from __future__ import annotations

import io
import logging

from rich.console import Console

from flows.sync.console import EXIT_SYNC_INCOMPLETE, SyncProgress, exit_code, print_summary


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


def test_the_summary_names_renamed_and_removed_studies_and_why_the_watermark_stayed(tmp_path):
    screen = io.StringIO()
    sync_report = {
        "api": {"url": "http://127.0.0.1:1/api/v2", "data_timestamp": "2025-11-24T09:00:03"},
        "fetch": {
            "fetched": 2,
            "expected": 3,
            "new": ["NCT09999901"],
            "changed": ["NCT06171568"],
            "unchanged": 0,
            "pages": 1,
            "error": None,
            "shortfall": 1,
        },
        "renamed": [
            {
                "old": "NCT03418623",
                "current": "NCT09999901",
                "moved_to": "sources/ctgov-superseded/NCT03418623.json",
            }
        ],
        "removed": {
            "checked": True,
            "removed": [{"nct_id": "NCT05052671", "reason": "the registry no longer has this NCT number"}],
        },
        "watermark": {
            "previous": "2025-11-21",
            "current": "2025-11-21",
            "advanced": False,
            "held_because": ["1 studies fewer fetched than the API counted"],
        },
    }
    print_summary(Console(file=screen, width=300), sync_report, tmp_path)
    lines = screen.getvalue().splitlines()
    assert lines[0].startswith("2 of 3 studies fetched (1 new, 1 changed, 0 unchanged) in 1 page from")
    assert lines[1] == "shortfall: 1 studies fewer than the API counted"
    assert lines[2].startswith("renamed: NCT03418623 is now NCT09999901: stored under the new id")
    assert lines[3] == (
        "no longer returned: 1 stored studies: NCT05052671 (the registry no longer has this NCT number); "
        "kept and still exported (sync-report.json lists them)"
    )
    assert lines[4] == "watermark held at 2025-11-21: 1 studies fewer fetched than the API counted"
