"""PRS XML a registry would take, on the real records issue 12 names.

Each test reads a real record (API v2 JSON, the list page, legacy XML or the legacy CSV export),
exports it, checks the PRS file against ProtocolRecordSchema.xsd 2018.05.08 and looks at the
elements PRS has for what the source holds. The public XML of the legacy records is checked too
where the issue names its element (study type of a patient registry).
"""

from __future__ import annotations

import json
from functools import cache

import pytest
from lxml import etree

from mappers.context import MappingSettings
from mappers.ctgov_xml import prs_missing
from mappers.export import export_study
from mappers.model import Study
from tests.mappers.readers.ctgov_fixtures import CSV_FILES, FIXTURES, JSON_FILES, XML_FILES, studies
from validation.xsd import validate_xml

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
PARITY_FILES = sorted((FIXTURES / "xml_parity").glob("*.xml"))


@cache
def study(nct: str, form: str = "json") -> Study:
    files = {"json": JSON_FILES, "xml": XML_FILES + PARITY_FILES, "csv": CSV_FILES}[form]
    return next(s for path in files for s in studies(path) if s.nct_id == nct)


@cache
def exported(nct: str, form: str = "json"):
    out = export_study(study(nct, form), MappingSettings(prs_org_name="ORG"))
    assert out.status == "exported", [i.message for i in out.issues if i.severity == "error"]
    return out


def prs(nct: str, form: str = "json"):
    data = next(v for k, v in exported(nct, form).files.items() if k.endswith("/prs.xml"))
    assert validate_xml(data, "prs") == []
    (cs,) = etree.fromstring(data, _PARSER).xpath("clinical_study")
    return cs


def public(nct: str, form: str = "xml"):
    data = next(v for k, v in exported(nct, form).files.items() if k.endswith("/public.xml"))
    return etree.fromstring(data, _PARSER)


def texts(el, path: str) -> list[str]:
    return [n.text or "" for n in el.xpath(path)]


# The eight of the ten richest API v2 records that state no maximum (or minimum) age.
NO_AGE_LIMIT = [
    "NCT04956640",
    "NCT02552212",
    "NCT03475563",
    "NCT04207047",
    "NCT04431453",
    "NCT05438667",
    "NCT05786924",
    "NCT06171568",
]


@pytest.mark.parametrize("nct", NO_AGE_LIMIT)
def test_an_age_api_v2_leaves_out_is_no_limit_and_eligibility_is_written(nct):
    source = study(nct)
    assert "N/A" in (source.eligibility.minimum_age, source.eligibility.maximum_age)
    cs = prs(nct)
    assert "Inclusion Criteria" in texts(cs, "eligibility/criteria/textblock")[0]
    assert texts(cs, "eligibility/gender") == ["All"]
    assert {source.eligibility.minimum_age, source.eligibility.maximum_age} == set(
        texts(cs, "eligibility/minimum_age|eligibility/maximum_age")
    )
    # and the public record keeps it too
    public_record = etree.fromstring(
        next(v for k, v in exported(nct).files.items() if k.endswith("/public.xml")), _PARSER
    )
    assert public_record.find("eligibility/criteria/textblock") is not None
    reported = [i.message for i in exported(nct).issues if i.field == "eligibility.criteria"]
    assert not reported  # the run report used to say "… has no element for eligibility.criteria"


def test_verification_date_and_oversight():
    cs = prs("NCT04431453")
    assert texts(cs, "verification_date") == ["2023-11"]
    assert texts(
        cs, "oversight_info/has_dmc|oversight_info/fda_regulated_drug|oversight_info/fda_regulated_device"
    ) == [
        "yes",
        "yes",
        "no",
    ]


def test_who_is_masked():
    """NCT00973089 masks the investigator only (API v2 whoMasked)."""
    design = prs("NCT00973089").find("study_design/interventional_design")
    assert texts(design, "no_masking") == ["no"]
    assert texts(design, "masked_subject|masked_caregiver|masked_investigator|masked_assessor") == [
        "no",
        "no",
        "yes",
        "no",
    ]
    assert texts(public("NCT00973089", "json"), "study_design_info/masking") == ["Single (Investigator)"]


@pytest.mark.parametrize(
    ("nct", "model", "registry", "duration"),
    [("NCT03475563", "Case-Only", "yes", ["12", "Months"]), ("NCT06171568", "Cohort", "no", [])],
)
def test_observational_design(nct, model, registry, duration):
    cs = prs(nct)
    assert texts(cs, "study_design/study_type") == ["Observational"]
    design = cs.find("study_design/observational_design")
    assert texts(design, "observational_study_design|timing") == [model, "Prospective"]
    assert texts(design, "patient_registry") == [registry]
    assert texts(design, "target_duration_quantity|target_duration_units") == duration
    assert texts(design, "number_of_groups") == [str(len(study(nct).arms) or "")]  # required: empty if none
    # the source states no biospecimen retention: written empty (the schema requires it), reported
    assert texts(design, "biospecimen_retention") == [""]
    assert {"Biospecimen Retention (observational_design/biospecimen_retention)"} <= set(
        prs_missing(study(nct))
    )
    assert texts(cs, "eligibility/study_population/textblock")[0].startswith("Patients")
    assert texts(cs, "eligibility/sampling_method") == ["Non-Probability Sample"]


@pytest.mark.parametrize(
    ("nct", "form", "kept"),
    [
        # legacy XML without allocation or masking: purpose and phase stay
        (
            "NCT00002475",
            "xml",
            {"interventional_subtype": "Treatment", "phase": "Phase 2", "number_of_arms": "1"},
        ),
        # legacy CSV export row without allocation
        (
            "NCT02055924",
            "csv",
            {"interventional_subtype": "Treatment", "phase": "Phase 1", "no_masking": "yes"},
        ),
    ],
)
def test_interventional_design_element_by_element(nct, form, kept):
    design = prs(nct, form).find("study_design/interventional_design")
    for element, value in kept.items():
        assert texts(design, element) == [value], element
    assert texts(design, "allocation") == [""]  # required by the schema, not in the source: empty
    assert "Allocation (interventional_design/allocation)" in prs_missing(study(nct, form))


def test_expanded_access():
    """NCT02552212's drug is available through expanded-access record NCT03559686."""
    cs = prs("NCT02552212")
    assert texts(cs, "ind_info/has_expanded_access|ind_info/expanded_access_nct_id") == ["yes", "NCT03559686"]
    assert texts(public("NCT02552212", "json"), "has_expanded_access") == ["Yes"]
    # an expanded-access programme runs under an IND/IDE, whose grantor and number no public
    # record gives: empty, and named as missing
    assert texts(cs, "ind_info/ind_grantor|ind_info/ind_number") == ["", ""]
    assert any("ind_info" in m for m in prs_missing(study("NCT02552212")))
    # "No" is asked of IND/IDE studies only, which a public record does not show: not written
    assert study("NCT03475563").expanded_access_info.has_expanded_access is False
    assert prs("NCT03475563").find("ind_info") is None


def test_ipd_sharing_statement():
    statement = prs("NCT04431453").find("ipd_sharing_statement")
    assert texts(statement, "sharing_ipd") == ["yes"]
    assert texts(statement, "ipd_info_type_protocol|ipd_info_type_sap|ipd_info_type_icf") == [
        "yes",
        "yes",
        "no",
    ]
    assert texts(statement, "ipd_time_frame/textblock") == ["18 months after study completion"]
    assert texts(statement, "ipd_url") == [
        "https://www.gileadclinicaltrials.com/transparency-policy#Commitment"
    ]


@pytest.mark.parametrize("nct", ["NCT02552212", "NCT04431453"])
def test_uploaded_study_documents(nct):
    source = study(nct)
    assert source.large_docs
    documents = prs(nct).findall("study_document")
    kinds = [k for d in source.large_docs for k in ("has_protocol", "has_sap", "has_icf") if getattr(d, k)]
    assert len(documents) == len(kinds)
    for doc in documents:
        assert texts(doc, "study_document_type")[0] in {
            "Study Protocol",
            "Statistical Analysis Plan",
            "Informed Consent Form",
        }
        assert texts(doc, "url")[0].startswith(f"https://cdn.clinicaltrials.gov/large-docs/{nct[-2:]}/{nct}/")
    assert any(i.code == "derived-document-url" for i in source.issues)


def test_last_known_status():
    """NCT03475563 is shown as "Unknown status"; PRS holds its last known status."""
    assert study("NCT03475563").status.last_known_status == "RECRUITING"
    assert texts(prs("NCT03475563"), "overall_status") == ["Recruiting"]
    assert texts(public("NCT03475563", "json"), "overall_status|last_known_status") == [
        "Unknown status",
        "Recruiting",
    ]


@pytest.mark.parametrize("nct", ["NCT01076361", "NCT03211546"])
def test_patient_registry(nct):
    assert texts(public(nct), "study_type") == ["Observational [Patient Registry]"]
    cs = prs(nct, "xml")
    assert texts(cs, "study_design/study_type") == ["Observational"]
    assert texts(cs, "study_design/observational_design/patient_registry") == ["yes"]


# --- PRS readiness ------------------------------------------------------------------------------------


def test_one_prs_incomplete_warning_names_what_the_record_lacks():
    issues = [i for i in exported("NCT03475563").issues if i.code == "prs-incomplete"]
    assert len(issues) == 1 and issues[0].severity == "warning"
    message = issues[0].message
    # no registry record holds the IRB review; this one states no FDA regulation nor biospecimens
    for element in ("irb_info", "fda_regulated_drug", "fda_regulated_device", "biospecimen_retention"):
        assert element in message
    for present in ("verification_date", "overall_status", "start_date", "sponsors/lead_sponsor"):
        assert present not in message


def test_a_free_text_page_lacks_more_and_nothing_is_invented(seed_studies):
    study_b = next(s for key, s in seed_studies.items() if key.startswith("004"))
    missing = prs_missing(study_b)
    for element in ("brief_title", "overall_status", "start_date", "sponsors/lead_sponsor", "irb_info"):
        assert any(element in m for m in missing), element
    cs = etree.fromstring(
        next(v for k, v in export_study(study_b, MappingSettings()).files.items() if k.endswith("prs.xml")),
        _PARSER,
    ).xpath("clinical_study")[0]
    for absent in ("brief_title", "overall_status", "start_date", "sponsors"):
        assert cs.find(absent) is None, absent


# --- the organisation behind the record ------------------------------------------------------------


@pytest.mark.parametrize(
    ("nct", "form", "organisation", "sponsor"),
    [
        ("NCT01220531", "xml", "Duke University", "M. Louise Markert"),
        ("NCT00002475", "xml", "National Cancer Institute (NCI)", "St. Vincent Medical Center - Los Angeles"),
        ("NCT02408601", "xml", "Kamineni Institute of Dental Sciences", "Dr. Praveen B.H"),
        ("NCT04431453", "json", "Gilead Sciences", "Gilead Sciences"),
    ],
)
def test_source_is_the_organisation_not_the_lead_sponsor(nct, form, organisation, sponsor):
    record = public(nct, form)
    assert texts(record, "source") == [organisation]
    assert texts(record, "sponsors/lead_sponsor/agency") == [sponsor]
    bundle = json.loads(next(v for k, v in exported(nct, form).files.items() if k.endswith("bundle.json")))
    research_study = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ResearchStudy"
    )
    value = next(i.value for i in study(nct, form).identifiers if i.kind == "org_study_id")
    org_id = next(i for i in research_study["identifier"] if i["value"] == value)
    assert org_id["assigner"]["display"] == organisation
    assert not any(i.code == "assumed-source" for i in exported(nct, form).issues)


def test_a_source_without_the_organisation_writes_the_sponsor_and_says_so():
    csv_study = study("NCT02055924", "csv")
    assert csv_study.organization is None
    out = exported("NCT02055924", "csv")
    assert texts(public("NCT02055924", "csv"), "source") == [csv_study.sponsor.name]
    assert [i.severity for i in out.issues if i.code == "assumed-source"] == ["information"]
