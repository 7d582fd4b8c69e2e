"""The FHIR R4 bundle templates: what a rich and a bare study become, and that it stays valid."""

from __future__ import annotations

import uuid
from typing import get_args

import pytest

from mappers.context import EUDRACT_SYSTEM, ID_NAMESPACE, NCT_SYSTEM, MappingSettings, build_context
from mappers.finish import dump_json, finish_json
from mappers.model import (
    Eligibility,
    Enrollment,
    Outcome,
    OverallStatus,
    Person,
    Phase,
    Provenance,
    StatusInfo,
    Study,
)
from mappers.render import environment, render
from validation.fhir import validate_bundle

TEMPLATE = "fhir/r4/bundle.json.j2"
PROVENANCE = Provenance(source="tests/fhir.txt", layout="test", content_hash="0" * 64)
R4_STUDY_STATUS = {
    "active",
    "administratively-completed",
    "approved",
    "closed-to-accrual",
    "closed-to-accrual-and-intervention",
    "completed",
    "disapproved",
    "in-review",
    "temporarily-closed-to-accrual",
    "temporarily-closed-to-accrual-and-intervention",
    "withdrawn",
}
DATA_ABSENT_REASONS = {"unknown", "asked-unknown", "temp-unknown", "not-asked", "asked-declined", "masked"}
LABEL_URL = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.label"
TIME_FRAME_URL = "https://trialexport.org/fhir/StructureDefinition/outcome-time-frame"
CTGOV = "https://clinicaltrials.gov/data-about-studies/study-data-structure#enum-"
ABSENT_URL = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def bundle_for(study: Study) -> dict:
    return finish_json(render(TEMPLATE, build_context(study, MappingSettings())), TEMPLATE)


def resources(bundle: dict) -> tuple[dict, dict]:
    study, plan = (entry["resource"] for entry in bundle["entry"])
    assert (study["resourceType"], plan["resourceType"]) == ("ResearchStudy", "PlanDefinition")
    return study, plan


def contained(resource: dict) -> dict[str, dict]:
    return {inner["id"]: inner for inner in resource.get("contained", [])}


def local_targets(value) -> list[str]:
    """Every "#id" a resource points at, by Reference or canonical."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if (
                (key == "reference" or key.endswith("Canonical"))
                and isinstance(item, str)
                and item[:1] == "#"
            ):
                found.append(item[1:])
            else:
                found.extend(local_targets(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(local_targets(item))
    return found


def empty_elements(value, path="$") -> list[str]:
    found = []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", item) for i, item in enumerate(value))
    else:
        return found
    for key, item in items:
        where = f"{path}.{key}" if isinstance(value, dict) else f"{path}{key}"
        if item is None or item == [] or item == {} or (isinstance(item, str) and not item.strip()):
            found.append(where)
        found.extend(empty_elements(item, where))
    return found


def sub(extension: dict, url: str) -> dict:
    return next(e for e in extension["extension"] if e["url"] == url)


def characteristic(group: dict, text: str) -> dict:
    return next(c for c in group["characteristic"] if c["code"]["text"] == text)


@pytest.fixture(scope="module")
def rich_bundle(rich_study) -> dict:
    return bundle_for(rich_study)


@pytest.fixture(scope="module")
def minimal_bundle(minimal_study) -> dict:
    return bundle_for(minimal_study)


# --- the rich study -------------------------------------------------------------------------------


def test_rich_bundle_is_valid(rich_bundle):
    assert validate_bundle(rich_bundle) == []
    assert empty_elements(rich_bundle) == []


def test_rich_bundle_transaction(rich_bundle):
    assert rich_bundle["type"] == "transaction"
    requests = [entry["request"] for entry in rich_bundle["entry"]]
    assert requests == [
        {"method": "PUT", "url": "ResearchStudy?identifier=http%3A//clinicaltrials.gov|NCT01234567"},
        {"method": "PUT", "url": "PlanDefinition?identifier=http%3A//clinicaltrials.gov|NCT01234567"},
    ]
    for entry in rich_bundle["entry"]:  # conditional PUTs: the server owns the id (FHIR http.html)
        assert "id" not in entry["resource"] and entry["fullUrl"].startswith("urn:uuid:")
    study, plan = resources(rich_bundle)
    assert study["protocol"] == [{"reference": rich_bundle["entry"][1]["fullUrl"]}]
    assert plan["identifier"] == [{"system": NCT_SYSTEM, "value": "NCT01234567"}]


def test_rich_research_study_values(rich_bundle):
    study, _ = resources(rich_bundle)
    assert study["title"] == "CAR-T Cells for Relapsed Lymphoma"
    assert study["status"] == "temporarily-closed-to-accrual"
    assert study["reasonStopped"] == {"text": "Manufacturing hold"}
    assert study["phase"]["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/research-study-phase",
            "code": "phase-1-phase-2",
            "display": "Phase 1/Phase 2",
        }
    ]
    assert study["phase"]["text"] == "Phase 1/Phase 2"
    assert [c["text"] for c in study["category"]] == [
        "Study Type: Interventional",
        "Allocation: N/A",
        "Intervention Model: Single Group Assignment",
        "Primary Purpose: Treatment",
        "Masking: None (Open Label)",
    ]
    assert study["primaryPurposeType"]["coding"][0]["code"] == "treatment"
    assert [f["text"] for f in study["focus"]] == ["CD19 CAR-T cells", "Fludarabine", "Tocilizumab"]
    assert [c["text"] for c in study["condition"]] == ["B-cell Lymphoma", "Leukemia"]
    assert [k["text"] for k in study["keyword"]] == ["CAR-T", "CD19"]
    assert [c["text"] for c in study["location"]] == ["United States", "Germany"]
    assert study["description"] == "Background.\n\nDesign: two arms."
    assert study["period"] == {"start": "2020-03", "end": "2024-12-31"}
    assert [(a["name"], a["type"]["text"]) for a in study["arm"]] == [
        ("Dose escalation", "Experimental"),
        ("Expansion", "Active Comparator"),
    ]
    assert [(o["name"], o["type"]["coding"][0]["code"]) for o in study["objective"]] == [
        ("Dose-limiting toxicities", "primary"),
        ("Overall response", "secondary"),
        ("CAR-T persistence", "exploratory"),
    ]


def test_rich_identifiers(rich_bundle):
    study, _ = resources(rich_bundle)
    nct, org, secondary = study["identifier"]
    assert nct == {"use": "official", "system": NCT_SYSTEM, "value": "NCT01234567"}
    assert NCT_SYSTEM == "http://clinicaltrials.gov"  # HL7 terminology's NamingSystem ClinicalTrialsGov
    assert org["value"] == "ORG-2020-01" and org["assigner"] == {"display": "University Hospital"}
    assert secondary == {
        "type": {
            "coding": [{"system": CTGOV + "SecondaryIdType", "code": "EUDRACT_NUMBER"}],
            "text": "EudraCT Number",
        },
        "system": EUDRACT_SYSTEM,
        "value": "2020-000123-45",
        "assigner": {"display": "EMA"},
    }


def test_rich_titles_and_summary_extensions(rich_bundle):
    study, _ = resources(rich_bundle)
    labels = {
        sub(ext, "type")["valueCodeableConcept"]["coding"][0]["code"]: sub(ext, "value")["valueString"]
        for ext in study["extension"]
        if ext["url"] == LABEL_URL
    }
    assert labels == {
        "official": "A Phase 1/2 Study of Anti-CD19 CAR-T Cells in Relapsed or Refractory B-cell Lymphoma",
        "acronym": "CART-19",
    }
    summary = [e for e in study["extension"] if e["url"].endswith("ResearchStudy.descriptionSummary")]
    assert summary == [
        {
            "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.descriptionSummary",
            "valueMarkdown": "Tests whether **CAR-T cells** are safe.",
        }
    ]


def test_rich_people_and_organisations(rich_bundle):
    study, _ = resources(rich_bundle)
    inner = contained(study)
    assert study["sponsor"]["reference"] == "#sponsor"
    assert inner["sponsor"]["name"] == "University Hospital"
    assert inner["collaborator-1"]["name"] == "National Cancer Institute"
    parties = [e for e in study["extension"] if e["url"].endswith("ResearchStudy.associatedParty")]
    roles = [sub(p, "role")["valueCodeableConcept"]["coding"][0]["code"] for p in parties]
    assert roles == ["collaborator", "study-director"]
    assert sub(parties[0], "party")["valueReference"]["reference"] == "#collaborator-1"
    assert sub(parties[1], "name")["valueString"] == "Grace Hopper, PhD"
    # the principal investigator's affiliation: a PractitionerRole of the contained Practitioner
    assert study["principalInvestigator"]["reference"] == "#principal-investigator-role"
    assert inner["principal-investigator-role"]["practitioner"] == {"reference": "#principal-investigator"}
    assert inner["principal-investigator"]["name"] == [{"text": "Ada Lovelace, MD"}]
    assert study["contact"] == [
        {"name": "Grace Hopper, PhD"},
        {
            "name": "Trial Office",
            "telecom": [
                {"system": "phone", "value": "+1 555 0100", "use": "work"},
                {"system": "email", "value": "trials@example.org", "use": "work"},
            ],
        },
    ]


def test_rich_sites(rich_bundle):
    study, _ = resources(rich_bundle)
    inner = contained(study)
    assert [s["reference"] for s in study["site"]] == ["#site-1", "#site-2", "#site-3"]
    assert inner["site-1"]["name"] == "University Hospital"
    assert inner["site-1"]["address"] == {
        "city": "Boston",
        "state": "Massachusetts",
        "postalCode": "02115",
        "country": "US",  # ISO 3166 code, as FHIR recommends for Address.country
    }
    assert inner["site-1"]["telecom"] == [{"system": "phone", "value": "+1 555 0101", "use": "work"}]


def test_rich_enrollment_group(rich_bundle):
    study, _ = resources(rich_bundle)
    assert study["enrollment"] == [{"reference": "#enrollment"}]
    group = contained(study)["enrollment"]
    assert (group["type"], group["actual"], group["quantity"]) == ("person", True, 42)
    assert characteristic(group, "Eligibility criteria")["valueCodeableConcept"]["text"].startswith(
        "Inclusion"
    )
    assert characteristic(group, "Sex")["valueCodeableConcept"] == {"text": "All"}
    age = characteristic(group, "Age")["valueRange"]
    ucum = "http://unitsofmeasure.org"
    assert age == {
        "low": {"value": 18, "unit": "years", "system": ucum, "code": "a"},
        "high": {"value": 75, "unit": "years", "system": ucum, "code": "a"},
    }
    assert characteristic(group, "Accepts healthy volunteers")["valueBoolean"] is False
    assert all(c["exclude"] is False for c in group["characteristic"])


def test_rich_goals_keep_time_frames(rich_bundle):
    _, plan = resources(rich_bundle)
    goals = plan["goal"]
    assert [g["category"]["coding"][0]["code"] for g in goals] == ["primary", "secondary", "exploratory"]
    assert [g["description"]["text"] for g in goals] == [
        "Dose-limiting toxicities",
        "Overall response",
        "CAR-T persistence",
    ]
    assert [g["extension"] for g in goals] == [
        [{"url": TIME_FRAME_URL, "valueString": "28 days"}],
        [{"url": TIME_FRAME_URL, "valueString": "3 years"}],
        [{"url": TIME_FRAME_URL, "valueString": "Up to 2 years after infusion"}],
    ]
    ucum = "http://unitsofmeasure.org"
    assert goals[0]["target"] == [
        {"measure": {"text": "CTCAE v5"}, "due": {"value": 28, "unit": "days", "system": ucum, "code": "d"}}
    ]
    assert goals[1]["target"][0]["due"] == {"value": 3, "unit": "years", "system": ucum, "code": "a"}
    assert "target" not in goals[2]  # no description, and the time frame is not a plain duration


def test_rich_protocol_actions_and_dose(rich_bundle):
    _, plan = resources(rich_bundle)
    assert plan["status"] == "unknown"
    assert plan["type"]["coding"][0]["code"] == "clinical-protocol"
    assert plan["title"] == "CAR-T Cells for Relapsed Lymphoma"
    assert plan["description"] == "Tests whether **CAR-T cells** are safe."
    escalation, expansion, rescue = plan["action"]
    assert escalation["title"] == "Dose escalation" and escalation["code"] == [
        {
            "coding": [{"system": CTGOV + "ArmGroupType", "code": "EXPERIMENTAL", "display": "Experimental"}],
            "text": "Experimental",
        }
    ]
    assert escalation["definitionCanonical"] == "#arm-1-dose"
    assert [(a["title"], a["definitionCanonical"]) for a in escalation["action"]] == [
        ("CD19 CAR-T cells", "#intervention-1"),  # linked by the intervention's arm label
        ("Fludarabine", "#intervention-2"),  # linked by the arm's "Drug: Fludarabine"
    ]
    assert [a["definitionCanonical"] for a in expansion["action"]] == ["#intervention-2"]
    assert "definitionCanonical" in rescue and rescue["title"] == "Tocilizumab"  # linked to no arm
    inner = contained(plan)
    assert inner["intervention-1"]["title"] == "CD19 CAR-T cells"
    assert inner["intervention-1"]["subtitle"] == "CTL019; tisagenlecleucel"
    assert inner["intervention-1"]["code"] == {
        "coding": [{"system": CTGOV + "InterventionType", "code": "BIOLOGICAL", "display": "Biological"}],
        "text": "Biological",
    }
    assert inner["arm-1-dose"]["dosage"] == [
        {
            "text": "0.5×10^6 cells/kg",
            "doseAndRate": [
                {
                    "doseQuantity": {
                        "value": 0.5,
                        "unit": "10^6 cells/kg",
                        "system": "http://unitsofmeasure.org",
                        "code": "10*6{cells}/kg",
                    }
                }
            ],
        }
    ]


def test_rich_contained_references_resolve_both_ways(rich_bundle):
    """Every "#id" resolves, and every contained resource is pointed at — or, as a site's
    ResearchStudy (partOf "#"), points at the resource that contains it (dom-3)."""
    for resource in resources(rich_bundle):
        inner = contained(resource)
        targets = set(local_targets(resource)) - {""}
        part_of_container = {i for i, c in inner.items() if {"reference": "#"} in c.get("partOf", [])}
        assert targets <= set(inner) and set(inner) == targets | part_of_container


# --- the minimal study ----------------------------------------------------------------------------


def test_minimal_bundle_is_valid_and_has_no_empty_elements(minimal_bundle):
    assert validate_bundle(minimal_bundle) == []
    assert empty_elements(minimal_bundle) == []


def test_minimal_status_is_data_absent_not_invented(minimal_bundle):
    study, _ = resources(minimal_bundle)
    assert "status" not in study
    assert study["_status"] == {"extension": [{"url": ABSENT_URL, "valueCode": "unknown"}]}


def test_minimal_has_no_derived_title(minimal_bundle):
    study, plan = resources(minimal_bundle)
    assert "title" not in study and "title" not in plan
    assert not any(e["url"] == LABEL_URL for e in study["extension"])
    assert plan["description"] == "A dose-finding study."


def test_minimal_local_identifier_drives_the_request(minimal_bundle):
    study, plan = resources(minimal_bundle)
    system = MappingSettings().local_identifier_system
    assert study["identifier"] == [{"system": system, "value": "dose finding protocol.txt"}]
    assert plan["identifier"] == study["identifier"]
    assert minimal_bundle["entry"][0]["request"]["url"] == (
        "ResearchStudy?identifier=urn%3Atrialexport%3Asource-document|dose%20finding%20protocol.txt"
    )


def test_minimal_site_and_no_enrollment(minimal_bundle):
    study, _ = resources(minimal_bundle)
    assert contained(study) == {
        "site-1": {
            "resourceType": "Location",
            "id": "site-1",
            "address": {"city": "Lyon", "country": "FR"},
        }
    }
    assert study["site"] == [{"reference": "#site-1"}]
    assert "enrollment" not in study


def test_minimal_dose_groups_give_the_one_intervention(minimal_study, minimal_bundle):
    """Seed 004's shape: one unnamed intervention, three dose groups, no stated link. Each dose
    group gives the one intervention (an assumption, reported); its dose definition is "the
    intervention at this dose", so there is no untitled intervention definition and no orphan
    action."""
    _, plan = resources(minimal_bundle)
    inner = contained(plan)
    assert sorted(inner) == ["arm-1-dose", "arm-2-dose", "arm-3-dose"]
    assert [(a["title"], a["definitionCanonical"]) for a in plan["action"]] == [
        ("Dose level 1", "#arm-1-dose"),
        ("Dose level 2", "#arm-2-dose"),
        ("Dose level 3", "#arm-3-dose"),
    ]
    assert not any("action" in a for a in plan["action"])
    for n in (1, 2, 3):
        dose = inner[f"arm-{n}-dose"]
        assert dose["title"] == f"Dose level {n}" and dose["description"] == "An unnamed cell product."
    assert inner["arm-2-dose"]["dosage"][0]["doseAndRate"][0]["doseQuantity"] == {
        "value": 2.0,
        "unit": "mg/kg",
        "system": "http://unitsofmeasure.org",
        "code": "mg/kg",
    }
    assert inner["arm-3-dose"]["dosage"] == [{"text": "the highest tolerated dose"}]
    [assumption] = build_context(minimal_study, MappingSettings())["assumptions"]
    assert assumption.code == "assumed-arm-intervention" and "3 of 3 arms" in assumption.message
    goal = plan["goal"][0]
    assert goal == {
        "category": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/research-study-objective-type",
                    "code": "primary",
                    "display": "Primary",
                }
            ]
        },
        "description": {"text": "Maximum tolerated dose"},
    }


def test_no_link_is_assumed_where_the_source_states_one_or_has_several_interventions(minimal_study):
    placebo = minimal_study.arms[0].model_copy(
        update={"label": "Placebo", "type": "PLACEBO_COMPARATOR", "dose": None}
    )
    study = minimal_study.model_copy(update={"arms": [*minimal_study.arms, placebo]})
    links = build_context(study, MappingSettings())["links"]
    assert links.arms == [[0], [0], [0], []] and links.assumed  # a placebo arm never gets it
    two = minimal_study.model_copy(update={"interventions": minimal_study.interventions * 2})
    links = build_context(two, MappingSettings())["links"]
    assert links.arms == [[], [], []] and links.unlinked == [0, 1] and not links.assumed


# --- determinism ----------------------------------------------------------------------------------


def test_rendering_is_deterministic(rich_study, minimal_study):
    for study in (rich_study, minimal_study):
        assert dump_json(bundle_for(study)) == dump_json(bundle_for(study))


def test_ids_are_uuid5_of_the_business_identifier(rich_study, rich_bundle):
    # keyed by the NCT id alone: changing the NCT system setting keeps every id
    expected = {
        rtype: str(uuid.uuid5(ID_NAMESPACE, f"{rtype}|nct|NCT01234567"))
        for rtype in ("Bundle", "ResearchStudy", "PlanDefinition")
    }
    assert [rich_bundle["id"], *(e["fullUrl"] for e in rich_bundle["entry"])] == [
        expected["Bundle"],
        f"urn:uuid:{expected['ResearchStudy']}",
        f"urn:uuid:{expected['PlanDefinition']}",
    ]
    other = finish_json(
        render(
            TEMPLATE,
            build_context(rich_study, MappingSettings(nct_identifier_system="https://clinicaltrials.gov")),
        )
    )
    assert [e["fullUrl"] for e in other["entry"]] == [e["fullUrl"] for e in rich_bundle["entry"]]
    assert other["entry"][0]["request"]["url"].startswith(
        "ResearchStudy?identifier=https%3A//clinicaltrials.gov|"
    )
    edited = bundle_for(rich_study.model_copy(update={"brief_title": "Another title", "conditions": []}))
    assert [e["fullUrl"] for e in edited["entry"]] == [e["fullUrl"] for e in rich_bundle["entry"]]


# --- code tables ----------------------------------------------------------------------------------


def codes_module():
    return environment().get_template("fhir/r4/_codes.j2").module


def test_status_table_covers_every_overall_status():
    table = codes_module().research_study_status
    assert set(table) == set(get_args(OverallStatus))
    for status, entry in table.items():
        code, absent = entry.get("code"), entry.get("absent")
        assert (code in R4_STUDY_STATUS) != (absent in DATA_ABSENT_REASONS), status


@pytest.mark.parametrize("overall_status", get_args(OverallStatus))
def test_every_status_renders_valid(minimal_study, overall_status):
    study = minimal_study.model_copy(update={"status": StatusInfo(overall_status=overall_status)})
    bundle = bundle_for(study)
    assert validate_bundle(bundle) == []
    entry = codes_module().research_study_status[overall_status]
    research_study, _ = resources(bundle)
    if "code" in entry:
        assert research_study["status"] == entry["code"]
    else:
        assert research_study["_status"]["extension"][0]["valueCode"] == entry["absent"]


def test_phase_table_covers_every_single_phase():
    table = codes_module().research_study_phase
    assert set(get_args(Phase)) <= set(table)
    assert {"PHASE1,PHASE2", "PHASE2,PHASE3"} <= set(table)


@pytest.mark.parametrize(
    ("time_frame", "due"),
    [
        ("1 month", {"value": 1, "unit": "month", "code": "mo"}),
        ("12 Weeks", {"value": 12, "unit": "weeks", "code": "wk"}),
        ("1.5 years", {"value": 1.5, "unit": "years", "code": "a"}),
        ("24 hours", {"value": 24, "unit": "hours", "code": "h"}),
        ("Day 28", None),
        ("up to 3 years", None),
        ("3 years after surgery", None),
        ("² days", None),
    ],
)
def test_goal_due_only_for_plain_durations(minimal_study, time_frame, due):
    outcome = Outcome(kind="secondary", measure="m", time_frame=time_frame)
    _, plan = resources(bundle_for(minimal_study.model_copy(update={"outcomes": [outcome]})))
    goal = plan["goal"][0]
    assert goal["extension"] == [{"url": TIME_FRAME_URL, "valueString": time_frame}]
    if due is None:
        assert "target" not in goal
    else:
        assert goal["target"] == [{"due": {**due, "system": "http://unitsofmeasure.org"}}]


def test_estimated_enrollment_is_the_intended_group(minimal_study):
    study = minimal_study.model_copy(
        update={
            "enrollment": Enrollment(count=12, type="ESTIMATED"),
            "eligibility": Eligibility(sex="FEMALE", minimum_age="6 Months", maximum_age="about 70"),
        }
    )
    bundle = bundle_for(study)
    assert validate_bundle(bundle) == []
    group = contained(resources(bundle)[0])["enrollment"]
    assert (group["actual"], group["quantity"]) == (False, 12)
    assert characteristic(group, "Sex")["valueCodeableConcept"]["coding"][0]["code"] == "female"
    # one limit cannot be read: both stay as text rather than a half range
    assert characteristic(group, "Age")["valueCodeableConcept"] == {
        "text": "Minimum age: 6 Months; Maximum age: about 70"
    }


def test_eligibility_without_enrollment_still_makes_the_group(minimal_study):
    study = minimal_study.model_copy(
        update={"eligibility": Eligibility(minimum_age="18 Years", maximum_age="N/A")}
    )
    bundle = bundle_for(study)
    assert validate_bundle(bundle) == []
    research_study, _ = resources(bundle)
    group = contained(research_study)["enrollment"]
    assert "quantity" not in group and group["actual"] is False
    assert characteristic(group, "Age")["valueRange"] == {
        "low": {"value": 18, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}
    }
    assert research_study["enrollment"] == [{"reference": "#enrollment"}]


def test_blank_source_values_leave_no_half_elements(minimal_study):
    """A blank string is pruned by finish_json; an object written around it must not survive alone."""
    study = minimal_study.model_copy(
        update={
            "official_title": "  ",
            "acronym": " ",
            "officials": [Person(name=" ", role="STUDY_DIRECTOR")],
            "contacts": [Person(name="Desk", phone=" ", email="")],
            "eligibility": Eligibility(criteria=" \n ", minimum_age=" ", maximum_age="N/A"),
            "outcomes": [Outcome(kind="primary", measure="m", time_frame="  ")],
        }
    )
    bundle = bundle_for(study)
    assert validate_bundle(bundle) == []
    assert empty_elements(bundle) == []
    research_study, plan = resources(bundle)
    assert research_study["contact"] == [{"name": "Desk"}]
    assert not any(e["url"] == LABEL_URL for e in research_study["extension"])
    assert "extension" not in plan["goal"][0]
