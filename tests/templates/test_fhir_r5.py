"""The R5 bundle: same study model, R5's registry elements (progressStatus, recruitment,
comparisonGroup, outcomeMeasure, associatedParty, label)."""

from typing import get_args

import pytest

from mappers.context import MappingSettings, build_context
from mappers.finish import finish_json
from mappers.model import OverallStatus
from mappers.render import render
from validation.fhir import validate_bundle

SETTINGS = MappingSettings(fhir_version="R5")


def bundle_for(study) -> dict:
    return finish_json(render("fhir/r5/bundle.json.j2", build_context(study, SETTINGS)))


def resources(bundle):
    study, plan = (e["resource"] for e in bundle["entry"])
    return study, plan


def codes(concept) -> list[str]:
    return [c["code"] for c in concept.get("coding", [])]


@pytest.fixture(scope="module")
def rich(rich_study):
    return bundle_for(rich_study)


def test_rich_r5_bundle_is_valid(rich):
    assert validate_bundle(rich, "R5") == []
    assert validate_bundle(rich, "R4") != []  # R5 elements are not R4


def test_r5_registry_elements(rich, rich_study):
    study, _ = resources(rich)
    assert study["status"] == "active"  # a registered record (NCT id): published
    assert study["descriptionSummary"] == rich_study.brief_summary
    assert study["description"] == rich_study.detailed_description
    assert [(codes(x["type"]), x["value"]) for x in study["label"]] == [
        (["official"], rich_study.official_title),
        (["acronym"], "CART-19"),
    ]
    assert codes(study["phase"]) == ["phase-1-phase-2"]
    assert study["phase"]["coding"][0]["system"] == "http://hl7.org/fhir/research-study-phase"
    assert study["recruitment"]["actualNumber"] == 42 and "targetNumber" not in study["recruitment"]
    state, *dated = study["progressStatus"]
    assert codes(state["state"]) == ["temporarily-closed-to-accrual", "SUSPENDED"]
    assert codes(dated[0]["state"]) == ["overall-study"]
    # the completion date ends the overall-study period; the start is actual, the end estimated
    assert dated[0]["period"] == {"start": "2020-03", "end": "2024-12-31"} and dated[0]["actual"] is False
    roles = [codes(p["role"]) for p in study["associatedParty"]]
    assert ["lead-sponsor"] in roles and ["primary-investigator"] in roles and ["study-director"] in roles
    assert ["recruitment-contact"] in roles


def test_comparison_groups_point_at_contained_exposures(rich, rich_study):
    study, _ = resources(rich)
    contained = {c["id"]: c for c in study["contained"]}
    groups = study["comparisonGroup"]
    assert [g["name"] for g in groups] == [a.label for a in rich_study.arms]
    exposures = [ref["reference"][1:] for g in groups for ref in g.get("intendedExposure", [])]
    assert exposures and all(contained[i]["resourceType"] == "EvidenceVariable" for i in exposures)


def test_outcome_measures_keep_kind_and_time_frame(rich, rich_study):
    study, _ = resources(rich)
    measures = study["outcomeMeasure"]
    assert [m["name"] for m in measures] == [o.measure for o in rich_study.outcomes]
    assert [codes(m["type"][0]) for m in measures] == [["primary"], ["secondary"], ["exploratory"]]
    frames = [m["extension"][0]["valueString"] for m in measures]
    assert frames == [o.time_frame for o in rich_study.outcomes]


def test_minimal_r5_bundle(minimal_study):
    bundle = bundle_for(minimal_study)
    assert validate_bundle(bundle, "R5") == []
    study, plan = resources(bundle)
    assert study["status"] == "unknown" and "progressStatus" not in study and "title" not in study
    assert plan["resourceType"] == "PlanDefinition" and plan["action"]


@pytest.mark.parametrize("status", get_args(OverallStatus))
def test_every_overall_status_gives_a_valid_r5_bundle(rich_study, status):
    study = rich_study.model_copy(
        update={"status": rich_study.status.model_copy(update={"overall_status": status})}
    )
    bundle = bundle_for(study)
    assert validate_bundle(bundle, "R5") == []
    [current] = [p for p in resources(bundle)[0]["progressStatus"] if "period" not in p]
    # WITHHELD and UNKNOWN have no R5 state: the CT.gov coding alone, rather than a guess.
    assert codes(current["state"])[-1] == status
    assert len(codes(current["state"])) == (1 if status in ("WITHHELD", "UNKNOWN") else 2)
    states = [c for p in resources(bundle)[0]["progressStatus"] for c in codes(p["state"])]
    assert "completed" not in states or status in ("COMPLETED", "APPROVED_FOR_MARKETING")
