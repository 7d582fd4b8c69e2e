"""``trialexport publish`` and ``trialexport run --fhir-url`` as a user types them."""

import json

import pytest

from tests.conftest import ROOT, SEEDS
from tests.flows.test_cli import api_url, cli

pytestmark = pytest.mark.server

SECRET = "tok-do-not-print-4711"


def test_run_with_fhir_url_exports_then_publishes(server, tmp_path):
    output = tmp_path / "out"
    result = cli(
        "run", str(SEEDS), "-o", str(output), "--fhir-url", server.base_url,
        cwd=ROOT, prefect_home=tmp_path / "ph", api_url=api_url(),
    )  # fmt: skip
    console = result.stdout + result.stderr
    assert result.returncode == 0, console
    assert f"2 studies: 2 published (2 sent, 0 unchanged), 0 failed on {server.base_url}" in console
    report = json.loads((output / "run-report.json").read_bytes())
    assert {e["publish"]["status"] for e in report["studies"]} == {"published"}
    assert (output / "publish-ledger.json").is_file()


def test_publish_exits_4_naming_the_study_left_behind_then_resumes(
    server, seeds_output, tmp_path, monkeypatch
):
    bad = sorted(p.parent.name for p in seeds_output.glob("studies/*/fhir-r4-bundle.json"))[0]
    path = seeds_output / "studies" / bad / "fhir-r4-bundle.json"
    good_bytes = path.read_bytes()
    bundle = json.loads(good_bytes)
    bundle["entry"][0]["resource"]["title"] = {"not": "a string"}
    path.write_text(json.dumps(bundle))

    def publish():
        result = cli(
            "publish", str(seeds_output), "--fhir-url", server.base_url,
            cwd=ROOT, prefect_home=tmp_path / "ph", api_url=api_url(),
        )  # fmt: skip
        return result, result.stdout + result.stderr

    monkeypatch.setenv("TRIALEXPORT_FHIR_TOKEN", SECRET)  # inherited by the subprocess
    result, console = publish()
    monkeypatch.delenv("TRIALEXPORT_FHIR_TOKEN")
    assert result.returncode == 4, console
    assert "1 published (1 sent, 0 unchanged), 1 failed" in console
    [line] = [ln for ln in console.splitlines() if ln.startswith("not published:")]
    assert bad in line and "HTTP 400" in line
    assert SECRET not in console and SECRET not in (seeds_output / "run-report.json").read_text()
    assert server.stats()["authorized"] > 0  # the token was sent, just never shown

    path.write_bytes(good_bytes)  # fixed: the rerun sends only that study
    result, console = publish()
    assert result.returncode == 0, console
    assert "2 published (1 sent, 1 unchanged), 0 failed" in console


def test_publish_without_an_export_is_a_usage_error(tmp_path):
    result = cli(
        "publish", str(tmp_path), "--fhir-url", "http://127.0.0.1:9/fhir",
        cwd=ROOT, prefect_home=tmp_path / "ph", api_url=api_url(),
    )  # fmt: skip
    assert result.returncode == 2
    assert "no run-report.json" in result.stdout + result.stderr
