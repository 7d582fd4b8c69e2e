"""ClinicalTrials.gov codes in every published spelling, dates, and the CSV cell parsers."""

import json
from typing import get_args

import pytest

from mappers.context import MappingSettings
from mappers.export import export_study
from mappers.model import OverallStatus
from mappers.readers import read_document
from mappers.readers.base import Draft
from mappers.readers.ctgov_values import coded, iso_date, known_code, phases
from mappers.readers.fields import parse_design, parse_location
from mappers.render import environment


def v2_study(**design) -> dict:
    status = design.pop("status", "RECRUITING")
    return {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT00000001", "briefTitle": "A study"},
            "statusModule": {"overallStatus": status},
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Sponsor", "class": "OTHER"}},
            "designModule": {"studyType": "INTERVENTIONAL", **design},
        }
    }


def read_json(document: dict):
    [study] = read_document(json.dumps(document).encode(), "study.json")
    return study


def research_study(study) -> dict:
    out = export_study(study, MappingSettings())
    assert out.status == "exported", [i.message for i in out.issues if i.severity == "error"]
    return out.resources["ResearchStudy"][0]


def unknown_codes(study) -> list[tuple[str, str | None, str | None]]:
    return [(i.message, i.field, i.location) for i in study.issues if i.code == "unknown-code"]


def test_a_value_no_spelling_explains_is_reported_not_guessed():
    draft = Draft()
    assert known_code(draft, "sex", "Both", "eligibility.sex", "here") == "ALL"
    assert known_code(draft, "sex", None, "eligibility.sex", "here") is None
    assert known_code(draft, "sex", "", "eligibility.sex", "here") is None
    assert not draft.issues
    assert known_code(draft, "sex", "Robots", "eligibility.sex", "row 2, Sex") is None
    assert known_code(draft, "sex", 3, "eligibility.sex", "/x") is None  # JSON: only text is a code
    assert [(i.severity, i.code, i.message, i.field, i.location) for i in draft.issues] == [
        ("warning", "unknown-code", "'Robots' is not a known sex", "eligibility.sex", "row 2, Sex"),
        ("warning", "unknown-code", "'3' is not a known sex", "eligibility.sex", "/x"),
    ]


def test_the_json_and_csv_readers_report_unknown_codes_alike():
    record = v2_study(designInfo={"allocation": "COIN_TOSS"})
    record["protocolSection"]["eligibilityModule"] = {"sex": 3, "stdAges": ["ADULT", "ELDER"]}
    assert unknown_codes(read_json(record)) == [
        ("'COIN_TOSS' is not a known allocation", "design.allocation", "/protocolSection/designModule"),
        ("'3' is not a known sex", "eligibility.sex", "/protocolSection/eligibilityModule"),
        ("'ELDER' is not a known std_age", "eligibility.std_ages", "/protocolSection/eligibilityModule"),
    ]
    header = "NCT Number,Study Title,Study Status,Sex,Study Type,Study Design\n"
    row = 'NCT00000002,A study,RECRUITING,ROBOTS,INTERVENTIONAL,"Allocation: COIN_TOSS|Masking: NONE"\n'
    [study] = read_document((header + row).encode(), "export.csv")
    assert unknown_codes(study) == [
        ("'COIN_TOSS' is not a known allocation", "design.allocation", "row 2, Study Design"),
        ("'ROBOTS' is not a known sex", "eligibility.sex", "row 2, Sex"),
    ]


@pytest.mark.parametrize("text", ["PHASE1|PHASE2", "Phase 1/Phase 2", "Phase 1|Phase 2", "PHASE1, PHASE2"])
def test_two_phases_are_both_read(text):
    assert phases(text) == ["PHASE1", "PHASE2"]


def test_other_phase_spellings():
    assert phases("N/A") == ["NA"] and phases("NA") == ["NA"]
    assert phases("Early Phase 1") == ["EARLY_PHASE1"] == phases("EARLY_PHASE1")
    assert phases("Phase 2/Phase 3") == ["PHASE2", "PHASE3"]


def test_a_phase_1_2_study_is_fhir_phase_1_phase_2():
    study = read_json(v2_study(phases=["PHASE1", "PHASE2"]))
    assert study.design.phases == ["PHASE1", "PHASE2"]
    coding = research_study(study)["phase"]["coding"][0]
    assert coding["code"] == "phase-1-phase-2"


def test_a_phase_1_2_csv_row_is_fhir_phase_1_phase_2():
    header = "NCT Number,Study Title,Study Status,Sponsor,Phases,Study Type\n"
    row = "NCT00000002,A study,RECRUITING,Sponsor,PHASE1|PHASE2,INTERVENTIONAL\n"
    [study] = read_document((header + row).encode(), "export.csv")
    assert research_study(study)["phase"]["coding"][0]["code"] == "phase-1-phase-2"


@pytest.mark.parametrize("status", get_args(OverallStatus))
def test_every_v2_overall_status_is_read_and_mapped(status):
    study = read_json(v2_study(status=status))
    assert study.status.overall_status == status
    # a template's top-level names are attributes of its module, made at run time: read as a dict
    table = vars(environment().get_template("fhir/r4/_codes.j2").module)["research_study_status"]
    entry = table[status]
    resource = research_study(study)
    if "code" in entry:
        assert resource["status"] == entry["code"]
    else:
        assert resource["_status"]["extension"][0]["valueCode"] == entry["absent"]


@pytest.mark.parametrize(
    ("display", "code"),
    [
        ("Active, not recruiting", "ACTIVE_NOT_RECRUITING"),
        ("Enrolling by invitation", "ENROLLING_BY_INVITATION"),
        ("Unknown status", "UNKNOWN"),
        ("Withheld", "WITHHELD"),
        ("No longer available", "NO_LONGER_AVAILABLE"),
        ("Approved for marketing", "APPROVED_FOR_MARKETING"),
    ],
)
def test_legacy_status_displays(display, code):
    assert coded("status", display) == code


def test_legacy_design_spellings():
    assert coded("masking", "None (Open Label)") == "NONE"
    assert coded("masking", "Double Blind (Subject, Caregiver, Investigator)") == "DOUBLE"
    assert (
        coded("masking", "QUADRUPLE (PARTICIPANT, CARE_PROVIDER, INVESTIGATOR, OUTCOMES_ASSESSOR)")
        == "QUADRUPLE"
    )
    assert coded("masking", "Open Label") == "NONE"
    assert coded("intervention_model", "Single Group Assignment") == "SINGLE_GROUP"
    assert coded("allocation", "Non-Randomized") == "NON_RANDOMIZED"
    assert coded("allocation", "N/A") == "NA"
    assert coded("primary_purpose", "Educational/Counseling/Training") == "ECT"
    assert coded("study_type", "Observational [Patient Registry]") == "OBSERVATIONAL"
    assert coded("sex", "Both") == "ALL"
    assert coded("date_type", "Anticipated") == "ESTIMATED"
    assert coded("masking", "Blindfolded") is None


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("March 3, 2015", "2015-03-03"),
        ("September 13, 2005", "2005-09-13"),
        ("May 1996", "1996-05"),  # a missing day stays missing
        ("2021-05", "2021-05"),
        ("2021", "2021"),
        ("2023-07-21", "2023-07-21"),
        ("Spring 2020", None),
    ],
)
def test_dates(text, iso):
    assert iso_date(text) == iso


def test_study_design_cell():
    cell = (
        "Allocation: RANDOMIZED | Intervention Model: PARALLEL | "
        "Masking: QUADRUPLE (PARTICIPANT, INVESTIGATOR) | Primary Purpose: TREATMENT"
    )
    assert parse_design(cell) == {
        "allocation": "RANDOMIZED",
        "intervention_model": "PARALLEL",
        "masking": "QUADRUPLE (PARTICIPANT, INVESTIGATOR)",
        "primary_purpose": "TREATMENT",
    }
    legacy = (
        "Allocation: Randomized, Endpoint Classification: Efficacy Study, "
        "Masking: Double Blind (Subject, Investigator), Primary Purpose: Treatment"
    )
    assert parse_design(legacy)["masking"] == "Double Blind (Subject, Investigator)"


@pytest.mark.parametrize(
    ("cell", "parts"),
    [
        (
            "University of Alabama at Birmingham, Birmingham, Alabama, 35249-0001, United States",
            ("University of Alabama at Birmingham", "Birmingham", "Alabama", "35249-0001", "United States"),
        ),
        (
            "Institut Gustave Roussy, Villejuif, France",
            ("Institut Gustave Roussy", "Villejuif", None, None, "France"),
        ),
        (
            "Seoul National University Hospital, Seoul, Korea, Republic of",
            ("Seoul National University Hospital", "Seoul", None, None, "Korea, Republic of"),
        ),
        (
            "Dept. of Oncology, Hospital X, Toronto, Ontario, M5G 2M9, Canada",
            ("Dept. of Oncology, Hospital X", "Toronto", "Ontario", "M5G 2M9", "Canada"),
        ),
    ],
)
def test_location_cell(cell, parts):
    p = parse_location(cell)
    assert (p.facility, p.city, p.state, p.zip, p.country) == parts


def test_legacy_csv_row_reads_dates_ages_null_cells_and_sponsors():
    header = (
        '"Rank","NCT Number","Title","Status","Study Results","Sponsor/Collaborators","Gender","Age",'
        '"Phases","Study Type","Start Date","Results First Posted"\n'
    )
    row = (
        '1,"NCT00162656","Treatment","Completed","No Results Available","Gustave Roussy|NCI","All",'
        '"6 Months to 20 Years \xa0 (Child, Adult)","Phase 3","Interventional","May 1996","null"\n'
    )
    [study] = read_document((header + row).encode(), "SearchResults.csv")
    assert study.status.start_date == "1996-05" and study.status.overall_status == "COMPLETED"
    assert (study.eligibility.minimum_age, study.eligibility.maximum_age) == ("6 Months", "20 Years")
    assert study.sponsor.name == "Gustave Roussy" and [c.name for c in study.collaborators] == ["NCI"]
    assert study.design.phases == ["PHASE3"] and study.eligibility.sex == "ALL"
