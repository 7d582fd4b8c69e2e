"""validate_bundle: structure through fhir.resources, transaction rules on top."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from validation.fhir import validate_bundle

STUDY_URN = "urn:uuid:0b7c4c1e-1111-5222-8333-944455556666"
PLAN_URN = "urn:uuid:0b7c4c1e-aaaa-5bbb-8ccc-9dddeeeeffff"
IDENTIFIER = {"system": "https://clinicaltrials.gov", "value": "NCT01234567"}
STUDY_URL = "ResearchStudy?identifier=https%3A//clinicaltrials.gov|NCT01234567"
PLAN_URL = "PlanDefinition?identifier=https%3A//clinicaltrials.gov|NCT01234567"


def valid_bundle() -> dict:
    return {
        "resourceType": "Bundle",
        "id": "b1",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": STUDY_URN,
                "resource": {
                    "resourceType": "ResearchStudy",
                    "id": STUDY_URN.removeprefix("urn:uuid:"),
                    "contained": [
                        {"resourceType": "Group", "id": "enrollment", "type": "person", "actual": True},
                        {"resourceType": "Organization", "id": "sponsor", "name": "Sponsor"},
                    ],
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.label",
                            "extension": [{"url": "value", "valueString": "Official title"}],
                        }
                    ],
                    "identifier": [dict(IDENTIFIER, use="official")],
                    "title": "A study",
                    "protocol": [{"reference": PLAN_URN}],
                    "status": "active",
                    "enrollment": [{"reference": "#enrollment"}],
                    "sponsor": {"reference": "#sponsor"},
                },
                "request": {"method": "PUT", "url": STUDY_URL},
            },
            {
                "fullUrl": PLAN_URN,
                "resource": {
                    "resourceType": "PlanDefinition",
                    "id": PLAN_URN.removeprefix("urn:uuid:"),
                    "contained": [
                        {"resourceType": "ActivityDefinition", "id": "intervention-1", "status": "unknown"}
                    ],
                    "identifier": [dict(IDENTIFIER)],
                    "status": "unknown",
                    "action": [{"title": "Arm A", "definitionCanonical": "#intervention-1"}],
                },
                "request": {"method": "PUT", "url": PLAN_URL},
            },
        ],
    }


def study(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def plan(bundle: dict) -> dict:
    return bundle["entry"][1]["resource"]


def found(bundle) -> set[tuple[str, str | None]]:
    return {(issue.code, issue.field) for issue in validate_bundle(bundle)}


def test_valid_bundle_has_no_issues():
    assert validate_bundle(valid_bundle()) == []


def test_issues_are_errors_with_readable_messages():
    bundle = valid_bundle()
    study(bundle)["status"] = 5
    (issue,) = validate_bundle(bundle)
    assert issue.severity == "error"
    assert issue.message.startswith("ResearchStudy.status: ")


# --- structure (fhir.resources) -------------------------------------------------------------------


def test_bogus_resource_structure():
    bundle = valid_bundle()
    study(bundle)["phase"] = [{"text": "Phase 1"}]  # 0..1 CodeableConcept, not a list
    study(bundle)["colour"] = "blue"
    study(bundle)["contained"][0]["actual"] = "maybe"
    issues = validate_bundle(bundle)
    assert {i.code for i in issues} == {"fhir-invalid"}
    fields = {i.field for i in issues}
    assert "ResearchStudy.colour" in fields
    assert "ResearchStudy.contained[0].actual" in fields
    assert any(f.startswith("ResearchStudy.phase") for f in fields)


def test_missing_required_element():
    bundle = valid_bundle()
    del plan(bundle)["status"]
    assert ("fhir-invalid", "PlanDefinition.status") in found(bundle)


def test_bundle_level_structure():
    bundle = valid_bundle()
    bundle["entry"][0]["request"]["method"] = 7
    assert ("fhir-invalid", "Bundle.entry[0].request.method") in found(bundle)


@pytest.mark.parametrize(
    "resource", [{"resourceType": "Nonsense"}, {"resourceType": "Coding"}, {"id": "x"}, "text"]
)
def test_entry_that_is_not_a_resource(resource):
    bundle = valid_bundle()
    bundle["entry"][1]["resource"] = resource
    assert ("fhir-invalid", "Bundle.entry[1].resource") in found(bundle)


def test_unknown_contained_resource_type_is_an_issue_not_a_crash():
    bundle = valid_bundle()
    plan(bundle)["contained"][0]["resourceType"] = "Nonsense"
    assert any(code == "fhir-invalid" for code, _ in found(bundle))


@pytest.mark.parametrize("bundle", [None, [], "Bundle", {"resourceType": "Patient"}, {"entry": "x"}])
def test_malformed_input_never_raises(bundle):
    assert validate_bundle(bundle)


# --- references -----------------------------------------------------------------------------------


def test_unresolved_bundle_reference():
    bundle = valid_bundle()
    study(bundle)["protocol"] = [{"reference": "urn:uuid:0b7c4c1e-0000-5000-8000-900000000000"}]
    assert found(bundle) == {("fhir-unresolved-reference", "ResearchStudy.protocol[0].reference")}


def test_relative_reference_does_not_resolve_in_a_transaction_of_urns():
    bundle = valid_bundle()
    study(bundle)["protocol"] = [{"reference": "PlanDefinition/123"}]
    assert ("fhir-unresolved-reference", "ResearchStudy.protocol[0].reference") in found(bundle)


def test_unresolved_contained_reference():
    bundle = valid_bundle()
    study(bundle)["principalInvestigator"] = {"reference": "#principal-investigator"}
    assert found(bundle) == {("fhir-unresolved-reference", "ResearchStudy.principalInvestigator.reference")}


def test_unresolved_local_canonical():
    bundle = valid_bundle()
    plan(bundle)["action"].append({"definitionCanonical": "#intervention-9"})
    assert found(bundle) == {("fhir-unresolved-reference", "PlanDefinition.action[1].definitionCanonical")}


def test_reference_into_another_resources_contained_does_not_resolve():
    bundle = valid_bundle()
    plan(bundle)["action"][0]["definitionCanonical"] = "#enrollment"
    assert ("fhir-unresolved-reference", "PlanDefinition.action[0].definitionCanonical") in found(bundle)


def test_unreferenced_contained_resource():
    bundle = valid_bundle()
    del study(bundle)["sponsor"]
    assert found(bundle) == {("fhir-unreferenced-contained", "ResearchStudy.contained[1]")}


def test_contained_resource_referring_to_its_container_is_referenced():
    bundle = valid_bundle()
    del study(bundle)["sponsor"]
    study(bundle)["contained"][1]["partOf"] = {"reference": "#"}
    assert validate_bundle(bundle) == []


def test_contained_reference_from_an_extension_counts():
    bundle = valid_bundle()
    del study(bundle)["sponsor"]
    study(bundle)["extension"].append(
        {
            "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.associatedParty",
            "extension": [{"url": "party", "valueReference": {"reference": "#sponsor"}}],
        }
    )
    assert validate_bundle(bundle) == []


def test_nested_contained_resources():
    bundle = valid_bundle()
    study(bundle)["contained"][1]["contained"] = [{"resourceType": "Organization", "id": "inner"}]
    assert ("fhir-contained", "ResearchStudy.contained[1]") in found(bundle)


# --- full URLs and ids ----------------------------------------------------------------------------


def test_duplicated_full_url():
    bundle = valid_bundle()
    bundle["entry"][1]["fullUrl"] = STUDY_URN
    assert ("fhir-full-url", "Bundle.entry[1].fullUrl") in found(bundle)


@pytest.mark.parametrize(
    "full_url",
    [
        "http://example.org/fhir/PlanDefinition/1",
        "urn:uuid:not-a-uuid",
        PLAN_URN.upper().replace("URN:UUID:", "urn:uuid:"),
        None,
    ],
)
def test_full_url_must_be_a_urn_uuid(full_url):
    bundle = valid_bundle()
    bundle["entry"][1]["fullUrl"] = full_url
    assert ("fhir-full-url", "Bundle.entry[1].fullUrl") in found(bundle)


@pytest.mark.parametrize("bad_id", ["x" * 65, "has space", "under_score"])
def test_resource_and_contained_ids(bad_id):
    bundle = valid_bundle()
    plan(bundle)["id"] = bad_id
    assert ("fhir-id", "PlanDefinition.id") in found(bundle)
    bundle = valid_bundle()
    study(bundle)["contained"][0]["id"] = bad_id
    study(bundle)["enrollment"] = [{"reference": f"#{bad_id}"}]
    assert ("fhir-id", "ResearchStudy.contained[0].id") in found(bundle)


def test_duplicate_contained_ids():
    bundle = valid_bundle()
    study(bundle)["contained"][1]["id"] = "enrollment"
    assert ("fhir-id", "ResearchStudy.contained[1].id") in found(bundle)


# --- requests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        {"method": "POST", "url": "ResearchStudy"},
        {"method": "PUT", "url": "ResearchStudy/0b7c4c1e-1111-5222-8333-944455556666"},
        {"method": "PUT", "url": "ResearchStudy?identifier=NCT01234567"},
        {"method": "PUT", "url": "ResearchStudy?identifier=https://clinicaltrials.gov|NCT01234567&_tag=x"},
        {"method": "PUT", "url": "PlanDefinition?identifier=https%3A//clinicaltrials.gov|NCT01234567"},
        {"method": "PUT", "url": "ResearchStudy?identifier=https%3A//clinicaltrials.gov|NCT99999999"},
        {"method": "POST", "url": STUDY_URL},
    ],
)
def test_request_must_be_a_conditional_put_on_the_resources_identifier(request_):
    bundle = valid_bundle()
    bundle["entry"][0]["request"] = request_
    assert {code for code, _ in found(bundle)} == {"fhir-request"}


def test_missing_request():
    bundle = valid_bundle()
    del bundle["entry"][0]["request"]
    assert found(bundle) == {("fhir-request", "Bundle.entry[0].request")}


def test_encoded_identifier_matches_after_decoding():
    bundle = valid_bundle()
    for entry in bundle["entry"]:
        entry["resource"]["identifier"] = [{"system": "urn:local", "value": "a|b c+d"}]
    bundle["entry"][0]["request"]["url"] = "ResearchStudy?identifier=urn%3Alocal|a%7Cb%20c%2Bd"
    bundle["entry"][1]["request"]["url"] = "PlanDefinition?identifier=urn%3Alocal|a%7Cb%20c%2Bd"
    assert validate_bundle(bundle) == []
    bundle["entry"][0]["request"]["url"] = "ResearchStudy?identifier=urn%3Alocal|a|b c+d"
    assert ("fhir-request", "Bundle.entry[0].request.url") in found(bundle)


def test_duplicate_requests():
    bundle = valid_bundle()
    bundle["entry"].append(copy.deepcopy(bundle["entry"][1]))
    bundle["entry"][2]["fullUrl"] = "urn:uuid:0b7c4c1e-aaaa-5bbb-8ccc-900000000001"
    assert ("fhir-request", "Bundle.entry[2].request.url") in found(bundle)


def test_bundle_must_be_a_transaction():
    bundle = valid_bundle()
    bundle["type"] = "collection"
    assert ("fhir-bundle-type", "Bundle.type") in found(bundle)


# --- invariants fhir.resources leaves out ----------------------------------------------------------


@pytest.mark.parametrize("empty", ["", "   ", [], {}, None])
def test_empty_elements(empty):
    bundle = valid_bundle()
    study(bundle)["description"] = empty
    assert ("fhir-empty-element", "ResearchStudy.description") in found(bundle)


@pytest.mark.parametrize("empty", ["", "   ", "\u2003\n", [], {}, None])
def test_empty_items_of_a_list(empty):
    bundle = valid_bundle()
    study(bundle)["keyword"] = [{"text": "kept"}, empty]
    assert ("fhir-empty-element", "ResearchStudy.keyword[1]") in found(bundle)
    study(bundle)["keyword"] = [{"text": "kept"}]
    assert validate_bundle(bundle) == []


class _Text(str):
    pass


class _Object(dict):
    pass


class _Items(list):
    pass


def _retyped(value):
    """The same JSON value made of subclasses of dict, list and str (a caller's own objects)."""
    if isinstance(value, dict):
        return _Object({key: _retyped(item) for key, item in value.items()})
    if isinstance(value, list):
        return _Items(_retyped(item) for item in value)
    return _Text(value) if isinstance(value, str) else value


def test_the_rules_read_subclasses_of_json_types_as_the_types():
    from validation.fhir import _rule_issues

    bundle = valid_bundle()
    study(bundle)["description"] = " "
    study(bundle)["keyword"] = [{"text": ""}, None]
    study(bundle)["sponsor"] = {"reference": "#nobody"}
    plan(bundle)["action"].append({"title": "B", "definitionCanonical": "#nothing"})
    study(bundle)["extension"].append({"url": "x"})
    plain = [issue.message for issue in _rule_issues(bundle)]
    assert len(plain) >= 5
    assert [issue.message for issue in _rule_issues(_retyped(bundle))] == plain


def test_extension_needs_exactly_one_of_value_and_extensions():
    bundle = valid_bundle()
    label = study(bundle)["extension"][0]
    label["extension"].append({"url": "type"})
    assert ("fhir-extension", "ResearchStudy.extension[0].extension[1]") in found(bundle)
    label["extension"][1] = {
        "url": "type",
        "valueString": "x",
        "extension": [{"url": "a", "valueString": "b"}],
    }
    assert ("fhir-extension", "ResearchStudy.extension[0].extension[1]") in found(bundle)


@pytest.mark.parametrize(
    ("where", "element", "value", "field"),
    [
        (study, "status", "recruiting", "Bundle.entry[0].resource.status"),
        (plan, "status", "final", "Bundle.entry[1].resource.status"),
    ],
)
def test_required_binding_codes(where, element, value, field):
    bundle = valid_bundle()
    where(bundle)[element] = value
    assert found(bundle) == {("fhir-binding", field)}


def test_required_binding_codes_in_contained_resources():
    bundle = valid_bundle()
    study(bundle)["contained"][0]["type"] = "people"
    assert ("fhir-binding", "Bundle.entry[0].resource.contained[0].type") in found(bundle)


def test_data_absent_status_is_accepted():
    bundle = valid_bundle()
    del study(bundle)["status"]
    study(bundle)["_status"] = {
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}
        ]
    }
    assert validate_bundle(bundle) == []


def test_only_local_canonicals_count_as_references_to_contained():
    bundle = valid_bundle()
    plan(bundle)["contained"].append(
        {
            "resourceType": "ActivityDefinition",
            "id": "intervention-2",
            "status": "unknown",
        }
    )
    plan(bundle)["action"].append({"definitionCanonical": "#intervention-2"})
    assert validate_bundle(bundle) == []
    plan(bundle)["action"][1] = {"definitionCanonical": "http://example.org/ActivityDefinition/x"}
    assert found(bundle) == {("fhir-unreferenced-contained", "PlanDefinition.contained[1]")}


# ---- one walk: the rules read during the profile's walk of a well-formed bundle ------------------


def _two_walks(bundle: dict, version: str = "R4") -> list:
    """What the rules find walking the bundle alone, or, when nothing, what the profile finds
    walking it after them: what the one walk must give."""
    from validation.fhir import _rule_issues
    from validation.profile import check_resource

    return _rule_issues(bundle) or check_resource(bundle, version)


def _one_walk(bundle: dict, version: str = "R4") -> list:
    from validation.fhir import _checked_issues, _structure_issues

    assert _structure_issues(bundle, version) == []  # the one walk reads well-formed bundles only
    return _checked_issues(bundle, version)


def _messages(issues: list) -> list[tuple[str, str | None, str]]:
    return [(issue.code, issue.field, issue.message) for issue in issues]


def test_one_walk_reports_a_contained_resources_rule_issues_first_at_their_places():
    """The rules read a resource's contained resources before the rest of it; the one walk meets
    them in the middle (after ``meta``), and reports them as the rules do."""
    bundle = valid_bundle()
    bundle["entry"][0]["resource"] = {"resourceType": "ResearchStudy", "meta": {}, **study(bundle)}
    study(bundle)["contained"][1]["name"] = " "
    study(bundle)["contained"][0]["managingEntity"] = {"reference": "#nobody"}
    study(bundle)["title"] = "  "
    study(bundle)["partOf"] = [{"reference": "#nothing"}]
    got = _one_walk(bundle)
    assert _messages(got) == _messages(_two_walks(bundle))
    assert [(issue.code, issue.field) for issue in got] == [
        ("fhir-empty-element", "ResearchStudy.contained[1].name"),
        ("fhir-empty-element", "ResearchStudy.meta"),
        ("fhir-empty-element", "ResearchStudy.title"),
        ("fhir-unresolved-reference", "ResearchStudy.contained[0].managingEntity.reference"),
        ("fhir-unresolved-reference", "ResearchStudy.partOf[0].reference"),
    ]


def test_one_walk_places_a_contained_resources_profile_issues_from_the_bundle():
    bundle = valid_bundle()
    study(bundle)["contained"][1]["telecom"] = [{"system": "phone", "value": "1"}, {"value": "2"}]
    [issue] = _one_walk(bundle)
    where = "Bundle.entry[0].resource.contained[1].telecom[1]"
    assert (issue.code, issue.field) == ("fhir-invariant", where)
    assert issue.message.startswith(f"{where}: cpt-2 violated")
    assert _messages([issue]) == _messages(_two_walks(bundle))


def test_a_bundle_the_structure_check_refused_still_gets_its_rule_issues():
    bundle = valid_bundle()
    study(bundle)["title"] = 5
    study(bundle)["sponsor"] = {"reference": "#nobody"}
    codes = [(issue.code, issue.field) for issue in validate_bundle(bundle)]
    assert codes[0][0] == "fhir-invalid"
    assert codes[-2:] == [
        ("fhir-unresolved-reference", "ResearchStudy.sponsor.reference"),
        ("fhir-unreferenced-contained", "ResearchStudy.contained[1]"),
    ]


def test_a_string_where_an_extension_belongs_gets_the_structure_and_the_rules_issues():
    """FHIR's JSON Schema does not say its complex types are objects: an empty string passed as
    an extension, and the profile's walk could not read it. The structure check refuses it now,
    and the rules, which read any JSON, still report the empty element."""
    bundle = valid_bundle()
    study(bundle)["_title"] = {"extension": [""]}
    issues = validate_bundle(bundle, deep=False)
    assert [(issue.code, issue.field) for issue in issues] == [
        ("fhir-invalid", "ResearchStudy._title.extension[0]"),
        ("fhir-empty-element", "ResearchStudy._title.extension[0]"),
    ]


_SEEDED_BREAKS = [
    ("", " ", "\u2003", [], {}, None, [None], [{}], ["", "x"]),
    ("#", "#nobody", "#sponsor", "urn:uuid:00000000-0000-4000-8000-000000000000", "recruiting", "people"),
]


def _elements(value, found=None) -> list[tuple[dict | list, str | int]]:
    """(container, key) of every element and item below ``value``."""
    found = [] if found is None else found
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((value, key))
        _elements(item, found)
    return found


def _broken(seed: int) -> dict:
    """The valid bundle with one to three elements replaced by an empty value, a reference
    or a code (seeded), a contained resource copied, or a primitive's extension added."""
    import random

    rng = random.Random(seed)
    bundle = valid_bundle()
    if rng.random() < 0.3:  # a contained id used twice, or (Group) never referenced
        study(bundle)["contained"].append(copy.deepcopy(rng.choice(study(bundle)["contained"])))
    for _ in range(rng.randint(1, 3)):
        container, key = rng.choice(_elements(bundle["entry"]))
        kind = rng.randrange(3)
        if kind < 2:
            container[key] = copy.deepcopy(rng.choice(_SEEDED_BREAKS[kind]))
        elif isinstance(container[key], dict):
            extension = rng.choice([{"url": "u", "valueCode": "x"}, {"url": "u"}])
            container[key]["_status"] = {"extension": [extension]}
    return bundle


def test_one_walk_gives_what_the_two_walks_give_on_broken_bundles():
    """Seeded breaks of the valid bundle: wherever the structure check passes them, the one walk
    gives the rules' issues, or the profile's, with the two walks' codes, places and messages,
    in their order."""
    from validation.fhir import _structure_issues

    compared = 0
    seen: set[str] = set()
    for seed in range(1000):
        bundle = _broken(seed)
        if _structure_issues(bundle, "R4"):
            continue
        two = _two_walks(bundle)
        assert _messages(_one_walk(bundle)) == _messages(two), seed
        compared += 1
        seen |= {issue.code for issue in two}
    assert compared > 200 and {"fhir-empty-element", "fhir-binding", "fhir-unresolved-reference"} <= seen


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize(
    "element, value, field",
    [
        ("_status", "x", "ResearchStudy._status"),
        ("_title", {"extension": ["x"]}, "ResearchStudy._title.extension[0]"),
    ],
)
def test_a_string_where_fhir_json_has_an_object_is_a_structure_error_not_a_crash(
    version, element, value, field
):
    """The FHIR JSON Schema does not say its complex types are objects; the structure check
    does, so a primitive's ``_x`` or an extension written as a string is refused with its place
    (it crashed the profile's walk, on ``trialexport validate`` input or an overlay's output)."""
    seed = Path(__file__).parents[1] / "golden" / "seeds" / "000_7c5a8bd566a2bac6"
    bundle = orjson.loads((seed / f"fhir-{version.lower()}-bundle.json").read_bytes())
    assert bundle["entry"][0]["resource"]["resourceType"] == "ResearchStudy"
    assert validate_bundle(bundle, version, deep=False) == []
    bundle["entry"][0]["resource"][element] = value
    issues = validate_bundle(bundle, version, deep=False)
    assert [(i.code, i.field) for i in issues if i.severity == "error"] == [("fhir-invalid", field)]
