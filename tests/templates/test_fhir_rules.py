"""Rules every FHIR output keeps, checked on every fixture of the suite (seeds, sample documents,
all ClinicalTrials.gov records), R4 and R5: the issue-13 rules, one test each."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import get_args

import pycountry
import pytest
from lxml import etree

from mappers import model
from mappers.context import (
    EU_CT_SYSTEM,
    EUDRACT_SYSTEM,
    NCT_SYSTEM,
    NCT_SYSTEM_VARIANTS,
    MappingSettings,
    country_code,
    registry_system,
)
from mappers.fhir_package import build_package, contents, extension_urls
from mappers.model import Identifier
from tests.templates.fixture_exports import bundle_of, fixture_exports

RELEASES = ["R4", "R5"]
CTGOV = "https://clinicaltrials.gov/data-about-studies/study-data-structure#enum-"
# CT.gov enumeration -> the model's vocabulary of its values (API v2 codes)
ENUMS = {
    "StudyType": get_args(model.StudyType),
    "DesignAllocation": get_args(model.Allocation),
    "InterventionalAssignment": get_args(model.InterventionModel),
    "PrimaryPurpose": get_args(model.PrimaryPurpose),
    "DesignMasking": get_args(model.Masking),
    "WhoMasked": ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"),
    "InterventionType": get_args(model.InterventionType),
    "ArmGroupType": get_args(model.ArmType),
    "Status": get_args(model.OverallStatus),
    "ReferenceType": get_args(model.ReferenceType),
    "AgencyClass": ("NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN"),
    "SecondaryIdType": (
        "NIH", "FDA", "VA", "CDC", "AHRQ", "SAMHSA", "OTHER_GRANT", "EUDRACT_NUMBER", "CTIS", "REGISTRY",
        "OTHER",
    ),
}  # fmt: skip
XHTML = "{http://www.w3.org/1999/xhtml}"
# FHIR's narrative rules allow only basic formatting; this is the subset the templates use.
NARRATIVE_ELEMENTS = {"div", "h3", "p", "b", "table", "tbody", "tr", "th", "td", "ul", "li"}


@cache
def bundles(version: str) -> tuple[tuple[str, dict], ...]:
    """Parsed once per session: the tests only read them."""
    return tuple((r.key, json.loads(bundle_of(r))) for r in fixture_exports(version))


def walk(value, path="$"):
    """(path, key, value) of every member of a JSON tree."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key, item
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")


def by_key(version: str, key: str) -> tuple[dict, dict]:
    [bundle] = [b for k, b in bundles(version) if k == key]
    study, plan = (e["resource"] for e in bundle["entry"])
    return study, plan


def codes(concept: dict) -> list[str]:
    return [c["code"] for c in concept.get("coding", [])]


# --- wrong today ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "status"), [("NCT00003492", "terminated"), ("NCT00973089", "withdrawn")])
def test_r5_progress_status_never_says_completed_for_a_study_that_did_not_complete(key, status):
    study, _ = by_key("R5", key)
    states = [code for p in study["progressStatus"] for code in codes(p["state"])]
    assert status in states and "completed" not in states
    [overall] = [p for p in study["progressStatus"] if "overall-study" in codes(p["state"])]
    assert overall["period"] == study["period"]  # the completion date ends the overall-study period


def test_r5_completed_state_only_for_completed_studies():
    for key, bundle in bundles("R5"):
        study = bundle["entry"][0]["resource"]
        ctgov = [c["code"] for p in study.get("progressStatus", []) for c in p["state"].get("coding", [])]
        if "completed" in ctgov:
            assert {"COMPLETED", "APPROVED_FOR_MARKETING"} & set(ctgov), key


@pytest.mark.parametrize("version", RELEASES)
def test_ndjson_resources_stand_alone(version):
    """Every NDJSON resource has its id; every reference is literal and resolves within the files."""
    lines: dict[str, dict[str, dict]] = {}
    # one study per business identifier, as a run keeps it (several fixtures hold the same record)
    results = {r.key: r for r in reversed(fixture_exports(version))}.values()
    for result in results:
        for rtype, resources in result.resources.items():
            for resource in resources:
                assert resource["id"] not in lines.setdefault(rtype, {}), (rtype, resource["id"])
                lines[rtype][resource["id"]] = resource
    assert set(lines) == {"ResearchStudy", "PlanDefinition"}
    assert len(lines["ResearchStudy"]) == len(results) > 300
    for rtype, resources in lines.items():
        for rid, resource in resources.items():
            for path, key, value in walk(resource):
                assert not (isinstance(value, str) and value.startswith("urn:uuid:")), (rtype, rid, path)
                if key == "reference" and not value.startswith("#"):
                    target_type, target_id = value.split("/")
                    assert target_id in lines[target_type], (rtype, rid, path, value)


@pytest.mark.parametrize("version", RELEASES)
def test_bundles_on_disk_are_what_a_server_accepts(version):
    """Conditional PUTs carry no resource id (the server owns it); references by urn:uuid fullUrl."""
    for key, bundle in bundles(version):
        for entry in bundle["entry"]:
            assert "?identifier=" in entry["request"]["url"] and "id" not in entry["resource"], key
            assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", entry["fullUrl"])
        study, _ = (e["resource"] for e in bundle["entry"])
        assert study["protocol"] == [{"reference": bundle["entry"][1]["fullUrl"]}]


@pytest.mark.parametrize("version", RELEASES)
def test_seed_004_dose_groups_give_its_one_intervention(version):
    result = next(r for r in fixture_exports(version) if r.key == "004_8c3e1bb58083379b")
    assert "assumed-arm-intervention" in {i.code for i in result.issues}
    study, plan = (e["resource"] for e in json.loads(bundle_of(result))["entry"])
    definitions = [c for c in plan["contained"] if c["resourceType"] == "ActivityDefinition"]
    assert len(definitions) == 3 and all(d.get("title") and d.get("description") for d in definitions)
    assert len(plan["action"]) == 3 and all(a.get("title") for a in plan["action"])  # no orphan action
    if version == "R5":
        assert all(
            g["intendedExposure"] == [{"reference": "#intervention-1"}] for g in study["comparisonGroup"]
        )


@pytest.mark.parametrize("version", RELEASES)
def test_one_party_per_person(version):
    """NCT03475563: the principal investigator is also both central contacts."""
    study, _ = by_key(version, "NCT03475563")
    if version == "R5":
        people = [p for p in study["associatedParty"] if "party" in p]
        assert [p["name"] for p in people] == ["Imanol Otaegui, MD"]
        assert codes(people[0]["role"]) == ["primary-investigator", "recruitment-contact"]
    else:
        assert [c["name"] for c in study["contact"]] == ["Imanol Otaegui, MD"]
        assert study["principalInvestigator"]["display"] == "Imanol Otaegui, MD"
    for key, bundle in bundles(version):
        study = bundle["entry"][0]["resource"]
        names = [p["name"] for p in study.get("associatedParty", []) if "party" in p or version == "R4"]
        assert len(names) == len(set(names)), key


def test_r4_related_artifact_label_is_never_a_reference_type():
    for key, bundle in bundles("R4"):
        for artifact in bundle["entry"][0]["resource"].get("relatedArtifact", []):
            assert "label" not in artifact, key


# --- codes beside text ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", RELEASES)
def test_countries_carry_iso_3166_codes(version):
    element = "location" if version == "R4" else "region"
    coded, uncoded = 0, set()
    for key, bundle in bundles(version):
        study = bundle["entry"][0]["resource"]
        for concept in study.get(element, []):
            assert concept["text"], key
            if concept.get("coding"):
                [coding] = concept["coding"]
                assert coding["system"] == "urn:iso:std:iso:3166"
                assert pycountry.countries.get(alpha_2=coding["code"]) is not None
                coded += 1
            else:
                assert country_code(concept["text"]) is None, (key, concept)
                uncoded.add(concept["text"])
        for site in (c for c in study.get("contained", []) if c["resourceType"] == "Location"):
            country = site.get("address", {}).get("country")
            assert country is None or re.fullmatch(r"[A-Z]{2}", country) or country_code(country) is None
    # only countries ISO 3166-1 withdrew (no current code) stay text alone
    assert coded > 1000 and uncoded <= {"Former Serbia and Montenegro", "Netherlands Antilles"}


@pytest.mark.parametrize("version", RELEASES)
def test_ctgov_codings_are_registry_values_beside_text(version):
    seen = set()
    for key, bundle in bundles(version):
        for path, member, value in walk(bundle):
            if member == "coding":
                for coding in value:
                    if coding["system"].startswith(CTGOV):
                        enum = coding["system"][len(CTGOV) :]
                        assert coding["code"] in ENUMS[enum], (key, path, coding)
                        seen.add(enum)
            if member == "system" and isinstance(value, str) and value.startswith(CTGOV):
                assert path.endswith("coding]") or "coding[" in path, (key, path)
    # R4's status is a code, not a concept; who is masked has no R4 element used yet
    expected = set(ENUMS) - {"WhoMasked", "Status"} if version == "R4" else set(ENUMS)
    assert seen == expected


def test_r5_own_codes_where_r5_has_them():
    sevco = "http://hl7.org/fhir/study-design"
    organization = "http://hl7.org/fhir/research-study-party-organization-type"
    found = {sevco: 0, organization: 0}
    for _, bundle in bundles("R5"):
        study = bundle["entry"][0]["resource"]
        for concept in study.get("studyDesign", []):
            systems = [c["system"] for c in concept["coding"]]
            assert systems[0].startswith(CTGOV) and concept["text"]
            found[sevco] += sevco in systems
        for party in study.get("associatedParty", []):
            for concept in party.get("classifier", []):
                found[organization] += organization in [c["system"] for c in concept["coding"]]
    assert found[sevco] > 100 and found[organization] > 50


@pytest.mark.parametrize("version", RELEASES)
def test_identifier_systems(version):
    systems = {}
    for key, bundle in bundles(version):
        for identifier in bundle["entry"][0]["resource"]["identifier"]:
            if re.fullmatch(r"NCT\d{8}", identifier["value"]):
                assert identifier["system"] == NCT_SYSTEM, key
            systems.setdefault(identifier.get("system"), []).append(identifier["value"])
    assert all(re.fullmatch(r"\d{4}-\d{6}-\d{2}", v) for v in systems[EUDRACT_SYSTEM])
    assert all(re.fullmatch(r"\d{4}-5\d{5}-\d{2}-\d{2}", v) for v in systems[EU_CT_SYSTEM])


@pytest.mark.parametrize("system", sorted(NCT_SYSTEM_VARIANTS))
def test_every_nct_system_variant_is_read_as_the_configured_one(system):
    settings = MappingSettings(nct_identifier_system="https://clinicaltrials.gov")
    read = Identifier(kind="secondary", value="NCT01234567", system=system)
    assert registry_system(read, settings) == "https://clinicaltrials.gov"


@pytest.mark.parametrize(
    ("value", "type_", "domain", "system"),
    [
        ("2004-000123-45", "EUDRACT_NUMBER", None, EUDRACT_SYSTEM),
        ("2004-000123-45", "EudraCT Number", None, EUDRACT_SYSTEM),
        ("2004-000123-45", "Registry Identifier", "EudraCT", EUDRACT_SYSTEM),
        ("2004-000123-45", None, None, EUDRACT_SYSTEM),  # legacy XML / CSV: no type at all
        ("2023-501234-12-00", "CTIS", None, EU_CT_SYSTEM),
        ("2023-501234-12-00", "REGISTRY", "EU CT number", EU_CT_SYSTEM),
        ("2023-501234-12-00", "EU CT Number", None, EU_CT_SYSTEM),
        ("NCT01234567", "REGISTRY", "ClinicalTrials.gov", NCT_SYSTEM),
        ("2004-000123-45", "OTHER_GRANT", "A funder", None),  # the type says it is no registry id
        ("ABC-123", "EUDRACT_NUMBER", None, None),  # not a EudraCT number: no system claimed
    ],
)
def test_secondary_id_registry_systems(value, type_, domain, system):
    identifier = Identifier(kind="secondary", value=value, type=type_, domain=domain)
    assert registry_system(identifier, MappingSettings()) == system


# --- defined, traceable, readable -----------------------------------------------------------------


@pytest.mark.parametrize("version", RELEASES)
def test_every_extension_has_an_http_canonical_and_project_ones_are_defined(version, tmp_path):
    defined = extension_urls(version.lower())
    used = set()
    for _, bundle in bundles(version):
        for _, member, value in walk(bundle):
            if member == "extension":
                top = {e["url"] for e in value if ":" in e["url"]}  # not a complex one's part names
                assert all(u.startswith(("http://", "https://")) for u in top), top
                used |= top
    project = {u for u in used if u.startswith("https://trialexport.org/")}
    assert project and project <= defined
    package = contents(version.lower())
    assert package.manifest["fhirVersions"] == [{"R4": "4.0.1", "R5": "5.0.0"}[version]]
    built = build_package(version.lower(), tmp_path)
    assert built.read_bytes() == build_package(version.lower(), tmp_path / "again").read_bytes()


@pytest.mark.parametrize("version", RELEASES)
def test_provenance_cites_the_source_and_the_tool(version):
    from mappers.context import trialexport_version

    for key, bundle in bundles(version):
        study = bundle["entry"][0]["resource"]
        source, tool = study["relatedArtifact"][:2]
        url = source.get("url") or source.get("document", {}).get("url")
        if re.fullmatch(r"NCT\d{8}", key):
            assert url == f"https://clinicaltrials.gov/study/{key}"
        else:
            assert source["display"]
        assert source["type"] == {"R4": "derived-from", "R5": "transforms"}[version]
        assert tool["type"] == {"R4": "documentation", "R5": "transformed-with"}[version]
        assert tool["display"].endswith(f"trialexport {trialexport_version()}")


@pytest.mark.parametrize("version", RELEASES)
def test_narratives_are_generated_valid_xhtml(version):
    for key, bundle in bundles(version):
        for entry in bundle["entry"]:
            text = entry["resource"]["text"]
            assert text["status"] == "generated"
            div = etree.fromstring(text["div"].encode())  # well-formed: every value escaped
            assert div.tag == XHTML + "div" and div.attrib == {}
            for element in div.iter():
                assert element.tag.startswith(XHTML) and element.tag[len(XHTML) :] in NARRATIVE_ELEMENTS, key
                assert element is div or element.attrib == {}
            assert "".join(div.itertext()).strip(), key


def test_narrative_escapes_markup(rich_study):
    from mappers.context import build_context
    from mappers.finish import finish_json
    from mappers.render import render

    study = rich_study.model_copy(update={"brief_title": "<script>alert('x')</script> & more"})
    bundle = finish_json(render("fhir/r4/bundle.json.j2", build_context(study, MappingSettings())))
    div = etree.fromstring(bundle["entry"][0]["resource"]["text"]["div"].encode())
    assert div.find(XHTML + "h3").text == "<script>alert('x')</script> & more"
    assert not list(div.iter(XHTML + "script"))


@pytest.mark.parametrize("version", RELEASES)
def test_site_recruitment_status(version):
    """A site's recruitment status: Location.status where it says something about the location,
    and the precise status on a contained site ResearchStudy (HL7's R5 example's shape)."""
    sites_with_status = 0
    for result in fixture_exports(version):
        study = json.loads(bundle_of(result))["entry"][0]["resource"]
        inner = {c["id"]: c for c in study.get("contained", [])}
        for n, site in enumerate(result.study.sites, 1):
            location = inner[f"site-{n}"]
            sub = inner.get(f"site-{n}-study")
            if site.status is None:
                assert sub is None and "status" not in location
                continue
            sites_with_status += 1
            expected = {"RECRUITING": "active", "NOT_YET_RECRUITING": None}.get(site.status, "?")
            assert location.get("status") == expected, (result.key, site.status)
            assert sub["partOf"] == [{"reference": "#"}] and sub["site"] == [{"reference": f"#site-{n}"}]
            if version == "R5":
                [state] = sub["progressStatus"]
                assert codes(state["state"])[-1] == site.status
                assert study["site"][n - 1]["reference"] == f"#site-{n}-study"
            else:
                r4_status = {"RECRUITING": "active", "NOT_YET_RECRUITING": "approved"}
                assert sub["status"] == r4_status[site.status]
                assert study["site"][n - 1]["reference"] == f"#site-{n}"
    assert sites_with_status > 150
