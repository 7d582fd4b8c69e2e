"""Input limits in a run: an input over them is rejected with a reason, the others still export."""

import shutil
import tracemalloc
from pathlib import Path

import pytest

from flows.batch import Stage, export_input
from flows.incremental import ExportLedger
from flows.settings import ExportSettings
from tests.conftest import ROOT, SEED_A, SEED_B
from tests.flows.reports import export_and_read

LIST_PAGE = ROOT / "tests" / "fixtures" / "ctgov" / "json" / "list" / "studies_page_KRAS_10.json"


def entry_for(report: dict, name: str) -> list[dict]:
    return [e for e in report["studies"] if e["source"].endswith(name)]


@pytest.mark.prefect
def test_a_file_over_the_size_limit_is_rejected_unread(tmp_path, monkeypatch):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SEED_A, inputs / "a.txt")
    big = inputs / "big.txt"
    big.write_bytes(SEED_B.read_bytes() * 3)
    limit = big.stat().st_size - 1
    assert SEED_A.stat().st_size <= limit
    monkeypatch.setenv("TRIALEXPORT_MAX_FILE_BYTES", str(limit))
    report = export_and_read(inputs=[str(inputs)], output=str(tmp_path / "out"))
    assert report["settings"]["max_file_bytes"] == limit
    [rejected] = entry_for(report, "big.txt")
    assert rejected["status"] == "rejected" and rejected["outputs"] == []
    message = rejected["issues"][-1]["message"]
    assert f"file too large: {limit + 1} bytes, over the limit of {limit} bytes" in message
    assert "TRIALEXPORT_MAX_FILE_BYTES" in message
    assert [e["status"] for e in entry_for(report, "a.txt")] == ["exported"]
    # not in the ledger: under a raised limit the next run reads it
    ledger = ExportLedger.in_output(tmp_path / "out")
    try:
        assert [Path(source).name for source in ledger.sources()] == ["a.txt"]
    finally:
        ledger.close()
    monkeypatch.delenv("TRIALEXPORT_MAX_FILE_BYTES")
    again = export_and_read(inputs=[str(inputs)], output=str(tmp_path / "out"))
    assert [e["status"] for e in entry_for(again, "big.txt")] == ["exported"]
    assert again["totals"]["skipped"] == 1


@pytest.mark.prefect
def test_a_list_page_over_the_study_limit_keeps_its_first_studies(tmp_path, monkeypatch):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(LIST_PAGE, inputs / "page.json")
    shutil.copy(SEED_A, inputs / "seed.txt")
    monkeypatch.setenv("TRIALEXPORT_MAX_STUDIES_PER_FILE", "3")
    report = export_and_read(inputs=[str(inputs)], output=str(tmp_path / "out"))
    page = entry_for(report, "page.json")
    assert [(e.get("record"), e["status"]) for e in page] == [
        (1, "exported"),
        (2, "exported"),
        (3, "exported"),
        (None, "rejected"),
    ]
    message = page[-1]["issues"][-1]["message"]
    assert "more than 3 studies in one file" in message and "TRIALEXPORT_MAX_STUDIES_PER_FILE" in message
    assert all((tmp_path / "out" / p).is_file() for e in page[:3] for p in e["outputs"])
    assert [e["status"] for e in entry_for(report, "seed.txt")] == ["exported"]
    assert report["totals"]["exported"] == 4 and report["totals"]["rejected"] == 1
    monkeypatch.setenv("TRIALEXPORT_MAX_STUDIES_PER_FILE", "10")
    again = export_and_read(inputs=[str(inputs)], output=str(tmp_path / "out"))
    assert [e["status"] for e in entry_for(again, "page.json")] == ["exported"] * 10


def test_the_default_limit_rejects_a_huge_file_by_its_size_unread(tmp_path):
    huge = tmp_path / "huge.json"
    size = 4 * 2**30
    with huge.open("wb") as handle:
        handle.truncate(size)  # sparse: takes no disk
    settings = ExportSettings(output=str(tmp_path / "out"))
    (tmp_path / "empty.txt").write_bytes(b"")  # a rejection first: templates compiled before measuring
    export_input(str(tmp_path / "empty.txt"), settings, settings.mapping(), Stage(settings.output))
    tracemalloc.start()
    try:
        stage = Stage(settings.output)
        result = export_input(str(huge), settings, settings.mapping(), stage)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [entry] = result.entries
    message = entry.issues[-1].message
    assert f"file too large: {size} bytes, over the limit of {32 * 2**20} bytes" in message
    assert result.sha256 is None and peak < 2**20  # not a byte of it read
