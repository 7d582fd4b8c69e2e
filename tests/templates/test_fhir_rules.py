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
    MESH_SYSTEM,
    NCT_SYSTEM,
    NCT_SYSTEM_VARIANTS,
    MappingSettings,
    country_code,
    mesh_code,
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
    "RecruitmentStatus": (
        "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING", "RECRUITING",
        "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE",
    ),
    "ContactRole": ("STUDY_CHAIR", "STUDY_DIRECTOR", "PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR", "CONTACT"),
    "ObservationalModel": get_args(model.ObservationalModel),
    "DesignTimePerspective": get_args(model.TimePerspective),
    "BioSpecRetention": get_args(model.BioSpecRetention),
    "SamplingMethod": get_args(model.SamplingMethod),
    "IpdSharing": get_args(model.IpdSharing),
    "IpdSharingInfoType": get_args(model.IpdInfoType),
    "ExpandedAccessStatus": (
        "AVAILABLE", "NO_LONGER_AVAILABLE", "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING",
    ),
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


def result_of(version: str, key: str):
    """The export of a record (the first, where several fixtures hold it)."""
    return next(r for r in fixture_exports(version) if r.key == key)


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
    # R4's status and site statuses are codes, not concepts (Status only in the last known
    # status); the fixtures' site investigators are all their site's principal investigator,
    # R4's principalInvestigator (a reference, no role concept)
    r4_only_in_r5 = {"RecruitmentStatus", "ContactRole"}
    expected = set(ENUMS) - r4_only_in_r5 if version == "R4" else set(ENUMS)
    assert seen == expected


def test_r5_own_codes_where_r5_has_them():
    sevco = "http://hl7.org/fhir/study-design"
    organization = "http://hl7.org/fhir/research-study-party-organization-type"
    found = {sevco: 0, organization: 0}
    for _, bundle in bundles("R5"):
        study = bundle["entry"][0]["resource"]
        for concept in study.get("studyDesign", []):
            systems = [c["system"] for c in concept.get("coding", [])]
            assert (not systems or systems[0].startswith(CTGOV)) and concept["text"]
            found[sevco] += sevco in systems
        for party in study.get("associatedParty", []):
            for concept in party.get("classifier", []):
                found[organization] += organization in [c["system"] for c in concept["coding"]]
    assert found[sevco] > 100 and found[organization] > 50


def mesh(concepts: list[dict]) -> list[tuple[str, str]]:
    """(code, display) of every MeSH coding of a list of CodeableConcepts."""
    return [
        (c.get("code"), c["display"])
        for x in concepts
        for c in x.get("coding", [])
        if c["system"] == MESH_SYSTEM
    ]


def test_mesh_system_is_hl7_terminologys():
    # THO CodeSystem "MeSH" (urn:oid:2.16.840.1.113883.6.177) has this canonical URL
    assert MESH_SYSTEM == "https://www.nlm.nih.gov/mesh"


@pytest.mark.parametrize(
    ("registry", "mesh_id"),
    [
        ("D000001943", "D001943"),  # API v2 pads seven-character ids to ten
        ("D001943", "D001943"),  # newer API pages write them as MeSH does
        ("D000064419", "D064419"),  # a padded seven-character id near the end of their numbers
        ("D000068818", "D000068818"),  # Cetuximab: a ten-character id, as MeSH writes it
        ("D000091642", "D000091642"),
        ("C000500026", "C500026"),  # supplementary concepts too (palbociclib)
        ("C000606551", "C000606551"),  # remdesivir: ten characters in MeSH
        (" d000003324 ", "D003324"),
        ("", None),
        (None, None),
    ],
)
def test_mesh_ids_are_unpadded(registry, mesh_id):
    assert mesh_code(registry) == mesh_id


@pytest.mark.parametrize("version", RELEASES)
def test_nct04956640_conditions_carry_their_mesh_codes(version):
    """Its six conditions are MeSH headings word for word; each carries its heading's code."""
    study, _ = by_key(version, "NCT04956640")
    assert mesh(study["condition"]) == [
        ("D002289", "Carcinoma, Non-Small-Cell Lung"),
        ("D015179", "Colorectal Neoplasms"),
        ("D016889", "Endometrial Neoplasms"),
        ("D010051", "Ovarian Neoplasms"),
        ("D010190", "Pancreatic Neoplasms"),
        ("D001661", "Biliary Tract Neoplasms"),
    ]
    assert all(c["text"] == c["coding"][0]["display"] for c in study["condition"])
    # interventions named like their heading carry it; the ancestors are MeSH keywords
    focus = [f["concept"] if version == "R5" else f for f in study["focus"]]
    assert ("C582435", "pembrolizumab") in mesh([f for f in focus if f["text"] == "Pembrolizumab"])
    assert ("D000068818", "Cetuximab") in mesh(focus)
    assert [c["text"] for c in focus if not c.get("coding")] == ["LY3537982"]  # no heading: text only
    keywords = mesh(study["keyword"])
    assert ("D009369", "Neoplasms") in keywords and ("D000091642", "Urogenital Diseases") in keywords
    assert [k["text"] for k in study["keyword"][:3]] == ["Frontline", "1L", "First Line"]


@pytest.mark.parametrize("version", RELEASES)
def test_padded_registry_mesh_ids_are_written_as_mesh_writes_them(version):
    """NCT03475563 (API v2, padded ids): D000003324 is written D003324."""
    study, _ = by_key(version, "NCT03475563")
    assert mesh(study["condition"]) == [("D003324", "Coronary Artery Disease")]
    assert ("D006331", "Heart Diseases") in mesh(study["keyword"])


@pytest.mark.parametrize("version", RELEASES)
def test_every_mesh_heading_of_the_registry_lands_once(version):
    """Condition headings: on the condition they are, else a keyword; intervention headings: on
    the focus they are, else a focus of their own; ancestors: keywords. Nothing twice."""
    coded = 0
    for result in fixture_exports(version):
        s = result.study
        if not (s.condition_browse or s.intervention_browse):
            continue
        study = json.loads(bundle_of(result))["entry"][0]["resource"]
        focus = [f["concept"] if version == "R5" else f for f in study.get("focus", [])]
        written = mesh(study.get("condition", [])) + mesh(focus) + mesh(study.get("keyword", []))
        assert len(written) == len(set(written)), result.key
        browse = [b for b in (s.condition_browse, s.intervention_browse) if b]
        headings = [t for b in browse for t in b.meshes + b.ancestors]
        expected = {(mesh_code(t.id), t.term) for t in headings if t.id}
        assert set(written) == expected, result.key
        # a heading without its id (legacy XML) is text only: a Coding without a code says nothing
        # (on the source's text when it is the heading, matched as headings are: case aside)
        concepts = [*study.get("condition", []), *focus, *study.get("keyword", [])]
        texts = {str(c.get("text")).casefold() for c in concepts}
        assert {t.term.casefold() for t in headings if not t.id} <= texts, result.key
        coded += len(mesh(study.get("condition", [])))
        assert all(re.fullmatch(r"[CD](\d{6}|\d{9})", code) for code, _ in written)
    assert coded >= 10  # the API v2 fixtures' conditions (legacy headings have no ids)


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
                assert "status" not in location
                people = site.investigators + (site.contacts if version == "R4" else [])
                assert (sub is None) == (not people), (result.key, n)
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


@pytest.mark.parametrize("version", RELEASES)
def test_site_coordinates(version):
    """NCT04956640's sites carry the registry's geocoded coordinates as Location.position."""
    result = result_of(version, "NCT04956640")
    study = json.loads(bundle_of(result))["entry"][0]["resource"]
    inner = {c["id"]: c for c in study["contained"]}
    assert inner["site-1"]["name"] == "University of Alabama at Birmingham"
    assert inner["site-1"]["position"] == {"longitude": -86.80249, "latitude": 33.52066}
    placed = 0
    for result in fixture_exports(version):
        inner = {
            c["id"]: c for c in json.loads(bundle_of(result))["entry"][0]["resource"].get("contained", [])
        }
        for n, site in enumerate(result.study.sites, 1):
            point = site.geo_point
            expected = {"longitude": point.lon, "latitude": point.lat} if point else None
            assert inner[f"site-{n}"].get("position") == expected, (result.key, n)
            placed += point is not None
    assert placed > 500


@pytest.mark.parametrize("version", RELEASES)
def test_site_investigators_and_contacts(version):
    """NCT05052671: each site's principal investigator on the site's contained ResearchStudy; R4
    keeps the site contacts' names there too (R4's Location has no element for a person)."""
    result = result_of(version, "NCT05052671")
    study = json.loads(bundle_of(result))["entry"][0]["resource"]
    inner = {c["id"]: c for c in study["contained"]}
    sub = inner["site-1-study"]
    if version == "R5":
        [party] = sub["associatedParty"]
        assert party["name"] == "Sagila George, MD"
        assert codes(party["role"]) == ["primary-investigator", "PRINCIPAL_INVESTIGATOR"]
        assert inner["site-1"]["contact"][0]["name"] == [{"text": "Lead Nurse"}]
    else:
        assert sub["principalInvestigator"] == {"display": "Sagila George, MD"}
        assert sub["contact"][0]["name"] == "Lead Nurse"
    for result in fixture_exports(version):
        if any(site.investigators for site in result.study.sites):
            fields = {
                i.field.split("[")[0] for i in result.issues if i.code == "not-mapped" and "FHIR" in i.message
            }
            assert "sites" not in fields, (
                result.key
            )  # every site investigator's and contact's name is written


@pytest.mark.parametrize("version", RELEASES)
def test_phone_extensions_in_fhirs_contactpoint_extension(version):
    """NCT06171568's central contacts give their phone extension (CT.gov phoneExt)."""
    result = result_of(version, "NCT06171568")
    telecoms = [
        t
        for _, key, value in walk(json.loads(bundle_of(result)))
        if key == "telecom"
        for t in value
        if t["system"] == "phone"
    ]
    url = "http://hl7.org/fhir/StructureDefinition/contactpoint-extension"
    assert {
        "system": "phone",
        "value": "01.49.95.81.69",
        "use": "work",
        "extension": [{"url": url, "valueString": "+33"}],
    } in telecoms


# --- what a record holds --------------------------------------------------------------------------


def design_of(version: str, study: dict) -> list[dict]:
    return study.get("category" if version == "R4" else "studyDesign", [])


@pytest.mark.parametrize("version", RELEASES)
def test_observational_design(version):
    """NCT03475563, an observational patient registry: R4 `category`, R5 `studyDesign`, each
    element its own concept (CT.gov coding where CT.gov has an enumeration, text always)."""
    study, _ = by_key(version, "NCT03475563")
    design = {c["text"]: codes(c) for c in design_of(version, study)}
    assert design["Observational Model: Case-Only"] == ["CASE_ONLY"]
    assert design["Time Perspective: Prospective"] == ["PROSPECTIVE"]
    assert design["Patient Registry: Yes"] == [] and design["Target Follow-Up Duration: 12 Months"] == []
    eligibility = next(c for c in study["contained"] if c["resourceType"] == "Group")
    traits = {c["code"]["text"]: c for c in eligibility["characteristic"]}
    assert traits["Study population"]["valueCodeableConcept"]["text"].startswith(
        "Patients with ischemic heart"
    )
    assert codes(traits["Sampling method"]["valueCodeableConcept"]) == ["NON_PROBABILITY_SAMPLE"]


@pytest.mark.parametrize("version", RELEASES)
def test_the_registrys_count_of_arms_is_kept(version):
    """Legacy XML states the number of arms even where it lists none (NCT04452435: 2)."""
    study, _ = by_key(version, "NCT04452435")
    assert {"text": "Number of Arms: 2"} in design_of(version, study)


@pytest.mark.parametrize("version", RELEASES)
def test_who_is_masked(version):
    """NCT02552212 names the four masked roles: one concept each, R4 and R5 (R5 adds SEVCO)."""
    study, _ = by_key(version, "NCT02552212")
    masked = [c for c in design_of(version, study) if c["text"].startswith("Who Masked: ")]
    assert [codes(c)[0] for c in masked] == [
        "PARTICIPANT",
        "CARE_PROVIDER",
        "INVESTIGATOR",
        "OUTCOMES_ASSESSOR",
    ]
    assert all(c["coding"][0]["system"] == CTGOV + "WhoMasked" for c in masked)
    for result in fixture_exports(version):  # the roles the source names, in its order
        if result.study.design.who_masked:
            study = json.loads(bundle_of(result))["entry"][0]["resource"]
            named = [codes(c)[0] for c in design_of(version, study) if c["text"].startswith("Who Masked: ")]
            assert named == result.study.design.who_masked, result.key


XVER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"


def classifiers(version: str, resource: dict, path: str = "ResearchStudy.classifier") -> list[dict]:
    """R5's classifier concepts; in R4, the cross-version extension's values."""
    if version == "R5":
        return resource.get("classifier", [])
    return [e["valueCodeableConcept"] for e in resource.get("extension", []) if e["url"] == XVER + path]


@pytest.mark.parametrize("version", RELEASES)
def test_oversight_as_classifiers(version):
    """NCT04956640 studies an FDA-regulated drug, not a device: R5 `classifier` (R4: its
    cross-version extension) with R5's research-study-classifiers code for what is regulated."""
    study, _ = by_key(version, "NCT04956640")
    concepts = {c["text"]: c.get("coding", []) for c in classifiers(version, study)}
    assert concepts["Studies a U.S. FDA-regulated Drug Product: Yes"] == [
        {
            "system": "http://hl7.org/fhir/research-study-classifiers",
            "code": "fda-regulated-drug",
            "display": "FDA regulated drug",
        }
    ]
    assert concepts["Studies a U.S. FDA-regulated Device Product: No"] == []  # no code says "not regulated"
    assert concepts["Data Monitoring Committee: No"] == []
    assert concepts["Availability of Expanded Access: No"] == []
    flagged = 0
    for result in fixture_exports(version):
        oversight = result.study.oversight
        if oversight and oversight.is_fda_regulated_device:
            study = json.loads(bundle_of(result))["entry"][0]["resource"]
            found = [c["code"] for x in classifiers(version, study) for c in x.get("coding", [])]
            assert "fda-regulated-device" in found, result.key
            flagged += 1
    assert flagged


@pytest.mark.parametrize("version", RELEASES)
def test_last_known_status(version):
    """NCT03475563's status is UNKNOWN; it was last known to be recruiting."""
    study, _ = by_key(version, "NCT03475563")
    if version == "R5":
        current, last = study["progressStatus"][:2]
        assert codes(current["state"]) == ["UNKNOWN"]
        assert codes(last["state"]) == ["recruiting", "RECRUITING"]
        assert last["state"]["text"] == "Last known status: Recruiting"
    else:
        assert "status" not in study and study["_status"]["extension"][0]["valueCode"] == "unknown"
        [last] = [
            e
            for e in study["extension"]
            if e["url"] == XVER + "ResearchStudy.progressStatus"
            and "Last known" in e["extension"][0]["valueCodeableConcept"]["text"]
        ]
        assert codes(last["extension"][0]["valueCodeableConcept"]) == ["RECRUITING"]


@pytest.mark.parametrize("version", RELEASES)
def test_expanded_access_and_its_record(version):
    """NCT02552212's product is available through expanded access, under NCT03559686."""
    study, _ = by_key(version, "NCT02552212")
    assert {"text": "Availability of Expanded Access: Yes"} in classifiers(version, study)
    [artifact] = [a for a in study["relatedArtifact"] if "NCT03559686" in a.get("display", "")]
    assert artifact["type"] == "documentation"
    url = artifact.get("url") or artifact["document"]["url"]
    assert url == "https://clinicaltrials.gov/study/NCT03559686"
    status = [c for c in classifiers(version, artifact, "RelatedArtifact.classifier") if c.get("coding")]
    assert [codes(c) for c in status] == [["AVAILABLE"]]
    assert status[0]["coding"][0]["system"] == CTGOV + "ExpandedAccessStatus"
    if version == "R5":  # a logical reference a server resolves once the record is loaded too
        assert artifact["resourceReference"]["identifier"] == {"system": NCT_SYSTEM, "value": "NCT03559686"}


@pytest.mark.parametrize("version", RELEASES)
def test_uploaded_documents_and_ipd_sharing(version):
    """NCT04431453: its uploaded protocol and analysis plan, and its plan to share individual
    participant data, each a documentation relatedArtifact (HL7: "Available Study Data/Documents")."""
    study, _ = by_key(version, "NCT04431453")
    documents = [
        a
        for a in study["relatedArtifact"]
        if a.get("display") in ("Study Protocol", "Statistical Analysis Plan")
    ]
    protocol = documents[0]
    assert (
        protocol["document"]["url"] == "https://cdn.clinicaltrials.gov/large-docs/53/NCT04431453/Prot_000.pdf"
    )
    assert (
        protocol["document"]["title"] == "Prot_000.pdf" and protocol["document"]["creation"] == "2022-01-06"
    )
    assert protocol["document"]["size"] == {"R4": 13909664, "R5": "13909664"}[version]  # R5: integer64
    uploaded = protocol.get("publicationDate") or protocol["extension"][-1]["valueDate"]
    assert uploaded == "2023-09-26"
    [ipd] = [
        a
        for a in study["relatedArtifact"]
        if a.get("display", "").startswith("Qualified external researchers")
    ]
    concepts = classifiers(version, ipd, "RelatedArtifact.classifier")
    assert [codes(c) for c in concepts[:3]] == [["YES"], ["STUDY_PROTOCOL"], ["SAP"]]
    assert {"text": "Time frame: 18 months after study completion"} in concepts
    assert (
        ipd.get("url") or ipd["document"]["url"]
    ) == "https://www.gileadclinicaltrials.com/transparency-policy#Commitment"


@pytest.mark.parametrize("version", RELEASES)
def test_available_study_data(version):
    """NCT03494712 lists six data sets and documents available from the sponsor."""
    study, _ = by_key(version, "NCT03494712")
    listed = [a["display"] for a in study["relatedArtifact"] if a["type"] == "documentation"]
    assert {
        "Individual Participant Data Set",
        "Clinical Study Report",
        "study-level clinical trial data",
    } <= set(listed)


@pytest.mark.parametrize("version", RELEASES)
def test_registry_dates(version):
    """NCT04956640: last update posted 2025-09-25 is R5 `date` (R4: its cross-version
    extension); first posted 2021-07-09 the publication date of the registry record cited."""
    study, _ = by_key(version, "NCT04956640")
    source = study["relatedArtifact"][0]
    if version == "R5":
        assert study["date"] == "2025-09-25" and source["publicationDate"] == "2021-07-09"
    else:
        dates = [e["valueDateTime"] for e in study["extension"] if e["url"] == XVER + "ResearchStudy.date"]
        assert dates == ["2025-09-25"]
        assert source["extension"] == [
            {"url": XVER + "RelatedArtifact.publicationDate", "valueDate": "2021-07-09"}
        ]


def test_r4_keeps_primary_completion_and_date_types():
    """R4 has no element for the primary completion date nor for a date being actual or estimated:
    R5's progressStatus in its cross-version extension (NCT04956640: estimated completion)."""
    study, _ = by_key("R4", "NCT04956640")
    entries = {
        e["extension"][0]["valueCodeableConcept"]["text"]: {x["url"]: x for x in e["extension"][1:]}
        for e in study["extension"]
        if e["url"] == XVER + "ResearchStudy.progressStatus"
    }
    assert entries["Overall study"]["actual"]["valueBoolean"] is False  # the completion date is estimated
    assert entries["Primary completion"]["period"]["valuePeriod"] == {"end": "2027-04"}


@pytest.mark.parametrize("version", RELEASES)
def test_merged_nct_ids_are_old_identifiers(version):
    """NCT03587740's record absorbed NCT02414646: an identifier of use `old`, still searchable."""
    study, _ = by_key(version, "NCT03587740")
    assert {"use": "old", "system": NCT_SYSTEM, "value": "NCT02414646"} in study["identifier"]


@pytest.mark.parametrize("version", RELEASES)
def test_affiliations_and_titles_on_a_practitioner_role(version):
    """NCT03475563's principal investigator is affiliated to Vall d'Hebron: a contained
    PractitionerRole of the person (R5: the associatedParty's party; R4: principalInvestigator)."""
    study, _ = by_key(version, "NCT03475563")
    inner = {c["id"]: c for c in study["contained"]}
    if version == "R5":
        [party] = [p for p in study["associatedParty"] if "party" in p]
        role = inner[party["party"]["reference"][1:]]
        assert inner[role["practitioner"]["reference"][1:]]["resourceType"] == "Practitioner"
    else:
        role = inner[study["principalInvestigator"]["reference"][1:]]
    assert role["resourceType"] == "PractitionerRole"
    assert role["organization"] == {"display": "Hospital Universitari Vall d'hebron Barcelona, Spain"}


@pytest.mark.parametrize("version", RELEASES)
def test_a_responsible_party_named_the_old_way_is_a_party(version):
    """Records before 2011 name the responsible party by name/title (and organisation) only: one
    more role of that person (NCT00002475: the study chair, merged), else a party of its own."""
    results = [r for r in fixture_exports(version) if (rp := r.study.responsible_party) and rp.old_name_title]
    assert results
    for result in results:
        rp = result.study.responsible_party
        study = json.loads(bundle_of(result))["entry"][0]["resource"]
        text = json.dumps(study)
        assert rp.old_name_title in text and "Responsible party" in text, result.key


@pytest.mark.parametrize("version", RELEASES)
def test_only_what_fhir_has_no_element_for_is_not_mapped(version):
    """Every traced source value reaches the bundle but for the countries whose sites the
    registry removed (README: no element says a country no longer takes part)."""
    left = set()
    for result in fixture_exports(version):
        for issue in result.issues:
            if issue.code == "not-mapped" and issue.message.startswith("FHIR"):
                left.add(re.sub(r"\[\d+\]", "", issue.field))
    assert left == {"removed_countries"}
