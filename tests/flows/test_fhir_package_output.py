"""The run writes the project's FHIR package beside the bundles: every extension a bundle uses is
either HL7's or defined in that package, so a validator given only the output directory can
resolve them all (issue 13: "defined, traceable")."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from flows.run import export_in_process
from flows.settings import ExportSettings
from mappers.output_layout import FHIR_PACKAGE
from tests.conftest import ROOT, SEEDS

CTGOV = ROOT / "tests" / "fixtures" / "ctgov"
INPUTS = [SEEDS, CTGOV / "json" / "v2", CTGOV / "xml"]
HL7 = "http://hl7.org/fhir/"


def extension_urls(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("extension", "modifierExtension"):
                found |= {e["url"] for e in value}
            found |= extension_urls(value)
    elif isinstance(node, list):
        for item in node:
            found |= extension_urls(item)
    return found


def defined_in(archive: Path) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(archive.read_bytes())) as package:
        names = package.getnames()
        assert "package/package.json" in names and "package/.index.json" in names
        definitions = [
            json.load(package.extractfile(name))  # type: ignore[arg-type]
            for name in names
            if name.startswith("package/StructureDefinition-")
        ]
    return {d["url"] for d in definitions if d["type"] == "Extension"}


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_every_extension_the_bundles_use_is_hl7s_or_in_the_package_beside_them(tmp_path, version):
    settings = ExportSettings(output=str(tmp_path / "out"), fhir_version=version, prs_org_name="ORG")
    report = export_in_process(settings, [str(p) for p in INPUTS])
    assert report.totals.exported > 40
    [archive] = (tmp_path / "out" / FHIR_PACKAGE).glob("*.tgz")
    assert report.fhir_package == f"{FHIR_PACKAGE}/{archive.name}"
    assert archive.name.startswith(f"trialexport.fhir.{version.lower()}-")
    used: set[str] = set()
    for bundle in (tmp_path / "out").glob("studies/*/fhir-*-bundle.json"):
        used |= extension_urls(json.loads(bundle.read_text()))
    # a complex extension's parts are named by relative URLs ("name", "period"): not definitions
    ours = {url for url in used if ":" in url and not url.startswith(HL7)}
    assert ours, "the fixtures use some of the project's own extensions"
    assert ours <= defined_in(archive)


def test_a_run_of_another_release_replaces_the_package_and_a_run_without_fhir_writes_none(tmp_path):
    out = tmp_path / "out"
    export_in_process(ExportSettings(output=str(out), fhir_version="R4"), [str(SEEDS)])
    export_in_process(ExportSettings(output=str(out), fhir_version="R5"), [str(SEEDS)], full=True)
    assert [p.name.split("-")[0] for p in (out / FHIR_PACKAGE).glob("*.tgz")] == ["trialexport.fhir.r5"]
    xml_only = ExportSettings(output=str(tmp_path / "xml"), formats=["prs", "public"])
    assert export_in_process(xml_only, [str(SEEDS)]).fhir_package is None
    assert not (tmp_path / "xml" / FHIR_PACKAGE).exists()
