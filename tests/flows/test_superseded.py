"""One study, several inputs (issue 12): the newest record is kept, then the richer format; the
others are reported ``superseded``, a warning naming the kept source, and are not rejections.
Real records, the whole run without Prefect."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from flows.console import Presenter
from flows.errors import ExitCode
from flows.run import export_in_process
from flows.run_report import read_studies
from flows.settings import ExportSettings
from tests.conftest import ROOT

CTGOV = ROOT / "tests" / "fixtures" / "ctgov"
NCT = "NCT00451178"  # a legacy XML record, and a row of the legacy CSV export
XML = CTGOV / "xml" / f"{NCT}.xml"
CSV = CTGOV / "csv" / "legacy_SearchResults_B-cell_lymphoma_pairs.csv"


def run(inputs: Path, output: Path, **settings):
    return export_in_process(ExportSettings(output=str(output), batch_size=2, **settings), [str(inputs)])


def tree(root: Path, under: str) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted((root / under).rglob("*")) if p.is_file()
    }


def ndjson_ids(root: Path) -> list[str]:
    return [
        orjson.loads(line)["id"]
        for line in (root / "ndjson" / "ResearchStudy.ndjson").read_bytes().splitlines()
    ]


@pytest.mark.parametrize("csv_first", [False, True], ids=["record-first", "csv-row-first"])
def test_the_csv_row_is_superseded_by_the_structured_record_in_either_order(tmp_path, csv_first):
    inputs = tmp_path / "in"
    inputs.mkdir()
    names = ("a_export.csv", "b_record.xml") if csv_first else ("b_export.csv", "a_record.xml")
    shutil.copyfile(CSV, inputs / names[0])
    shutil.copyfile(XML, inputs / names[1])
    report = run(inputs, tmp_path / "out")
    assert report.totals.superseded == 1 and report.totals.rejected == 0
    entries = [e for e in read_studies(tmp_path / "out" / "run-report.json") if e.key == NCT]
    by_source = {Path(e.source).name: e for e in entries}
    kept, superseded = by_source[names[1]], by_source[names[0]]
    assert kept.status.value == "exported" and superseded.status.value == "superseded"
    [warning] = [i for i in superseded.issues if i.code == "superseded"]
    assert warning.severity == "warning" and str(inputs / names[1]) in warning.message
    assert "structured CT.gov record, this one a CSV export row" in warning.message
    assert superseded.outputs == [] and not superseded.errors()
    # the study's files, lines and page are the record's alone, as if the row had not been read
    (inputs / names[0]).unlink()
    run(inputs, tmp_path / "alone-out")
    assert tree(tmp_path / "out", f"studies/{NCT}") == tree(tmp_path / "alone-out", f"studies/{NCT}")
    ids = ndjson_ids(tmp_path / "out")
    assert len(ids) == len(set(ids)) == report.totals.exported
    page = (tmp_path / "out" / (superseded.page or "")).read_text()
    assert "superseded" in page and str(inputs / names[1]) in page


def test_a_rerun_of_unchanged_inputs_writes_nothing_and_reports_the_same(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copyfile(CSV, inputs / "a_export.csv")  # the row first: displaced after the fact
    shutil.copyfile(XML, inputs / "b_record.xml")
    first = run(inputs, tmp_path / "out")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "studies").rglob("*") if p.is_file()}
    again = run(inputs, tmp_path / "out")
    assert again.totals.skipped == 2 and again.totals.superseded == first.totals.superseded == 1
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "studies").rglob("*") if p.is_file()}
    assert after == before


def test_a_list_page_and_a_single_record_of_the_same_study(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copyfile(CTGOV / "json" / "list" / "studies_page_KRAS_10.json", inputs / "a_page.json")
    shutil.copyfile(CTGOV / "json" / "v2" / "NCT05052671.json", inputs / "b_NCT05052671.json")
    report = run(inputs, tmp_path / "out")
    assert (report.totals.exported, report.totals.superseded, report.totals.rejected) == (10, 1, 0)
    [lost] = [e for e in read_studies(tmp_path / "out" / "run-report.json") if e.status.value == "superseded"]
    assert lost.source.endswith("b_NCT05052671.json")  # as recent, as rich: the page was read first


def test_superseded_inputs_are_not_rejections_for_the_exit_code(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copyfile(CSV, inputs / "a_export.csv")
    shutil.copyfile(XML, inputs / "b_record.xml")
    report = run(inputs, tmp_path / "out")
    presenter = Presenter(Console(file=open(tmp_path / "console.txt", "w"), width=200))  # noqa: SIM115
    assert presenter.run_done(report, tmp_path / "out", published=False) is ExitCode.OK
    presenter.console.file.close()
    assert "1 superseded" in (tmp_path / "console.txt").read_text()
