"""One study -> its files: golden outputs for the seeds, rule tests over every sample document,
rejection on invalid output, and the user's template overlay."""

import json
import os
import re
from pathlib import Path

import pytest

from mappers.context import MappingSettings
from mappers.export import export_study
from mappers.readers import read_document
from mappers.text import decode, repair, unescape_markdown
from mappers.trace import json_values, xml_values
from tests.conftest import ROOT, SEED_A, SEED_B

GOLDEN = ROOT / "tests" / "golden" / "seeds"
SAMPLE_DOCS = sorted((ROOT / "tests" / "fixtures" / "samples" / "docs").glob("*.txt"))
UPDATE = (
    os.environ.get("UPDATE_GOLDEN") == "1"
)  # regenerate: UPDATE_GOLDEN=1 pytest tests/mappers/test_export.py


def export(path: Path, version: str = "R4", **kwargs):
    [study] = read_document(path.read_bytes(), f"seeds/{path.name}")
    return export_study(study, MappingSettings(prs_org_name="EXAMPLE-ORG", fhir_version=version), **kwargs)


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("seed", [SEED_A, SEED_B], ids=lambda p: p.stem[:3])
def test_seed_outputs_match_the_golden_files(seed, version):
    result = export(seed, version)
    assert result.status == "exported", result.issues
    other = {"R4": "fhir-r5-bundle.json", "R5": "fhir-r4-bundle.json"}[version]
    golden_files = {
        p.relative_to(GOLDEN).as_posix()
        for p in (GOLDEN / result.key).rglob("*")
        if p.is_file() and p.name != other
    }
    produced = {Path(name).relative_to("studies").as_posix(): data for name, data in result.files.items()}
    if UPDATE:
        for name, data in produced.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
        golden_files = set(produced)
    assert set(produced) == golden_files
    for name, data in produced.items():
        assert data == (GOLDEN / name).read_bytes(), f"{name} differs from its golden file"


def _normalised_source(path: Path) -> str:
    text, _ = decode(path.read_bytes())
    text, _ = repair(text)
    return re.sub(r"\s+", " ", unescape_markdown(text))


# Values a template composes from codes or from several source values (not copied text).
COMPOSED = re.compile(
    r"^(Study Type|Allocation|Intervention Model|Primary Purpose|Masking|Phase|Who Masked)\b|×10\^"
    r"|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"  # deterministic resource ids
    r"|^(Transformed with )?trialexport \S+$|^ClinicalTrials\.gov record NCT\d{8}$"  # provenance
    r"|^(Principal investigator|Study director|Study chair|Sponsor-investigator|Overall official"
    r"|Central contact)(, |$)"  # a merged person's roles
)


def _without(value, keys: set[str]):
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("doc", [SEED_A, SEED_B, *SAMPLE_DOCS], ids=lambda p: p.stem)
def test_every_output_text_is_traceable_to_the_source(doc, version):
    """Nothing invented: every text value in the bundle and the PRS XML (past codes and short
    labels) is found in the source document."""
    result = export(doc, version)
    assert result.status == "exported", [i for i in result.issues if i.severity == "error"]
    source = _normalised_source(doc)
    bundle = json.loads(next(d for n, d in result.files.items() if n.endswith("bundle.json")))
    prs = next(d for n, d in result.files.items() if n.endswith("prs.xml"))
    # not the request URLs, the codings (codes and their displays) nor the generated narratives
    # (they restate the elements, in markup)
    resources = [_without(entry["resource"], {"text", "coding"}) for entry in bundle["entry"]]
    for value in [*json_values(resources), *xml_values(prs)]:
        text = re.sub(r"\s+", " ", value).strip()
        if len(text) < 25 or COMPOSED.search(text) or text.startswith(("http", "urn:")):
            continue
        if text == f"seeds/{doc.name}":  # the transformed input, cited by name
            continue
        assert text in source, f"{doc.name}: {text[:80]!r} is not in the source"


def test_ids_and_identifiers_are_unique_across_the_seeds():
    ids = []
    for seed in (SEED_A, SEED_B):
        bundle = json.loads(next(d for n, d in export(seed).files.items() if n.endswith("bundle.json")))
        ids += [bundle["id"], *(e["fullUrl"] for e in bundle["entry"])]
    assert len(ids) == len(set(ids)) == 6


def test_invalid_output_rejects_the_study_with_the_validators_reason(tmp_path):
    overlay = tmp_path / "ctgov"
    overlay.mkdir()
    (overlay / "prs.xml.j2").write_text(
        '<prs:study_collection xmlns:prs="http://clinicaltrials.gov/prs"><bogus/></prs:study_collection>'
    )
    result = export(SEED_A, templates=str(tmp_path))
    assert result.status == "rejected" and result.resources == {}  # nothing for the NDJSON files
    assert sorted(result.files) == [  # kept for inspection, outside studies/
        f"rejected/{result.key}/fhir-r4-bundle.json",
        f"rejected/{result.key}/prs.xml",
        f"rejected/{result.key}/study.json",
    ]
    [error] = [i for i in result.issues if i.severity == "error"]
    assert error.message.startswith("PRS XML invalid:") and "bogus" in error.message


def test_broken_template_rejects_with_a_template_error(tmp_path):
    (tmp_path / "ctgov").mkdir()
    (tmp_path / "ctgov" / "prs.xml.j2").write_text("<a>{{ study.no_such_field }}</a>")
    result = export(SEED_A, templates=str(tmp_path))
    assert result.status == "rejected"
    assert any(i.code == "template-error" and "no_such_field" in i.message for i in result.issues)


def test_a_template_in_the_overlay_wins_and_the_rest_come_from_the_shipped_set(tmp_path):
    shipped = (ROOT / "templates" / "fhir" / "r4" / "research_study.json.j2").read_text()
    anchor = '"resourceType": "ResearchStudy",'
    assert anchor in shipped
    overlay = tmp_path / "fhir" / "r4"
    overlay.mkdir(parents=True)
    (overlay / "research_study.json.j2").write_text(
        shipped.replace(anchor, anchor + ' "language": "en-GB",', 1)
    )
    result = export(SEED_A, templates=str(tmp_path))
    assert result.status == "exported", result.issues
    bundle = json.loads(next(d for n, d in result.files.items() if n.endswith("bundle.json")))
    study, plan = (e["resource"] for e in bundle["entry"])
    assert study["language"] == "en-GB" and "language" not in plan
    assert (
        export(SEED_A).files[f"studies/{result.key}/prs.xml"] == result.files[f"studies/{result.key}/prs.xml"]
    )


def _names(result) -> list[str]:
    return sorted(Path(name).name for name in result.files)


@pytest.mark.parametrize(
    ("formats", "written"),
    [
        (("fhir",), ["fhir-r4-bundle.json", "study.json"]),
        (("prs",), ["prs.xml", "study.json"]),
        (("prs", "public"), ["prs.xml", "public.xml", "study.json"]),
    ],
)
def test_formats_choose_the_outputs_and_the_bytes_stay_those_of_a_full_export(formats, written):
    """A format not asked for is not rendered, validated or traced; the others are unchanged."""
    path = ROOT / "tests" / "fixtures" / "ctgov" / "xml" / "NCT03494712.xml"
    [study] = read_document(path.read_bytes(), path.name)
    full = export_study(study, MappingSettings(prs_org_name="EXAMPLE-ORG"))
    part = export_study(study, MappingSettings(prs_org_name="EXAMPLE-ORG", formats=formats))
    assert full.status == part.status == "exported"
    assert _names(part) == written
    assert all(full.files[name] == data for name, data in part.files.items())
    assert bool(part.resources) == ("fhir" in formats)
    outputs = {"fhir": "FHIR R4 bundle", "prs": "PRS XML", "public": "public XML"}
    not_mapped = {i.message.split(" has no element")[0] for i in part.issues if i.code == "not-mapped"}
    assert not_mapped <= {outputs[f] for f in formats}


def test_an_unknown_format_is_refused():
    [study] = read_document(SEED_A.read_bytes(), "seeds/a.txt")
    with pytest.raises(ValueError, match="unknown output formats"):
        export_study(study, MappingSettings(formats=("fhir", "pdf")))


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_deep_validation_exports_the_same_bytes(version):
    """deep_validation adds fhir.resources' reading of every resource; a valid study's files are
    the same."""
    for seed in (SEED_A, SEED_B):
        [study] = read_document(seed.read_bytes(), f"seeds/{seed.name}")
        settings = MappingSettings(prs_org_name="EXAMPLE-ORG", fhir_version=version)
        fast = export_study(study, settings)
        deep = export_study(study, MappingSettings(**{**vars(settings), "deep_validation": True}))
        assert fast.status == deep.status == "exported"
        assert fast.files == deep.files


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_a_study_that_starts_on_a_day_of_its_completion_month_is_exported(version):
    """A real record whose start (a day) lies in the month its estimated completion names: the
    two are equal to the month, which FHIRPath's per-1 does not count against the period (R4's
    per-1 was read as a string comparison, and the study was rejected)."""
    record = json.loads(
        (ROOT / "tests" / "fixtures" / "ctgov" / "json" / "v2" / "NCT00763412.json").read_text()
    )
    status = record["protocolSection"]["statusModule"]
    status["startDateStruct"] = {"date": "2019-03-15", "type": "ACTUAL"}
    status["primaryCompletionDateStruct"] = {"date": "2019-03", "type": "ESTIMATED"}
    status["completionDateStruct"] = {"date": "2019-03", "type": "ESTIMATED"}
    [study] = read_document(json.dumps(record).encode(), "NCT00763412.json")
    result = export_study(study, MappingSettings(fhir_version=version))
    assert result.status == "exported", [i.message for i in result.issues if i.severity == "error"]
    bundle = json.loads(next(data for name, data in result.files.items() if "bundle" in name))
    study_resource = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ResearchStudy"
    )
    assert (study_resource["period"]["start"], study_resource["period"]["end"]) == ("2019-03-15", "2019-03")
