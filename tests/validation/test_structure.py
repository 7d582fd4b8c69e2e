"""The two structure validators: the official FHIR JSON Schema (compiled; the export's) and
fhir.resources (which re-reads what the schema refuses, and reads everything under ``deep``).
Every bundle the fixtures give passes both; every broken resource of the corpus below is refused
by both export modes, by the schema alone, and by fhir.resources alone but for the laxities of its
models listed in ``FHIR_RESOURCES_ACCEPTS`` (which is why the schema, not fhir.resources, decides)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from mappers.context import MappingSettings, build_context
from mappers.finish import finish_json
from mappers.readers import RejectedInput, read_document
from mappers.render import render
from tests.conftest import ROOT
from tests.validation.test_fhir import valid_bundle
from validation.fhir import _model_structure_issues, _split, _structure_issues, validate_bundle
from validation.structure import SCHEMAS, resource_issues

FIXTURES = ROOT / "tests" / "fixtures"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def _inputs() -> list[Path]:
    found = [p for p in sorted((FIXTURES / "ctgov").rglob("*")) if p.suffix in (".json", ".xml", ".csv")]
    found += sorted((FIXTURES / "samples" / "docs").glob("*.txt")) + sorted((ROOT / "seeds").glob("*.txt"))
    return found


def _bundles(path: Path, version: str) -> list[dict]:
    try:
        studies = read_document(path.read_bytes(), path.name)
    except RejectedInput:
        return []
    settings = MappingSettings(fhir_version=version)
    template = f"fhir/{version.lower()}/bundle.json.j2"
    return [finish_json(render(template, build_context(study, settings))) for study in studies]


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("path", _inputs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_fixture_bundle_passes_both_validators(path, version):
    bundles = _bundles(path, version)
    for bundle in bundles:
        assert _schema_alone(bundle, version) == [] and _model_structure_issues(bundle, version) == []
        assert validate_bundle(bundle, version) == validate_bundle(bundle, version, deep=True) == []


def test_every_fixture_form_gives_bundles():
    assert sum(len(_bundles(p, "R4")) for p in _inputs() if p.suffix != ".csv") >= 60


# ---- broken resources ---------------------------------------------------------------------------


def study(b: dict) -> dict:
    return b["entry"][0]["resource"]


def plan(b: dict) -> dict:
    return b["entry"][1]["resource"]


def group(b: dict) -> dict:
    return study(b)["contained"][0]


def _set(get: Callable[[dict], dict], key: str, value) -> Callable[[dict], None]:
    return lambda b: get(b).__setitem__(key, value)


def _drop(get: Callable[[dict], dict], key: str) -> Callable[[dict], None]:
    return lambda b: get(b).pop(key)


# name -> (mutation, layer that must catch it: "structure" (both structure validators themselves),
# "rules" (the bundle rules) or "profile" (bindings / invariants)). Each is also refused by
# validate_bundle in both modes.
BROKEN: dict[str, tuple[Callable[[dict], None], str]] = {
    # wrong types
    "title is a number": (_set(study, "title", 5), "structure"),
    "status is a list": (_set(study, "status", ["active"]), "structure"),
    "identifier is an object": (_set(study, "identifier", {"value": "x"}), "structure"),
    "contained boolean as text": (_set(group, "actual", "yes"), "structure"),
    "reference is a number": (_set(study, "sponsor", {"reference": 7}), "structure"),
    "bundle type is a number": (_set(lambda b: b, "type", 3), "structure"),
    "extension value of the wrong type": (
        lambda b: study(b)["extension"][0]["extension"][0].__setitem__("valueString", {"text": "x"}),
        "structure",
    ),
    # unknown elements
    "unknown element": (_set(study, "bogus", 1), "structure"),
    "unknown nested element": (_set(lambda b: plan(b)["action"][0], "colour", "red"), "structure"),
    "unknown element in a contained resource": (_set(group, "members", 3), "structure"),
    "unknown choice type": (
        lambda b: study(b)["extension"][0]["extension"][0].update(valueStrng="x"),
        "structure",
    ),
    "R5 element in R4": (_set(study, "descriptionSummary", "Short"), "structure"),
    "unknown element on the bundle": (_set(lambda b: b, "meta2", {}), "structure"),
    "unknown resource type": (_set(study, "resourceType", "ResearchProject"), "structure"),
    "unknown contained resource type": (
        lambda b: study(b)["contained"].append({"resourceType": "Sponsor", "id": "s"}),
        "structure",
    ),
    # missing required elements
    "ResearchStudy.status missing": (_drop(study, "status"), "structure"),
    "PlanDefinition.status missing": (_drop(plan, "status"), "structure"),
    "Group.type missing (contained)": (_drop(group, "type"), "structure"),
    "Group.actual missing (contained)": (_drop(group, "actual"), "structure"),
    "Extension.url missing": (_drop(lambda b: study(b)["extension"][0], "url"), "structure"),
    "Bundle.type missing": (_drop(lambda b: b, "type"), "structure"),
    "request.method missing": (_drop(lambda b: b["entry"][0]["request"], "method"), "structure"),
    "Group.characteristic.value[x] missing": (
        _set(group, "characteristic", [{"code": {"text": "age"}, "exclude": False}]),
        "structure",
    ),
    "PlanDefinition.goal.description missing": (
        _set(plan, "goal", [{"priority": {"text": "high"}}]),
        "structure",
    ),
    # bad codes
    "code with a leading blank": (_set(study, "status", " active"), "structure"),
    "code with two blanks": (_set(plan, "status", "act  ive"), "structure"),
    "status not in its value set": (_set(study, "status", "bogus"), "profile"),
    "bundle type not in its value set": (_set(lambda b: b, "type", "transactions"), "profile"),
    "contained Group.type not in its value set": (_set(group, "type", "persons"), "profile"),
    # empty elements
    "empty string": (_set(study, "title", ""), "structure"),
    "blank string": (_set(study, "title", "   "), "rules"),
    "empty object": (_set(study, "period", {}), "rules"),
    "empty list": (_set(study, "keyword", []), "rules"),
    # bad dates
    "day 30 of February": (_set(study, "period", {"start": "2021-02-30"}), "structure"),
    "month 13": (_set(study, "period", {"start": "2021-13"}), "structure"),
    "two-digit year": (_set(study, "period", {"start": "21-01-01"}), "structure"),
    "time without a time zone": (_set(study, "period", {"start": "2021-01-01T10:00:00"}), "structure"),
    "date as a number": (_set(study, "period", {"start": 2021}), "structure"),
    "period ends before it starts": (_set(study, "period", {"start": "2022", "end": "2021"}), "profile"),
    # bad ids
    "id with a blank": (_set(study, "id", "a b"), "structure"),
    "id of 65 characters": (_set(plan, "id", "x" * 65), "structure"),
    "contained id with a slash": (_set(group, "id", "enrol/ment"), "structure"),
    "id is a number": (_set(study, "id", 12), "structure"),
}


# fhir.resources' models coerce where FHIR does not: "yes" and 1 are booleans to them, a JSON number
# a date; and a resource id has no length limit. The schema refuses all three.
FHIR_RESOURCES_ACCEPTS = {"contained boolean as text", "date as a number", "id of 65 characters"}


def _schema_alone(bundle: dict, version: str = "R4") -> list:
    shell, resources = _split(bundle)
    found = resource_issues(shell, version, "Bundle")
    for _, resource in resources:
        assert isinstance(resource, dict)
        found += resource_issues(resource, version, str(resource.get("resourceType")))
    return found


@pytest.mark.parametrize("name", BROKEN)
def test_each_broken_resource_is_refused_by_both_validators(name):
    mutate, layer = BROKEN[name]
    bundle = valid_bundle()
    mutate(bundle)
    assert validate_bundle(bundle) and validate_bundle(bundle, deep=True)
    if layer == "structure":
        fast, deep = _structure_issues(bundle, "R4"), _structure_issues(bundle, "R4", deep=True)
        assert fast and deep and _schema_alone(bundle), (fast, deep)
        assert all(i.severity == "error" for i in fast + deep)
        assert bool(_model_structure_issues(bundle, "R4")) is (name not in FHIR_RESOURCES_ACCEPTS)


ODD_ENTRIES: dict[str, object] = {
    "no resource type": {"id": "x"},
    "unknown resource type": {"resourceType": "Nonesuch"},
    "a string": "ResearchStudy",
    "null": None,
    "an empty object": {},
}


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_the_whole_bundle_passes_the_schema_only_when_its_parts_do(version):
    """``_valid_whole`` stands for the shell and each entry resource checked apart (the
    messages' places): a bundle it passes gives no structure issue, broken anywhere or not."""
    from validation.fhir import _valid_whole

    cases = []
    for name, (mutate, _layer) in BROKEN.items():
        bundle = valid_bundle()
        mutate(bundle)
        cases.append((name, bundle))
    for name, resource in ODD_ENTRIES.items():
        bundle = valid_bundle()
        bundle["entry"][0]["resource"] = resource
        cases.append((name, bundle))
    shell = valid_bundle()
    for entry in shell["entry"]:
        del entry["resource"]
    cases += [("entries without resources", shell), ("the valid bundle", valid_bundle())]
    for name, bundle in cases:
        apart = _structure_issues(copy.deepcopy(bundle), version, deep=True)
        assert not _valid_whole(bundle, version) or apart == [], name
    assert _valid_whole(valid_bundle(), "R4")


def test_the_valid_bundle_of_the_corpus_passes_both():
    bundle = valid_bundle()
    assert _structure_issues(bundle, "R4") == _structure_issues(bundle, "R4", deep=True) == []


def test_a_primitive_may_be_present_as_its_extension_alone():
    """``_status`` with data-absent-reason satisfies a required ``status`` (R4 free-text studies)."""
    bundle = valid_bundle()
    del study(bundle)["status"]
    study(bundle)["_status"] = {"extension": [{"url": DAR, "valueCode": "unknown"}]}
    assert _structure_issues(bundle, "R4") == _structure_issues(bundle, "R4", deep=True) == []


def test_schema_errors_point_at_the_element():
    resource = copy.deepcopy(study(valid_bundle()))
    resource["period"] = {"start": "2021-02-30"}
    del resource["extension"][0]["url"]
    found = {(i.field, i.code) for i in resource_issues(resource, "R4", "ResearchStudy")}
    assert found == {
        ("ResearchStudy.period.start", "fhir-invalid"),
        ("ResearchStudy.extension[0].url", "fhir-invalid"),
    }


def test_the_readable_message_is_fhir_resources_where_it_has_one():
    bundle = valid_bundle()
    study(bundle)["title"] = 5
    [issue] = _structure_issues(bundle, "R4")
    assert issue.field == "ResearchStudy.title" and "valid string" in issue.message


def test_the_schemas_record_their_package():
    import orjson

    packages = {v: orjson.loads(p.read_bytes())["package"] for v, p in SCHEMAS.items()}
    assert packages == {"R4": "hl7.fhir.r4b.core@4.3.0", "R5": "hl7.fhir.r5.core@5.0.0"}
