"""``trialexport validate`` on written files: the export's checks, exit 3 on any error."""

import shutil

from tests.conftest import ROOT
from tests.flows.test_cli import cli

GOLDEN = ROOT / "tests" / "golden" / "seeds" / "000_7c5a8bd566a2bac6"


def test_valid_outputs_pass_and_broken_ones_fail(tmp_path):
    files = tmp_path / "files"
    shutil.copytree(GOLDEN, files)
    result = cli("validate", str(files), cwd=tmp_path, prefect_home=tmp_path / "ph")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).count("valid ") == 3  # R4 and R5 bundles (by name), PRS XML

    bundle = files / "fhir-r4-bundle.json"
    bundle.write_text(bundle.read_text().replace('"status": "unknown"', '"status": "final"', 1))
    prs = files / "prs.xml"
    prs.write_text(prs.read_text().replace("<brief_title>", "<bogus/><brief_title>", 1))
    result = cli("validate", str(bundle), str(prs), cwd=tmp_path, prefect_home=tmp_path / "ph")
    console = result.stdout + result.stderr
    assert result.returncode == 3, console
    assert "fhir-binding" in console and "final" in console  # PlanDefinition.status: publication-status
    assert "xsd-invalid" in console and "bogus" in console
