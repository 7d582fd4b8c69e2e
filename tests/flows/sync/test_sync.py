"""The ``sync-trials`` flow against the stand-in API: first sync, incremental syncs, the watermark,
renamed and removed studies, and what a failed fetch leaves."""

from __future__ import annotations

import json
from datetime import date

import orjson
import pytest

from flows import progress
from flows.sync.flow import sync_trials
from flows.sync.store import load_state
from mappers.output_layout import REPORT, SOURCES, SUPERSEDED_SOURCES, SYNC_REPORT, SYNC_STATE
from tests.flows.sync.registry import fixture_studies, nct_of

pytestmark = pytest.mark.prefect

ALL = sorted(nct_of(s) for s in fixture_studies())
N = len(ALL)  # 22
CHANGED = ["NCT03475563", "NCT06171568"]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("TRIALEXPORT_SYNC_BASE_DELAY", "0.01")
    monkeypatch.setenv("TRIALEXPORT_SYNC_MAX_DELAY", "2")


def sync(registry, output, **options) -> dict:
    options = {"page_size": 6, "rate_limit": 1000.0, **options}
    return sync_trials(output=str(output), api_url=registry.url, **options)


def run_report(output) -> dict:
    return json.loads((output / REPORT).read_bytes())


def retitle(study: dict) -> None:
    study["protocolSection"]["identificationModule"]["briefTitle"] += " (amended)"


def next_day(registry, timestamp: str = "2025-11-24T09:00:03") -> None:
    registry.data_timestamp = timestamp


def test_a_first_sync_fetches_every_study_as_the_api_gave_it_and_exports_it(registry, tmp_path):
    out = tmp_path / "out"
    report = sync(registry, out)
    fetch = report["fetch"]
    assert (fetch["expected"], fetch["fetched"], fetch["pages"], fetch["shortfall"]) == (N, N, 4, 0)
    assert fetch["new"] == ALL and fetch["changed"] == [] and fetch["complete"]
    assert "filter.advanced" not in fetch["params"] and report["window"]["mode"] == "first"
    for study in fixture_studies():  # one file per study, the API's object byte for byte (compact)
        assert (out / SOURCES / f"{nct_of(study)}.json").read_bytes() == orjson.dumps(study)
    totals = run_report(out)["totals"]
    assert (totals["inputs"], totals["exported"], totals["rejected"]) == (N, N, 0)
    assert report["export"]["totals"] == totals and report["publish"] is None
    assert report["api"] == {
        "url": registry.url,
        "api_version": "2.0.5",
        "data_timestamp": "2025-11-21T09:00:05",
        "error": None,
    }
    assert report["watermark"] == {
        "previous": None,
        "current": "2025-11-21",
        "advanced": True,
        "held_because": [],
    }
    state = load_state(out)
    assert state.watermark == date(2025, 11, 21) and state.started is None and state.query == {}
    assert json.loads((out / SYNC_REPORT).read_bytes()) == report


def test_a_second_sync_fetches_and_reexports_only_the_two_changed_studies(registry, tmp_path):
    out = tmp_path / "out"
    sync(registry, out)
    before = {p.parent.name: p.stat().st_mtime_ns for p in (out / "studies").glob("*/study.json")}
    for nct in CHANGED:
        registry.update(nct, "2025-11-24", retitle)
    next_day(registry)
    report = sync(registry, out)
    fetch = report["fetch"]
    assert fetch["params"]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2025-11-20,MAX]"
    assert (fetch["expected"], fetch["fetched"], fetch["changed"], fetch["new"]) == (2, 2, CHANGED, [])
    assert report["window"] == {
        "mode": "watermark",
        "start": "2025-11-20",
        "previous_watermark": "2025-11-21",
        "notes": [],
    }
    totals = run_report(out)["totals"]
    assert (totals["inputs"], totals["exported"], totals["skipped"]) == (N, N, N - 2)  # from the ledger
    after = {p.parent.name: p.stat().st_mtime_ns for p in (out / "studies").glob("*/study.json")}
    assert sorted(k for k in after if after[k] != before[k]) == CHANGED
    for nct in CHANGED:
        written = json.loads((out / "studies" / nct / "study.json").read_bytes())
        assert written["brief_title"].endswith("(amended)")
    assert report["watermark"]["current"] == "2025-11-24" and report["watermark"]["advanced"]


def test_nothing_posted_since_fetches_nothing_and_moves_the_watermark_on(registry, tmp_path):
    out = tmp_path / "out"
    sync(registry, out)
    next_day(registry)
    report = sync(registry, out)
    assert (report["fetch"]["expected"], report["fetch"]["fetched"], report["fetch"]["pages"]) == (0, 0, 1)
    assert run_report(out)["totals"]["skipped"] == N
    assert report["watermark"]["current"] == "2025-11-24"


def test_since_and_full_override_the_watermark(registry, tmp_path):
    out = tmp_path / "out"
    sync(registry, out)
    since = sync(registry, out, since=date(2025, 9, 1))
    assert since["window"]["mode"] == "since"
    assert since["fetch"]["params"]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2025-09-01,MAX]"
    assert since["fetch"]["fetched"] == 4 and since["fetch"]["unchanged"] == 4
    full = sync(registry, out, full=True)
    assert full["window"]["mode"] == "full" and "filter.advanced" not in full["fetch"]["params"]
    assert full["fetch"]["fetched"] == N and full["fetch"]["unchanged"] == N
    assert full["removed"]["checked"] and full["removed"]["removed"] == []


def test_a_query_syncs_only_its_studies_and_a_changed_query_starts_afresh(registry, tmp_path):
    out = tmp_path / "out"
    report = sync(registry, out, condition="KRAS")
    assert report["fetch"]["params"]["query.cond"] == "KRAS" and report["fetch"]["fetched"] == 9
    assert report["query"] == {"query.cond": "KRAS"}
    other = sync(registry, out, query="cancer")
    assert other["window"]["mode"] == "first" and other["window"]["notes"]
    assert "query changed" in other["window"]["notes"][0]
    assert load_state(out).query == {"query.term": "cancer"}


def test_a_failed_fetch_holds_the_watermark_and_the_next_sync_completes_it(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALEXPORT_SYNC_ATTEMPTS", "2")
    monkeypatch.setenv("TRIALEXPORT_SYNC_TASK_RETRIES", "0")
    out = tmp_path / "out"
    sync(registry, out)
    for nct in CHANGED:
        registry.update(nct, "2025-11-24", retitle)
    next_day(registry)
    registry.inject("503", count=2)  # both tries of the first page
    failed = sync(registry, out, page_size=1)
    assert not failed["fetch"]["complete"] and "HTTP 503" in failed["fetch"]["error"]
    assert failed["watermark"] == {
        "previous": "2025-11-21",
        "current": "2025-11-21",
        "advanced": False,
        "held_because": [f"the fetch did not complete ({failed['fetch']['error']})"],
    }
    assert load_state(out).watermark == date(2025, 11, 21)
    done = sync(registry, out, page_size=1)
    assert done["fetch"]["changed"] == CHANGED and done["watermark"]["advanced"]
    assert done["window"]["start"] == "2025-11-20"  # asked again from the same place


def test_a_failure_mid_paging_keeps_what_was_fetched_and_asks_again(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALEXPORT_SYNC_ATTEMPTS", "1")
    monkeypatch.setenv("TRIALEXPORT_SYNC_TASK_RETRIES", "0")
    out = tmp_path / "out"

    def fail_after_the_first_page(logged) -> None:
        if logged.path == "studies" and "pageToken" not in logged.params:
            registry.inject("503", count=5)

    registry.on_request = fail_after_the_first_page
    first = sync(registry, out)
    registry.on_request = None
    registry.faults.clear()
    assert first["fetch"]["fetched"] == 6 and not first["fetch"]["complete"]
    assert run_report(out)["totals"]["exported"] == 6  # what was fetched is exported all the same
    assert first["watermark"]["current"] is None and load_state(out).watermark is None
    second = sync(registry, out)
    assert second["window"]["mode"] == "first" and second["fetch"]["fetched"] == N
    assert second["fetch"]["unchanged"] == 6 and len(second["fetch"]["new"]) == N - 6


def test_task_retries_go_on_from_the_page_that_failed(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALEXPORT_SYNC_ATTEMPTS", "1")
    monkeypatch.setenv("TRIALEXPORT_SYNC_TASK_RETRIES", "2")
    monkeypatch.setenv("TRIALEXPORT_SYNC_PAGES_PER_TASK", "2")
    out = tmp_path / "out"
    registry.inject("503")
    registry.inject("drop")
    report = sync(registry, out)
    assert report["fetch"]["complete"] and report["fetch"]["fetched"] == N
    assert report["fetch"]["duplicates"] == 0 and report["watermark"]["advanced"]
    assert report["requests"]["faults"] == {"HTTP 503": 1, "RemoteProtocolError": 1}
    assert [r.status for r in registry.log if r.path == "studies"] == [503, None, 200, 200, 200, 200]


def test_a_study_missed_while_paging_is_a_shortfall_that_holds_the_watermark(registry, tmp_path):
    """A record leaves the registry between two pages: the offsets move and one study the count
    included is never on a page. The sync says so and does not move the watermark."""
    out = tmp_path / "out"

    def remove_one_fetched(logged) -> None:
        if logged.path == "studies" and "pageToken" not in logged.params and registry.on_request:
            registry.on_request = None
            registry.remove(ALL[0])

    registry.on_request = remove_one_fetched
    report = sync(registry, out)
    fetch = report["fetch"]
    assert (fetch["expected"], fetch["fetched"], fetch["shortfall"]) == (N, N - 1, 1)
    assert report["watermark"]["held_because"] == ["1 studies fewer fetched than the API counted"]
    assert load_state(out).watermark is None


def test_an_expired_token_mid_sync_fetches_everything_once(registry, tmp_path):
    out = tmp_path / "out"
    registry.inject("expire")
    report = sync(registry, out)
    fetch = report["fetch"]
    assert (fetch["token_restarts"], fetch["fetched"], fetch["duplicates"]) == (1, N, 6)
    assert fetch["new"] == ALL and report["watermark"]["advanced"]


def test_a_renamed_study_is_stored_under_its_current_id_and_the_old_one_reported(registry, tmp_path):
    out = tmp_path / "out"
    sync(registry, out)
    registry.rename("NCT03418623", "NCT09999901", "2025-11-24")
    next_day(registry)
    report = sync(registry, out)
    assert report["fetch"]["new"] == ["NCT09999901"]
    assert report["renamed"] == [
        {
            "old": "NCT03418623",
            "current": "NCT09999901",
            "moved_to": "sources/ctgov-superseded/NCT03418623.json",
            "found_by": "alias",
        }
    ]
    assert not (out / SOURCES / "NCT03418623.json").exists()
    assert (out / SUPERSEDED_SOURCES / "NCT03418623.json").is_file()  # kept, out of the export's input
    export = run_report(out)
    assert [r["source"] for r in export["removed"]] == [str(out / SOURCES / "NCT03418623.json")]
    assert (out / "studies" / "NCT09999901" / "study.json").is_file()
    assert (out / "studies" / "NCT03418623").is_dir()  # outputs left where they were


def test_a_rename_outside_the_window_is_found_by_the_redirect(registry, tmp_path):
    out = tmp_path / "out"
    sync(registry, out)
    registry.rename("NCT03418623", "NCT09999901", "2020-10-08")  # not posted as an update
    next_day(registry)
    report = sync(registry, out, check_removed=True)
    assert report["fetch"]["new"] == ["NCT09999901"]
    assert [(r["old"], r["current"], r["found_by"]) for r in report["renamed"]] == [
        ("NCT03418623", "NCT09999901", "redirect")
    ]
    assert report["removed"]["removed"] == []
    asked = [r for r in registry.log if r.path.startswith("studies/")]
    assert [(r.path, r.status) for r in asked] == [("studies/NCT03418623", 301), ("studies/NCT09999901", 200)]


def test_removed_studies_are_reported_and_never_deleted(registry, tmp_path):
    out = tmp_path / "out"
    sync(registry, out, condition="cancer")
    registry.remove("NCT05052671")

    def not_cancer(study: dict) -> None:
        section = study["protocolSection"]
        section["conditionsModule"] = {"conditions": ["Solid tumour"]}
        section["identificationModule"]["briefTitle"] = "A study"
        section["identificationModule"]["officialTitle"] = "A study"

    registry.update("NCT02513394", "2025-11-24", not_cancer)
    next_day(registry)
    report = sync(registry, out, condition="cancer", check_removed=True)
    removed = report["removed"]
    assert removed["checked"] and (removed["listed"], removed["stored"]) == (9, 11)
    assert removed["removed"] == [
        {
            "nct_id": "NCT02513394",
            "status": "not-matching",
            "http_status": 200,
            "source": "sources/ctgov/NCT02513394.json",
            "reason": "still in the registry, but the query no longer returns it",
        },
        {
            "nct_id": "NCT05052671",
            "status": "not-found",
            "http_status": 404,
            "source": "sources/ctgov/NCT05052671.json",
            "reason": "the registry no longer has this NCT number",
        },
    ]
    listing = registry.pages(fields="NCTId,LastUpdatePostDate")
    assert listing and listing[0].params["pageSize"] == "1000" and listing[0].params["query.cond"] == "cancer"
    for nct in ("NCT02513394", "NCT05052671"):  # kept, and still exported
        assert (out / SOURCES / f"{nct}.json").is_file()
        assert (out / "studies" / nct / "study.json").is_file()
    assert run_report(out)["totals"]["removed"] == 0
    full = sync(registry, out, condition="cancer", full=True)
    assert [r["nct_id"] for r in full["removed"]["removed"]] == ["NCT02513394", "NCT05052671"]


def test_a_listed_study_missing_from_the_store_is_fetched_by_id(registry, tmp_path):
    out = tmp_path / "out"
    sync(registry, out)
    (out / SOURCES / "NCT06008288.json").unlink()
    report = sync(registry, out, check_removed=True)
    assert report["removed"]["fetched_missing"] == ["NCT06008288"]
    assert (out / SOURCES / "NCT06008288.json").is_file()
    assert registry.pages(**{"filter.ids": "NCT06008288"})


def test_a_sync_cut_short_is_noticed_by_the_next(registry, tmp_path):
    out = tmp_path / "out"
    sync(registry, out)
    state = json.loads((out / SYNC_STATE).read_bytes())
    state["started"] = "2025-11-22T03:00:00Z"  # what a killed sync leaves
    (out / SYNC_STATE).write_text(json.dumps(state))
    report = sync(registry, out)
    assert "did not finish" in report["window"]["notes"][0]
    assert load_state(out).started is None


class Recorder:
    def __init__(self):
        self.calls = []

    def start(self, total_inputs):
        self.calls.append(("start", total_inputs))

    def advance(self, inputs, studies):
        self.calls.append(("advance", inputs))

    def fetch_started(self, expected):
        self.calls.append(("fetch_started", expected))

    def fetched(self, studies):
        self.calls.append(("fetched", studies))


def test_progress_counts_fetched_against_expected_then_the_export(registry, tmp_path):
    recorder = Recorder()
    with progress.listening(recorder):
        sync(registry, tmp_path / "out")
    calls = recorder.calls
    assert calls[0] == ("fetch_started", N)
    assert [c for c in calls if c[0] == "fetched"] == [("fetched", 6)] * 3 + [("fetched", 4)]
    assert ("start", N) in calls and calls.index(("start", N)) > calls.index(("fetched", 4))
