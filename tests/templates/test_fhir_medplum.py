"""A second, independent validator over every fixture's R4 bundle: Medplum's validateResource
(@medplum/core, the test server's validator) run by tests/fhir_server/validate.mjs, with the
project's FHIR package loaded. 0 errors and 0 unknown extensions."""

from __future__ import annotations

import json
import subprocess
import tarfile

import pytest

from mappers.fhir_package import build_package
from tests.conftest import ROOT
from tests.flows.publish.server import SERVER_DIR, node_command
from tests.templates.fixture_exports import bundle_of, fixture_exports

DEFINITIONS = ROOT / "validation" / "definitions"


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    """The R4 package as shipped: built, then unpacked as a validator would."""
    out = tmp_path_factory.mktemp("package")
    with tarfile.open(build_package("r4", out)) as archive:
        archive.extractall(out, filter="data")
    return out / "package"


def medplum(package_dir, bundles: dict[str, bytes], tmp_path) -> list[dict]:
    paths = []
    for name, data in bundles.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        paths.append(str(path))
    command = [
        *node_command(),
        "validate.mjs",
        "--package",
        str(package_dir),
        "--r4",
        str(DEFINITIONS / "r4.json"),
        "--r5",
        str(DEFINITIONS / "r5.json"),
        *paths,
    ]
    done = subprocess.run(command, cwd=SERVER_DIR, capture_output=True, text=True, timeout=600, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_every_fixture_r4_bundle_passes_medplum_with_no_unknown_extension(package_dir, tmp_path):
    exported = [r for r in fixture_exports("R4") if r.status == "exported"]
    assert len(exported) == len(fixture_exports("R4")) > 400
    bundles = {f"{n:04d}-{r.key}": bundle_of(r) for n, r in enumerate(exported)}
    results = medplum(package_dir, bundles, tmp_path)
    assert len(results) == len(bundles)
    assert [r for r in results if r["errors"] or r["unknownExtensions"]] == []


def test_the_check_finds_what_it_is_for(package_dir, tmp_path, rich_study):
    """Each kind of problem is reported: an invalid element, an unknown extension, a wrong value
    type for the project's extension and for a cross-version one, and a cross-version extension
    for an element R4 has."""
    [result] = [r for r in fixture_exports("R4") if r.key == "NCT03475563"]
    bundle = json.loads(bundle_of(result))
    study, plan = (e["resource"] for e in bundle["entry"])
    study["period"] = {"start": "not a date"}
    study["extension"] += [
        {"url": "urn:example:unknown", "valueString": "x"},
        {
            "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.title",
            "valueString": "x",
        },
        {
            "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.descriptionSummary",
            "valueString": "x",
        },
    ]
    plan["goal"][0]["extension"] = [
        {"url": "https://trialexport.org/fhir/StructureDefinition/outcome-time-frame", "valueInteger": 3}
    ]
    [found] = medplum(package_dir, {"broken": json.dumps(bundle).encode()}, tmp_path)
    errors = "\n".join(found["errors"])
    assert "Invalid date" in errors or "period.start" in errors
    assert "ResearchStudy.title exists in R4" in errors
    assert "expected valueMarkdown, found valueString" in errors
    assert "value must be one of valueString, found valueInteger" in errors
    assert [u.split(": ")[1] for u in found["unknownExtensions"]] == ["urn:example:unknown"]


def test_bundle_files_are_accepted_as_they_are_and_again(rich_study):
    """The bundle on disk, POSTed byte for byte (no publish step stripping anything), is stored;
    POSTed again it updates the same resources (conditional PUTs, no ids in the bodies). Then the
    NDJSON lines, PUT one by one under their own ids as a bulk $import would write them, are
    accepted with their literal references resolving on the server."""
    import httpx

    from tests.flows.publish.server import running

    results = [r for r in fixture_exports("R4") if r.key in ("004_8c3e1bb58083379b", "NCT03475563")]
    with running() as server:
        for attempt in (1, 2):
            for result in results:
                response = httpx.post(
                    server.base_url,
                    content=bundle_of(result),
                    headers={"Content-Type": "application/fhir+json"},
                    timeout=60,
                )
                assert response.status_code == 200, response.text
                statuses = [e["response"]["status"] for e in response.json()["entry"]]
                assert all(s.startswith("201" if attempt == 1 else "200") for s in statuses), statuses
        assert len(server.search("ResearchStudy")) == len(results)
    with running() as server:
        for rtype in ("PlanDefinition", "ResearchStudy"):  # referenced resources first
            for result in results:
                for resource in result.resources[rtype]:
                    url = f"{server.base_url}/{rtype}/{resource['id']}"
                    response = httpx.put(url, json=resource, timeout=60)
                    assert response.status_code in (200, 201), response.text
        for result in results:
            [study] = result.resources["ResearchStudy"]
            [protocol] = study["protocol"]
            plan = (
                httpx.get(f"{server.base_url}/{protocol['reference']}", timeout=30).raise_for_status().json()
            )
            assert plan["identifier"] == result.resources["PlanDefinition"][0]["identifier"]
