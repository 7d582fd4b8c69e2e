"""R5 bundles are published like R4 ones: sent to a server that takes R5, refused with the
server's own reason where it cannot, and never reported as published when they were not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.publish.flow import speaks
from tests.conftest import ROOT, SEEDS
from tests.flows.reports import publish_and_read
from tests.flows.test_cli import api_url, cli

pytestmark = pytest.mark.server

FAST = {"base_delay": 0.01, "max_delay": 1.0}


@pytest.fixture(scope="module")
def r5_export(tmp_path_factory) -> Path:
    from flows.export import export_trials

    output = tmp_path_factory.mktemp("r5") / "out"
    report = export_trials(inputs=[str(SEEDS)], output=str(output), fhir_version="R5")
    assert report["totals"]["exported"] == 2
    return output


@pytest.fixture
def r5_output(r5_export, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(r5_export, tmp_path / "out"))


def test_an_r5_server_gets_the_r5_bundles_and_says_why_it_refuses_one(server, r5_output):
    server.faults(fhirVersion="5.0.0")  # Medplum validates as R4: it takes one seed and not the other
    report = publish_and_read(r5_output, server.base_url, **FAST)
    sections = {e["key"]: e["publish"] for e in report["studies"]}
    assert set(sections) == {"000_7c5a8bd566a2bac6", "004_8c3e1bb58083379b"}
    assert report["publish"]["preflight"]["fhir_version"] == "5.0.0"
    assert server.stats()["requests"] == 1 + 2  # the preflight, then each study's bundle
    refused = sections["000_7c5a8bd566a2bac6"]
    assert refused["status"] == "failed" and refused["http_status"] == 400 and refused["retry"] is False
    assert refused["attempts"] == 1 and "Invalid additional property" in refused["reason"]
    assert refused["outcome"]["resourceType"] == "OperationOutcome"
    stored = sections["004_8c3e1bb58083379b"]
    assert stored["status"] == "published" and stored["sent"] is True
    bundle = json.loads((r5_output / "studies/004_8c3e1bb58083379b/fhir-r5-bundle.json").read_bytes())
    [on_server] = server.search("ResearchStudy")
    assert on_server["identifier"] == bundle["entry"][0]["resource"]["identifier"]
    assert report["publish"]["totals"] == {
        "studies": 2,
        "published": 1,
        "sent": 1,
        "unchanged": 0,
        "failed": 1,
        "split": 0,
        "not_sent": 0,
    }


def test_r5_to_a_server_that_speaks_r4_is_not_sent_and_exits_4(server, tmp_path):
    output = tmp_path / "out"
    result = cli(
        "run", str(SEEDS), "-o", str(output), "--fhir-version", "R5", "--fhir-url", server.base_url,
        cwd=ROOT, prefect_home=tmp_path / "ph", api_url=api_url(),
    )  # fmt: skip
    console = result.stdout + result.stderr
    assert result.returncode == 4, console
    assert "2 studies: 0 published" in console and "2 failed" in console
    assert "the server speaks FHIR 4.0.1" in console and "bundles are FHIR R5" in console
    assert "Traceback" not in console
    assert server.stats()["requests"] == 1 and server.search("ResearchStudy") == []  # metadata only
    report = json.loads((output / "run-report.json").read_bytes())
    for entry in report["studies"]:
        assert entry["bundle"].endswith("/fhir-r5-bundle.json")
        assert entry["publish"]["status"] == "failed" and entry["publish"]["retry"] is False
        assert entry["publish"]["attempts"] == 0


@pytest.mark.parametrize(
    ("declared", "release", "takes"),
    [("4.0.1", "R4", True), ("4.3.0", "R4", True), ("5.0.0", "R5", True), ("4.0.1", "R5", False),
     ("5.0.0", "R4", False), ("6.0.0-ballot", "R5", False)],
)  # fmt: skip
def test_which_server_versions_take_which_bundles(declared, release, takes):
    assert speaks(declared, release) is takes
