"""The Prefect flow end to end on the seeds, bad inputs, overrides and determinism."""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED_A, SEED_B, SEEDS
from tests.flows.reports import comparable_bytes, export_and_read

pytestmark = pytest.mark.prefect


def run(inputs, output, **kwargs) -> dict:
    return export_and_read(inputs=[str(i) for i in inputs], output=str(output), **kwargs)


def entry_for(report: dict, name: str) -> dict:
    [entry] = [e for e in report["studies"] if e["source"].endswith(name)]
    return entry


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds-out")
    return run([SEEDS], out), out


def test_seeds_are_exported(seeds_run):
    report, out = seeds_run
    assert report["totals"] == {
        "inputs": 2,
        "studies": 2,
        "exported": 2,
        "rejected": 0,
        "superseded": 0,
        "skipped": 0,
        "removed": 0,
        # The seeds are free text: no sponsor, no responsible party, so PRS cannot take them whole.
        "prs_incomplete": 2,
    }
    on_disk = json.loads((out / "run-report.json").read_text())
    assert on_disk["totals"] == report["totals"]
    for entry in report["studies"]:
        assert entry["status"] == "exported"
        names = {Path(p).name for p in entry["outputs"]}
        assert names == {"fhir-r4-bundle.json", "prs.xml", "study.json"}  # no NCT id: no public XML
        assert all((out / p).is_file() for p in entry["outputs"])
        assert any(i["code"] == "public-xml-not-written" for i in entry["issues"]) is False


def test_report_records_assumptions(seeds_run):
    report, _ = seeds_run
    codes = {i["code"] for i in entry_for(report, SEED_B.name)["issues"]}
    assert {"missing-title", "assumed-outcome-kind", "assumed-dose-group-arms"} <= codes


def test_bundles_are_transactions_with_conditional_puts(seeds_run):
    report, out = seeds_run
    for entry in report["studies"]:
        bundle_path = next(p for p in entry["outputs"] if p.endswith("bundle.json"))
        bundle = json.loads((out / bundle_path).read_text())
        assert bundle["type"] == "transaction"
        urls = [e["request"]["url"] for e in bundle["entry"]]
        assert urls[0].startswith("ResearchStudy?identifier=") and urls[1].startswith(
            "PlanDefinition?identifier="
        )
        assert entry["identifier"] in urls[0]


def test_ndjson_per_resource_type(seeds_run):
    report, out = seeds_run
    assert sorted(report["bulk"]) == ["ndjson/PlanDefinition.ndjson", "ndjson/ResearchStudy.ndjson"]
    studies = [json.loads(line) for line in (out / "ndjson/ResearchStudy.ndjson").read_text().splitlines()]
    assert len(studies) == 2 and all(s["resourceType"] == "ResearchStudy" and s["id"] for s in studies)
    assert not list((out / "ndjson").glob(".*partial"))


def test_two_runs_give_the_same_bytes(seeds_run, tmp_path):
    _, first = seeds_run
    run([SEEDS], tmp_path)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for relative in files:
        if relative.name == "run-report.json":
            a, b = (json.loads((d / relative).read_text()) for d in (first, tmp_path))
            for report in (a, b):
                report.pop("run")
                report["settings"].pop("output")
            assert a == b
        else:
            assert comparable_bytes(first, str(relative)) == comparable_bytes(tmp_path, str(relative)), (
                relative
            )


BAD_INPUTS = {
    "empty.txt": (b"", "empty file"),
    "blank.txt": (b"  \n\n ", "empty file"),
    "binary.bin": (bytes(range(256)) * 8, "binary file"),
    "latin.txt": (bytes(range(0x80, 0x100)) * 16, "unreadable encoding"),
    "unknown.txt": (b"just one line of prose with no layout at all", "unknown layout"),
}


def test_bad_inputs_are_rejected_and_siblings_exported(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SEED_A, inputs)
    for name, (data, _) in BAD_INPUTS.items():
        (inputs / name).write_bytes(data)
    report = run([inputs], tmp_path / "out")
    assert report["totals"]["exported"] == 1
    assert report["totals"]["rejected"] == len(BAD_INPUTS)
    assert entry_for(report, SEED_A.name)["status"] == "exported"
    for name, (_, reason) in BAD_INPUTS.items():
        entry = entry_for(report, name)
        assert entry["status"] == "rejected" and entry["outputs"] == []
        assert reason in entry["issues"][-1]["message"], entry


def test_duplicate_identifier_is_rejected_not_overwritten(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(SEED_A, tmp_path / sub)
    report = run([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    statuses = [e["status"] for e in report["studies"]]
    assert statuses == ["exported", "rejected"]
    assert report["studies"][1]["issues"][-1]["code"] == "duplicate-identifier"


def test_r5_run_writes_r5_bundles(tmp_path):
    report = run([SEEDS], tmp_path, fhir_version="R5")
    assert report["totals"]["exported"] == 2
    for entry in report["studies"]:
        [bundle_path] = [p for p in entry["outputs"] if p.endswith("bundle.json")]
        assert bundle_path.endswith("fhir-r5-bundle.json")
        study = json.loads((tmp_path / bundle_path).read_text())["entry"][0]["resource"]
        assert study["status"] == "unknown" and "descriptionSummary" in study  # R5 elements


def test_one_bad_record_of_a_list_page_is_rejected_alone(tmp_path):
    page_file = ROOT / "tests" / "fixtures" / "ctgov" / "json" / "list" / "studies_page_KRAS_10.json"
    page = json.loads(page_file.read_text())
    page["studies"][2]["protocolSection"] = []  # not an object
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "page.json").write_text(json.dumps(page))
    report = run([tmp_path / "in"], tmp_path / "out")
    statuses = [(e.get("record"), e["status"]) for e in report["studies"]]
    assert len(statuses) == len(page["studies"])
    assert [r for r, status in statuses if status == "rejected"] == [3]
    [rejected] = [e for e in report["studies"] if e["status"] == "rejected"]
    assert "protocolSection" in rejected["issues"][-1]["message"]


def test_a_study_failing_validation_keeps_its_outputs_under_rejected(tmp_path):
    overlay = tmp_path / "templates" / "ctgov"
    overlay.mkdir(parents=True)
    (overlay / "prs.xml.j2").write_text(
        '<prs:study_collection xmlns:prs="http://clinicaltrials.gov/prs"><bogus/></prs:study_collection>'
    )
    out = tmp_path / "out"
    report = run([SEED_A], out, templates=str(tmp_path / "templates"))
    [entry] = report["studies"]
    errors = [i["message"] for i in entry["issues"] if i["severity"] == "error"]
    assert entry["status"] == "rejected" and any("PRS XML invalid" in m for m in errors)
    assert entry["outputs"] and all(p.startswith("rejected/") for p in entry["outputs"])
    assert all((out / p).is_file() for p in entry["outputs"])
    assert not (out / "studies").exists() and report["bulk"] == []
