"""Incremental runs: unchanged inputs are not exported again, and the outputs do not show it."""

import json
import shutil
from pathlib import Path

import pytest

import flows.batch
import flows.export
import flows.output
from flows.incremental import LEDGER_NAME, ExportLedger
from tests.conftest import ROOT, SEED_A, SEED_B
from tests.flows.reports import comparable_bytes, export_and_read

pytestmark = pytest.mark.prefect

CTGOV = ROOT / "tests" / "fixtures" / "ctgov"
# Names order the inputs: b_ and d_ repeat a_ and c_'s NCT ids in formats as rich, so (their records
# as recent) they are superseded by a_ and c_.
INPUTS = {
    "a_seed.txt": SEED_A,
    "a_v2.json": CTGOV / "json/v2/NCT02513394.json",
    "b_legacy.xml": CTGOV / "xml/NCT02513394.xml",
    "c_legacy.xml": CTGOV / "xml/NCT00023673.xml",
    "d_v1.json": CTGOV / "json/v1/NCT00023673.json",
    "e_seed.txt": SEED_B,
    "f_csv.csv": next(iter(sorted((CTGOV / "csv").glob("*.csv")))),
}
NOT_COMPARED = {"run-report.json", LEDGER_NAME}


@pytest.fixture
def inputs(tmp_path) -> Path:
    directory = tmp_path / "inputs"
    directory.mkdir()
    for name, source in INPUTS.items():
        shutil.copyfile(source, directory / name)
    (directory / "g_empty.txt").write_bytes(b"")
    return directory


@pytest.fixture
def mapped(monkeypatch) -> list[str]:
    """The source of every study mapped, in the flow's worker threads."""
    calls: list[str] = []
    real = flows.batch.export_study

    def counting(study, *args, **kwargs):
        calls.append(Path(study.provenance.source).name)
        return real(study, *args, **kwargs)

    monkeypatch.setattr(flows.batch, "export_study", counting)
    return calls


def run(inputs: Path, output: Path, **kwargs) -> dict:
    return export_and_read(inputs=[str(inputs)], output=str(output), batch_size=2, **kwargs)


def outputs(output: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(output)): comparable_bytes(output, str(p.relative_to(output)))
        for p in sorted(output.rglob("*"))
        if p.is_file() and p.name not in NOT_COMPARED
    }


def comparable(report: dict) -> dict:
    report = json.loads(json.dumps(report))
    report.pop("run")
    report["settings"].pop("output")
    report.pop("removed")
    for key in ("skipped", "removed"):
        report["totals"].pop(key)
    return report


def assert_same(output: Path, reference: Path) -> None:
    assert outputs(output) == outputs(reference)
    reports = [json.loads((d / "run-report.json").read_bytes()) for d in (output, reference)]
    assert comparable(reports[0]) == comparable(reports[1])


def test_second_run_skips_everything_and_gives_the_same_outputs(inputs, tmp_path, mapped):
    first = run(inputs, tmp_path / "out")
    assert first["totals"]["skipped"] == 0 and len(mapped) == first["totals"]["studies"] > 8
    assert {e["status"] for e in first["studies"]} == {"exported", "rejected", "superseded"}
    before = outputs(tmp_path / "out")
    mapped.clear()
    second = run(inputs, tmp_path / "out")
    assert mapped == []
    assert second["totals"]["skipped"] == second["totals"]["inputs"] == 8
    assert comparable(second) == comparable(first)
    assert outputs(tmp_path / "out") == before
    assert second["removed"] == []


def test_incremental_outputs_equal_a_full_run_elsewhere(inputs, tmp_path, mapped):
    run(inputs, tmp_path / "out")
    (inputs / "e_seed.txt").write_bytes(SEED_B.read_bytes() + b"\nAdded note.\n")
    mapped.clear()
    report = run(inputs, tmp_path / "out")
    assert set(mapped) == {"e_seed.txt"}
    assert report["totals"]["skipped"] == 7
    run(inputs, tmp_path / "fresh", full=True)
    assert_same(tmp_path / "out", tmp_path / "fresh")


def test_template_overlay_or_settings_change_remaps_everything(inputs, tmp_path, mapped):
    run(inputs, tmp_path / "out")
    overlay = tmp_path / "templates" / "ctgov"
    overlay.mkdir(parents=True)
    prs = (ROOT / "templates/ctgov/prs.xml.j2").read_text()
    (overlay / "prs.xml.j2").write_text("{# a local edit #}\n" + prs)
    mapped.clear()
    report = run(inputs, tmp_path / "out", templates=str(tmp_path / "templates"))
    assert report["totals"]["skipped"] == 0 and len(mapped) == report["totals"]["studies"]
    mapped.clear()
    report = run(inputs, tmp_path / "out", templates=str(tmp_path / "templates"))
    assert report["totals"]["skipped"] == 8 and mapped == []
    report = run(inputs, tmp_path / "out", templates=str(tmp_path / "templates"), prs_org_name="ACME")
    assert report["totals"]["skipped"] == 0 and len(mapped) == report["totals"]["studies"]


def test_removed_input_is_reported_once(inputs, tmp_path):
    first = run(inputs, tmp_path / "out")
    gone = next(e for e in first["studies"] if e["source"].endswith("c_legacy.xml"))
    (inputs / "c_legacy.xml").unlink()
    report = run(inputs, tmp_path / "out")
    assert report["removed"] == [{"source": gone["source"], "outputs": gone["outputs"]}]
    assert report["totals"]["removed"] == 1
    # c_ held NCT00023673 first: d_ has it now, although d_ itself did not change
    entry = next(e for e in report["studies"] if e["source"].endswith("d_v1.json"))
    assert entry["status"] == "exported"
    run(inputs, tmp_path / "fresh")
    assert_same(tmp_path / "out", tmp_path / "fresh")
    assert run(inputs, tmp_path / "out")["removed"] == []


def test_full_remaps_everything(inputs, tmp_path, mapped):
    run(inputs, tmp_path / "out")
    mapped.clear()
    report = run(inputs, tmp_path / "out", full=True)
    assert report["totals"]["skipped"] == 0 and len(mapped) == report["totals"]["studies"]


def test_crash_mid_run_leaves_a_ledger_the_next_run_completes_from(inputs, tmp_path, monkeypatch, mapped):
    real = flows.output.place

    def failing(path, data, *args, **kwargs):
        if "NCT00023673" in str(path):  # c_legacy.xml, in the second batch
            raise OSError(28, "No space left on device")
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(flows.output, "place", failing)
    monkeypatch.setattr(flows.export, "write_batch", flows.export.write_batch.with_options(retries=0))
    with pytest.raises(OSError, match="No space"):
        run(inputs, tmp_path / "out")
    ledger = ExportLedger(tmp_path / "out" / LEDGER_NAME)
    assert sorted(Path(s).name for s in ledger.sources()) == ["a_seed.txt", "a_v2.json"]
    ledger.close()
    monkeypatch.setattr(flows.output, "place", real)
    mapped.clear()
    report = run(inputs, tmp_path / "out")
    assert report["totals"]["skipped"] == 2
    assert "a_seed.txt" not in mapped and "c_legacy.xml" in mapped
    run(inputs, tmp_path / "fresh")
    assert_same(tmp_path / "out", tmp_path / "fresh")


def test_unchanged_studies_keep_their_report_pages(inputs, tmp_path, monkeypatch):
    """Pages are rendered with a study's export: a skipped input's page is the one on disk, and
    one deleted since is rendered again from the study's files, to the same bytes."""
    first = run(inputs, tmp_path / "out")
    before = outputs(tmp_path / "out")
    pages = sorted((tmp_path / "out" / "report").glob("*.html"))
    assert len(pages) == len(first["studies"])  # every entry, duplicates and unreadable inputs too
    [exported] = [e for e in first["studies"] if e["source"].endswith("a_v2.json")]
    (tmp_path / "out" / exported["page"]).unlink()
    rendered: list[str] = []
    real = flows.batch.render_study_page

    def counting(view, *args, **kwargs):
        rendered.append(view.entry.source)
        return real(view, *args, **kwargs)

    monkeypatch.setattr(flows.batch, "render_study_page", counting)
    report = run(inputs, tmp_path / "out")
    assert report["totals"]["skipped"] == 8
    assert outputs(tmp_path / "out") == before
    assert rendered == []  # no page rendered with an export: the deleted one came from its files
    assert all(entry["page"].startswith("report/") for entry in report["studies"])
