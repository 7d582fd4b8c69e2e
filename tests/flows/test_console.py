"""What the console draws and how a command ends, without running anything: the progress bar
(a sync's fetch, then the export) and the sync's summary lines and exit codes."""

from __future__ import annotations

import io
import logging
from datetime import date

import pytest
from rich.console import Console

from flows import console as console_module
from flows.console import Presenter, ProgressBar
from flows.errors import ExitCode
from flows.records import (
    PublishBlock,
    PublishOutcome,
    PublishStatus,
    PublishTotals,
    ReportEntry,
    RunInfo,
    RunReport,
    Status,
    Totals,
)
from flows.run_report import write_run_report
from flows.sync.report import (
    ApiSection,
    FetchSection,
    RemovalCheck,
    Removed,
    Renamed,
    RequestsSection,
    RunSection,
    SyncReport,
    WatermarkSection,
    Window,
)
from mappers.model import Issue
from mappers.output_layout import REPORT


@pytest.fixture
def handler(monkeypatch):
    """A stand-in for Prefect's console handler, which the bar holds to warnings while drawn."""
    found = logging.StreamHandler(io.StringIO())
    found.setLevel(logging.INFO)
    monkeypatch.setattr(console_module, "prefect_console_handlers", lambda: [found])
    return found


def test_the_bar_counts_studies_fetched_of_those_expected_then_the_export_takes_over(handler):
    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=True, width=100), enabled=True)
    bar.fetch_started(20)
    assert handler.level == logging.WARNING  # INFO lines would tear the bar while it is drawn
    bar.fetched(6)
    bar.fetch_started(22)  # paging started again: the API's new count
    bar.fetched(16)
    bar.start(300)  # the export begins: the fetch's bar is done, the export's drawn
    assert handler.level == logging.WARNING and not bar.fetching
    bar.advance(300, 290)
    bar.close()
    assert handler.level == logging.INFO
    drawn = screen.getvalue()
    assert "fetching" in drawn and "22/22" in drawn and "studies" in drawn
    assert "exporting" in drawn and "300/300" in drawn and "290 studies" in drawn


def test_a_short_export_after_a_fetch_draws_no_second_bar(handler):
    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=True, width=100), enabled=True)
    bar.fetch_started(2)
    bar.fetched(2)
    bar.start(2)  # two inputs: a bar would only flicker
    assert bar.bar is None and handler.level == logging.INFO
    bar.advance(2, 2)
    bar.close()
    assert "exporting" not in screen.getvalue()


@pytest.mark.parametrize(("terminal", "enabled"), [(False, True), (True, False)])
def test_no_bar_off_a_terminal_or_when_quiet(handler, terminal, enabled):
    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=terminal), enabled)
    bar.fetch_started(20)
    bar.fetched(20)
    bar.start(500)
    bar.advance(500, 500)
    bar.close()
    assert screen.getvalue() == ""


def run_report(rejected: int = 0, failed: int | None = None) -> RunReport:
    publish = None
    if failed is not None:
        publish = PublishBlock(
            server="http://fhir.test/fhir",
            started="2025-11-24T03:00:00+00:00",
            finished="2025-11-24T03:01:00+00:00",
            settings={},
            totals=PublishTotals(studies=3, published=3 - failed, sent=3 - failed, failed=failed),
        )
    return RunReport(
        run=RunInfo(started="s", finished="f", trialexport_version="0"),
        settings={"output": "out"},
        totals=Totals(inputs=3, studies=3, exported=3 - rejected, rejected=rejected, skipped=1),
        publish=publish,
    )


def sync_report(complete: bool = True, shortfall: int = 0, held: list[str] | None = None) -> SyncReport:
    return SyncReport(
        sync=RunSection(started="s", finished="f", trialexport_version="0"),
        api=ApiSection(url="http://127.0.0.1:1/api/v2", data_timestamp="2025-11-24T09:00:03"),
        query={},
        window=Window(mode="watermark", start=date(2025, 11, 20), previous_watermark=date(2025, 11, 21)),
        fetch=FetchSection(
            params={},
            pages=1,
            expected=3,
            fetched=3 - shortfall,
            shortfall=shortfall,
            new=["NCT09999901"],
            changed=["NCT06171568"],
            complete=complete,
            error=None if complete else "GET studies: HTTP 503: Service Unavailable",
        ),
        requests=RequestsSection(rate_limit=1.0, requests=2, retried=0, waited_seconds=0.0, faults={}),
        renamed=[
            Renamed(
                old="NCT03418623",
                current="NCT09999901",
                moved_to="sources/ctgov-superseded/NCT03418623.json",
                found_by="alias",
            )
        ],
        removed=RemovalCheck(
            checked=True,
            removed=[
                Removed(
                    nct_id="NCT05052671",
                    status="not-found",
                    source="sources/ctgov/NCT05052671.json",
                    reason="the registry no longer has this NCT number",
                )
            ],
        ),
        export=None,
        publish=None,
        watermark=WatermarkSection(
            previous=date(2025, 11, 21),
            current=date(2025, 11, 21) if held else date(2025, 11, 24),
            advanced=not held,
            held_because=held or [],
        ),
    )


def written(output, report: RunReport) -> RunReport:
    """``report`` as run-report.json in ``output``, with the entries its totals count."""
    rejected = [
        ReportEntry(
            source=f"sources/ctgov/NCT0000000{n}.json",
            status=Status.REJECTED,
            issues=[Issue(severity="error", code="x", message="unreadable")],
        )
        for n in range(report.totals.rejected)
    ]
    failed = PublishOutcome(status=PublishStatus.FAILED, reason="HTTP 500", attempts=1)
    published = [
        ReportEntry(
            source=f"sources/ctgov/NCT1000000{n}.json",
            key=f"NCT1000000{n}",
            status=Status.EXPORTED,
            publish=failed.to_json("http://fhir.test/fhir"),
        )
        for n in range(report.publish.totals.failed if report.publish else 0)
    ]
    write_run_report(output / REPORT, report, [*rejected, *published])
    return report


@pytest.mark.parametrize(
    ("fetch", "rejected", "failed", "code"),
    [
        ({}, 0, None, ExitCode.OK),
        ({}, 1, None, ExitCode.REJECTED),
        ({}, 1, 1, ExitCode.NOT_PUBLISHED),
        ({"complete": False}, 1, 1, ExitCode.FETCH_INCOMPLETE),  # wins over 4 and 3
        ({"shortfall": 1}, 0, None, ExitCode.FETCH_INCOMPLETE),
    ],
)
def test_exit_codes_put_an_incomplete_fetch_first(tmp_path, fetch, rejected, failed, code):
    presenter = Presenter(Console(file=io.StringIO()), quiet=True)
    report = written(tmp_path, run_report(rejected, failed))
    assert presenter.sync_done(sync_report(**fetch), report, tmp_path, failed is not None) == code


def test_the_summary_names_renamed_and_removed_studies_and_why_the_watermark_stayed(tmp_path):
    screen = io.StringIO()
    held = ["1 studies fewer fetched than the API counted"]
    code = Presenter(Console(file=screen, width=300)).sync_done(
        sync_report(shortfall=1, held=held), run_report(), tmp_path, published=False
    )
    assert code == ExitCode.FETCH_INCOMPLETE
    lines = screen.getvalue().splitlines()
    assert lines[0] == (
        "2 of 3 studies fetched (1 new, 1 changed, 0 unchanged) in 1 page from http://127.0.0.1:1/api/v2 "
        f"(data of 2025-11-24T09:00:03); records in {tmp_path}/sources/ctgov/"
    )
    assert lines[1] == "shortfall: 1 studies fewer than the API counted"
    assert lines[2].startswith("renamed: NCT03418623 is now NCT09999901: stored under the new id")
    assert lines[3] == (
        "no longer returned: 1 stored studies: NCT05052671 (the registry no longer has this NCT number); "
        "kept and still exported (sync-report.json lists them)"
    )
    assert lines[4] == "watermark held at 2025-11-21: 1 studies fewer fetched than the API counted"
    assert lines[5] == (
        f"3 studies read: 3 exported (1 unchanged), 0 rejected. Outputs in {tmp_path}/ "
        f"({REPORT}, sync-report.json)"
    )


def test_quiet_says_only_why_the_fetch_stopped(tmp_path):
    screen = io.StringIO()
    held = ["the fetch did not complete"]
    Presenter(Console(file=screen, width=300), quiet=True).sync_done(
        sync_report(complete=False, held=held), run_report(), tmp_path, published=False
    )
    assert screen.getvalue().splitlines() == ["fetch stopped: GET studies: HTTP 503: Service Unavailable"]
