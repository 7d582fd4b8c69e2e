"""PRS and public XML rendered from the canonical model: schema-valid, values in the right
elements, nothing invented, and every value left out named by the omission helpers."""

from __future__ import annotations

from typing import get_args

import pytest
from lxml import etree

from mappers import model
from mappers.context import MappingSettings, build_context
from mappers.ctgov_xml import public_record_gaps
from mappers.finish import finish_xml
from mappers.model import (
    Arm,
    AvailIpd,
    Design,
    Dose,
    Eligibility,
    Enrollment,
    Identifier,
    Intervention,
    IpdSharingStatement,
    Organization,
    Outcome,
    Person,
    Provenance,
    ResultsSubmission,
    Site,
    StatusInfo,
    Study,
)
from mappers.render import render
from mappers.trace import untraced, xml_values
from validation.xsd import SchemaName, validate_xml

PRS_NS = "http://clinicaltrials.gov/prs"
PROVENANCE = Provenance(source="tests/templates", layout="test", content_hash="0" * 64)


def rich_study() -> Study:
    return Study(
        identifiers=[
            Identifier(kind="nct", value="NCT01234567", system="https://clinicaltrials.gov"),
            Identifier(kind="org_study_id", value="ORG-2024-001"),
            Identifier(kind="secondary", value="2023-000123-45", type="EudraCT Number"),
            Identifier(kind="secondary", value="R01CA000001", type="NIH", domain="NCI"),
        ],
        brief_title="CAR-T Cells for Relapsed B-cell Lymphoma",
        official_title="A Phase 1/2 Study of Anti-CD19 CAR-T Cells in Relapsed B-cell Lymphoma",
        acronym="CART-19",
        brief_summary="A two-arm study of CAR-T cells.",
        detailed_description="First paragraph.\n\nSecond paragraph.",
        conditions=["B-cell Lymphoma", "Acute Lymphoblastic Leukemia"],
        keywords=["CAR-T", "CD19"],
        interventions=[
            Intervention(
                type="BIOLOGICAL",
                name="CAR-T cells",
                description="Autologous anti-CD19 CAR-T cells, single infusion.",
                other_names=["CTL019"],
                arm_labels=["Low dose"],
            ),
            Intervention(type="DRUG", name="Fludarabine", arm_labels=["Low dose", "High dose"]),
            Intervention(type="DIETARY_SUPPLEMENT", name="Vitamin D", description="Daily."),
        ],
        arms=[
            Arm(
                label="Low dose",
                type="EXPERIMENTAL",
                description="1x10^6 cells/kg after lymphodepletion",
                intervention_names=["CAR-T cells", "Fludarabine"],
                dose=Dose(text="1x10^6 cells/kg", value=1.0, unit="10^6 cells/kg", ucum="10*6{cells}/kg"),
            ),
            Arm(
                label="High dose",
                type="PLACEBO_COMPARATOR",
                description="Fludarabine and vitamin D",
                intervention_names=["Fludarabine", "Vitamin D"],
            ),
        ],
        outcomes=[
            Outcome(kind="primary", measure="Adverse events", description="CTCAE 5.0", time_frame="28 days"),
            Outcome(kind="secondary", measure="Overall survival", time_frame="2 years"),
            Outcome(kind="other", measure="CAR-T expansion", description="Flow cytometry"),
        ],
        design=Design(
            study_type="INTERVENTIONAL",
            phases=["PHASE2", "PHASE1"],
            allocation="NON_RANDOMIZED",
            intervention_model="PARALLEL",
            primary_purpose="TREATMENT",
            masking="QUADRUPLE",
        ),
        enrollment=Enrollment(count=120, type="ESTIMATED"),
        status=StatusInfo(
            overall_status="ACTIVE_NOT_RECRUITING",
            why_stopped="Enrollment target reached",
            start_date="2023-03-05",
            start_date_type="ACTUAL",
            primary_completion_date="2025-06",
            primary_completion_date_type="ESTIMATED",
            completion_date="2026-12-31",
            completion_date_type="ESTIMATED",
        ),
        sponsor=Organization(name="Example University Hospital", agency_class="OTHER"),
        collaborators=[Organization(name="National Cancer Institute (NCI)", agency_class="NIH")],
        officials=[
            Person(name="Dr. Jane Q. Smith, MD", role="PRINCIPAL_INVESTIGATOR", affiliation="Example Univ."),
            Person(name="John Doe", role="STUDY_CHAIR"),
        ],
        contacts=[
            Person(name="Mary Major, RN", phone="+1 555 0100", email="mary.major@example.org"),
            Person(name="Richard Roe", email="richard.roe@example.org"),
        ],
        sites=[
            Site(
                facility="Example University Hospital",
                city="Boston",
                state="Massachusetts",
                zip="02115",
                country="United States",
                status="RECRUITING",
                contacts=[
                    Person(name="Ann Lee", phone="+1 555 0101", email="ann.lee@example.org"),
                    Person(name="Bo Chen", email="bo.chen@example.org"),
                ],
            ),
            Site(
                facility="Hôpital Saint-Louis",
                city="Paris",
                zip="75010",
                country="France",
                status="NOT_YET_RECRUITING",
                contacts=[Person(name="Claire Dubois", email="claire.dubois@example.org")],
            ),
        ],
        eligibility=Eligibility(
            criteria="Inclusion Criteria:\n- age 18-75\n\nExclusion Criteria:\n- pregnancy",
            sex="ALL",
            minimum_age="18 Years",
            maximum_age="75 Years",
            healthy_volunteers=False,
        ),
        provenance=PROVENANCE,
    )


def seed_like_study() -> Study:
    """What a free-text page gives: no registry id, title, sponsor or status."""
    return Study(
        identifiers=[Identifier(kind="local", value="004_8c3e1bb58083379b")],
        brief_summary="The purpose of this study is to evaluate CD7 CAR-T cells.",
        outcomes=[Outcome(kind="primary", measure="Adverse events", time_frame="28 days post infusion")],
        design=Design(
            study_type="INTERVENTIONAL",
            phases=["NA"],
            allocation="NA",
            primary_purpose="TREATMENT",
            masking="NONE",
        ),
        enrollment=Enrollment(count=14),
        interventions=[Intervention(description="Administration with anti-CD7 CAR-T cells")],
        sites=[Site(city="Shanghai", country="China")],
        officials=[Person(name="Xianmin Song")],
        provenance=PROVENANCE,
    )


def render_xml(study: Study, template: str) -> bytes:
    context = build_context(study, MappingSettings(prs_org_name="MYORG"))
    return finish_xml(render(f"ctgov/{template}.xml.j2", context), template)


def parsed(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def texts(root: etree._Element, path: str) -> list[str]:
    return [node.text for node in root.xpath(path)]


def assert_valid(data: bytes, schema: SchemaName) -> None:
    assert validate_xml(data, schema) == [], data.decode()


# --- rich study -----------------------------------------------------------------------------------


def test_rich_prs_validates_and_places_values():
    data = render_xml(rich_study(), "prs")
    assert_valid(data, "prs")
    root = parsed(data)
    assert root.tag == f"{{{PRS_NS}}}study_collection"
    (cs,) = root.xpath("clinical_study")  # unqualified child, as the schema wants
    assert texts(cs, "id_info/org_name") == ["MYORG"]
    assert texts(cs, "id_info/org_study_id") == ["ORG-2024-001"]
    assert texts(cs, "id_info/secondary_id/id_type") == ["EudraCT Number", "NIH Grant Number"]
    assert texts(cs, "id_info/secondary_id/id_domain") == ["NCI"]
    assert texts(cs, "acronym") == ["CART-19"]
    assert texts(cs, "sponsors/lead_sponsor/agency") == ["Example University Hospital"]
    assert texts(cs, "sponsors/collaborator/agency") == ["National Cancer Institute (NCI)"]
    assert texts(cs, "detailed_description/textblock") == ["First paragraph.\n\nSecond paragraph."]
    assert texts(cs, "overall_status") == ["Active, not recruiting"]
    assert texts(cs, "start_date") + texts(cs, "start_date_type") == ["2023-03-05", "Actual"]
    assert texts(cs, "last_follow_up_date") + texts(cs, "last_follow_up_date_type") == [
        "2026-12-31",
        "Anticipated",
    ]
    assert texts(cs, "primary_compl_date") + texts(cs, "primary_compl_date_type") == [
        "2025-06",
        "Anticipated",
    ]
    design = cs.find("study_design/interventional_design")
    assert texts(design, "interventional_subtype") == ["Treatment"]
    assert texts(design, "phase") == ["Phase 1/2"]
    assert texts(design, "allocation") == ["Non-randomized"]
    assert texts(design, "assignment") == ["Parallel Assignment"]
    assert texts(design, "no_masking") == ["no"]
    assert texts(design, "masked_subject|masked_caregiver|masked_investigator|masked_assessor") == ["yes"] * 4
    assert texts(design, "number_of_arms") == ["2"]
    assert design.find("masking") is None  # the deprecated element is not used
    assert texts(cs, "primary_outcome/outcome_measure") == ["Adverse events"]
    assert texts(cs, "primary_outcome/outcome_description/textblock") == ["CTCAE 5.0"]
    assert texts(cs, "secondary_outcome/outcome_time_frame") == ["2 years"]
    assert texts(cs, "other_outcome/outcome_measure") == ["CAR-T expansion"]
    assert texts(cs, "enrollment") + texts(cs, "enrollment_type") == ["120", "Anticipated"]
    assert texts(cs, "condition") == ["B-cell Lymphoma", "Acute Lymphoblastic Leukemia"]
    assert texts(cs, "keyword") == ["CAR-T", "CD19"]
    assert texts(cs, "arm_group/arm_type") == ["Experimental", "Placebo Comparator"]
    assert texts(cs, "intervention/intervention_type") == ["Biological/Vaccine", "Drug", "Dietary Supplement"]
    assert texts(cs, "intervention[intervention_name='Fludarabine']/arm_group_label") == [
        "Low dose",
        "High dose",
    ]
    # linked only from the arm's side
    assert texts(cs, "intervention[intervention_name='Vitamin D']/arm_group_label") == ["High dose"]
    assert texts(cs, "intervention/intervention_other_name") == ["CTL019"]
    assert texts(cs, "eligibility/criteria/textblock")[0].startswith("Inclusion Criteria:\n- age 18-75")
    assert texts(cs, "eligibility/gender|eligibility/minimum_age|eligibility/maximum_age") == [
        "All",
        "18 Years",
        "75 Years",
    ]
    assert texts(cs, "eligibility/healthy_volunteers") == ["no"]
    official = cs.find("overall_official")
    # "Dr." is a title, not a first name: PRS's name elements have no place for titles but degrees
    assert [official.findtext(t) for t in ("first_name", "middle_name", "last_name", "degrees", "role")] == [
        "Jane",
        "Q.",
        "Smith",
        "Dr., MD",
        "Principal Investigator",
    ]
    assert texts(cs, "overall_contact/last_name") + texts(cs, "overall_contact/degrees") == ["Major", "RN"]
    assert texts(cs, "overall_contact_backup/email") == ["richard.roe@example.org"]
    assert texts(cs, "location/facility/name") == ["Example University Hospital", "Hôpital Saint-Louis"]
    assert texts(cs, "location[1]/facility/address/state") == ["Massachusetts"]
    assert texts(cs, "location/status") == ["Recruiting", "Not yet recruiting"]
    assert texts(cs, "location[1]/contact/last_name") + texts(cs, "location[1]/contact_backup/last_name") == [
        "Lee",
        "Chen",
    ]


def test_rich_public_validates_and_places_values():
    data = render_xml(rich_study(), "public")
    assert_valid(data, "public")
    cs = parsed(data)
    assert cs.tag == "clinical_study"
    assert texts(cs, "required_header/url") == ["https://clinicaltrials.gov/study/NCT01234567"]
    assert "trialexport" in cs.findtext("required_header/download_date")
    assert texts(cs, "id_info/org_study_id|id_info/nct_id") == ["ORG-2024-001", "NCT01234567"]
    assert texts(cs, "id_info/secondary_id") == ["2023-000123-45", "R01CA000001"]
    assert texts(cs, "source") == ["Example University Hospital"]
    assert texts(cs, "sponsors/*/agency_class") == ["Other", "NIH"]
    assert texts(cs, "overall_status") == ["Active, not recruiting"]
    assert texts(cs, "why_stopped") == ["Enrollment target reached"]
    assert texts(cs, "start_date") == ["March 5, 2023"]
    assert cs.find("start_date").get("type") == "Actual"
    assert texts(cs, "primary_completion_date") == ["June 2025"]
    assert cs.find("completion_date").get("type") == "Anticipated"
    assert texts(cs, "phase") == ["Phase 1/Phase 2"]
    assert texts(cs, "study_type") == ["Interventional"]
    assert texts(cs, "study_design_info/*") == [
        "Non-Randomized",
        "Parallel Assignment",
        "Treatment",
        "Quadruple (Participant, Care Provider, Investigator, Outcomes Assessor)",
    ]
    assert texts(cs, "primary_outcome/description") == ["CTCAE 5.0"]
    assert texts(cs, "other_outcome/measure") == ["CAR-T expansion"]
    assert texts(cs, "number_of_arms") == ["2"]
    assert texts(cs, "enrollment") == ["120"] and cs.find("enrollment").get("type") == "Anticipated"
    assert texts(cs, "arm_group/arm_group_type") == ["Experimental", "Placebo Comparator"]
    assert texts(cs, "intervention/intervention_type") == ["Biological", "Drug", "Dietary Supplement"]
    assert texts(cs, "intervention[intervention_name='Vitamin D']/arm_group_label") == ["High dose"]
    assert texts(cs, "intervention/other_name") == ["CTL019"]
    assert texts(cs, "eligibility/minimum_age|eligibility/healthy_volunteers") == ["18 Years", "No"]
    assert texts(cs, "overall_official/role") == ["Principal Investigator", "Study Chair"]
    assert texts(cs, "overall_contact/phone") == ["+1 555 0100"]
    assert texts(cs, "location/facility/address/country") == ["United States", "France"]
    assert texts(cs, "location_countries/country") == ["United States", "France"]
    assert texts(cs, "keyword") == ["CAR-T", "CD19"]


def test_rich_study_loses_only_what_the_formats_cannot_hold():
    study = rich_study()
    assert public_record_gaps(study) == []
    assert untraced(study, xml_values(render_xml(study, "prs"))) == [
        "identifiers[1].value"
    ]  # PRS assigns NCT ids
    assert untraced(study, xml_values(render_xml(study, "public"))) == []


def test_output_is_byte_identical_across_renders():
    for template in ("prs", "public"):
        assert render_xml(rich_study(), template) == render_xml(rich_study(), template)


# --- seed-like study ------------------------------------------------------------------------------


def test_seed_like_prs_validates_and_leaves_out_what_has_no_source():
    study = seed_like_study()
    data = render_xml(study, "prs")
    assert_valid(data, "prs")
    (cs,) = parsed(data).xpath("clinical_study")
    assert texts(cs, "id_info/org_study_id") == ["004_8c3e1bb58083379b"]
    # no masking: no_masking yes, and so every masked_* no
    assert (
        texts(cs, "study_design/interventional_design/*") == ["Treatment", "N/A", "N/A", "yes"] + ["no"] * 4
    )
    assert texts(cs, "enrollment") == ["14"] and cs.find("enrollment_type") is None
    assert cs.find("intervention") is None  # no name: intervention_name is required
    assert cs.find("location") is None  # no facility name: facility/name is required
    assert texts(cs, "overall_official/first_name|overall_official/last_name") == ["Xianmin", "Song"]
    assert cs.find("overall_official/role") is None
    for absent in (
        "brief_title",
        "sponsors",
        "overall_status",
        "start_date",
        "eligibility",
        "overall_contact",
    ):
        assert cs.find(absent) is None, absent
    assert untraced(study, xml_values(data)) == [
        "interventions[1].description",  # no name: intervention_name is required
        "sites[1].city",  # no facility name: facility/name is required
        "sites[1].country",
    ]


def test_seed_like_study_has_no_public_record():
    assert public_record_gaps(seed_like_study()) == [
        "id_info/nct_id",
        "brief_title",
        "sponsors/lead_sponsor",
        "source",
        "overall_status",
    ]


def test_seed_studies_render_valid_prs(seed_studies):
    for study in seed_studies.values():
        assert_valid(render_xml(study, "prs"), "prs")


# --- required children without a source -----------------------------------------------------------


def gappy_study() -> Study:
    """A registry-like study where many optional elements lack a required child."""
    rich = rich_study()
    return rich.model_copy(
        update={
            "identifiers": [*rich.identifiers, Identifier(kind="local", value="doc-7")],
            "design": Design(study_type="INTERVENTIONAL", phases=["PHASE1", "PHASE3"], masking="DOUBLE"),
            "status": StatusInfo(overall_status="WITHHELD", start_date="2021", start_date_type="ACTUAL"),
            "interventions": [Intervention(name="Untyped"), *rich.interventions],
            "eligibility": Eligibility(criteria="Adults", sex="FEMALE", minimum_age="18 years"),
            "officials": [Person(name="Madonna", phone="555"), *rich.officials],
            "contacts": [
                Person(name="Cher"),
                *rich.contacts,
                Person(name="Third Person", role="STUDY_CHAIR"),
            ],
            "sites": [Site(city="Lyon", status="AVAILABLE"), *rich.sites],
        }
    )


def test_prs_writes_required_elements_without_a_source_empty_and_keeps_the_rest():
    """A required element with no source is written empty, as PRS's own downloads do: the rest
    of its block (number of arms, masking, criteria, sex) is not dropped with it."""
    study = gappy_study()
    data = render_xml(study, "prs")
    assert_valid(data, "prs")
    (cs,) = parsed(data).xpath("clinical_study")
    assert texts(cs, "study_design/study_type") == ["Interventional"]
    design = cs.find("study_design/interventional_design")
    for required in ("interventional_subtype", "phase", "allocation"):  # no purpose; Phase 1 + 3; none
        assert design.find(required).text is None, required
    assert texts(design, "no_masking|number_of_arms") == ["no", "2"]
    assert design.find("masked_subject") is None  # DOUBLE, and the source does not say who
    assert cs.find("overall_status") is None and cs.find("start_date") is None
    assert texts(cs, "eligibility/criteria/textblock|eligibility/gender") == ["Adults", "Female"]
    assert (
        texts(cs, "eligibility/minimum_age") == ["18 years"]
        and cs.find("eligibility/maximum_age").text is None
    )
    assert texts(cs, "overall_official/last_name") == ["Madonna", "Smith", "Doe"]  # one word: a surname
    assert texts(cs, "overall_contact/last_name|overall_contact_backup/last_name") == ["Cher", "Major"]
    assert len(cs.findall("location")) == 2
    assert texts(cs, "intervention[1]/intervention_name") == ["Untyped"]
    assert untraced(study, xml_values(data)) == [
        "identifiers[1].value",  # PRS assigns NCT ids
        "identifiers[5].value",  # org_study_id holds one id
        "contacts[3].name",  # only two central contacts
        "contacts[4].name",
        "contacts[3].email",
        "sites[1].city",  # no facility name
    ]


def test_public_leaves_out_elements_missing_a_required_child_and_says_so():
    study = gappy_study()
    assert public_record_gaps(study) == []
    data = render_xml(study, "public")
    assert_valid(data, "public")
    cs = parsed(data)
    assert texts(cs, "overall_status") == ["Withheld"]
    assert cs.find("phase") is None and cs.find("start_date") is None
    assert cs.find("eligibility") is None
    assert texts(cs, "intervention/intervention_name") == ["CAR-T cells", "Fludarabine", "Vitamin D"]
    # the public record keeps a name whole in last_name, as the registry writes it
    assert texts(cs, "overall_contact/last_name|overall_contact_backup/last_name") == [
        "Cher",
        "Mary Major, RN",
    ]
    assert cs.find("location[1]/facility") is None and texts(cs, "location[1]/status") == ["Available"]
    assert untraced(study, xml_values(data)) == [
        "identifiers[5].value",  # the local id has no public element
        "interventions[1].name",  # no type: public intervention_type is required
        "contacts[3].name",  # only two central contacts
        "contacts[4].name",
        "contacts[3].email",
        "sites[1].city",  # public address needs city and country
        "eligibility.criteria",  # minimum_age '18 years' is not an age like '18 Years'
    ]


def test_prs_masking_without_roles_is_reported():
    study = rich_study().model_copy(
        update={"design": rich_study().design.model_copy(update={"masking": "DOUBLE"})}
    )
    (cs,) = parsed(render_xml(study, "prs")).xpath("clinical_study")
    assert texts(cs, "study_design/interventional_design/no_masking") == ["no"]
    assert cs.find("study_design/interventional_design/masked_subject") is None


# --- every code the model can hold renders valid XML ----------------------------------------------

CODE_VARIANTS = (
    [("design.study_type", v) for v in get_args(model.StudyType)]
    + [("design.phases", [v]) for v in get_args(model.Phase)]
    + [("design.phases", ["PHASE2", "PHASE3"])]
    + [("design.allocation", v) for v in get_args(model.Allocation)]
    + [("design.intervention_model", v) for v in get_args(model.InterventionModel)]
    + [("design.primary_purpose", v) for v in get_args(model.PrimaryPurpose)]
    + [("design.masking", v) for v in get_args(model.Masking)]
    + [("status.overall_status", v) for v in get_args(model.OverallStatus)]
    + [("interventions", [Intervention(type=v, name="X")]) for v in get_args(model.InterventionType)]
    + [("arms", [Arm(label="A", type=v)]) for v in get_args(model.ArmType)]
    + [("officials", [Person(name="A B", role=v)]) for v in get_args(model.PersonRole)]
    + [
        ("sites", [Site(facility="F", city="C", country="K", investigators=[Person(name="A B", role=v)])])
        for v in get_args(model.PersonRole)
    ]
    + [
        ("sites", [Site(facility="F", city="C", country="K", status=v)])
        for v in get_args(model.OverallStatus)
    ]
    + [("status.last_known_status", v) for v in get_args(model.OverallStatus)]
    + [
        ("eligibility", Eligibility(criteria="c", sex=v, minimum_age="N/A", maximum_age="N/A"))
        for v in get_args(model.Sex)
    ]
    + [
        (
            "eligibility",
            Eligibility(criteria="c", sex="ALL", minimum_age="1 Year", maximum_age="N/A", sampling_method=v),
        )
        for v in get_args(model.SamplingMethod)
    ]
    + [("design.observational_model", v) for v in get_args(model.ObservationalModel)]
    + [("design.time_perspective", v) for v in get_args(model.TimePerspective)]
    + [("design.bio_spec_retention", v) for v in get_args(model.BioSpecRetention)]
    + [("design.who_masked", [v]) for v in get_args(model.WhoMasked)]
    + [("design.study_type", "OBSERVATIONAL"), ("design.patient_registry", True)]
    + [
        (
            "ipd_sharing_statement",
            IpdSharingStatement(ipd_sharing=v, info_types=list(get_args(model.IpdInfoType))),
        )
        for v in get_args(model.IpdSharing)
    ]
    + [("pending_results", [ResultsSubmission(event=v)]) for v in get_args(model.ResultsSubmissionEvent)]
    + [("avail_ipds", [AvailIpd(type=v)]) for v in ("Study Protocol", "study-level data", None)]
)


def test_every_observational_code_renders_valid_xml():
    design = Design(
        study_type="OBSERVATIONAL",
        patient_registry=True,
        target_duration="2 Years",
        observational_model="CASE_CONTROL",
        time_perspective="CROSS_SECTIONAL",
        bio_spec_retention="SAMPLES_WITH_DNA",
        bio_spec_description="Blood",
    )
    study = rich_study().model_copy(update={"design": design})
    public = parsed(render_xml(study, "public"))
    assert texts(public, "study_type") == ["Observational [Patient Registry]"]
    assert texts(public, "study_design_info/observational_model|study_design_info/time_perspective") == [
        "Case-Control",
        "Cross-Sectional",
    ]
    (cs,) = parsed(render_xml(study, "prs")).xpath("clinical_study")
    assert texts(cs, "study_design/observational_design/biospecimen_retention") == ["Samples With DNA"]


@pytest.mark.parametrize(("field", "value"), CODE_VARIANTS, ids=lambda v: str(v)[:40])
def test_every_model_code_renders_valid_xml(field, value):
    study = rich_study()
    if "." in field:
        part, name = field.split(".")
        study = study.model_copy(update={part: getattr(study, part).model_copy(update={name: value})})
    else:
        study = study.model_copy(update={field: value})
    prs, public = render_xml(study, "prs"), render_xml(study, "public")
    assert_valid(prs, "prs")
    assert_valid(public, "public")
    (cs,) = parsed(prs).xpath("clinical_study")
    assert len(cs.findall("intervention")) == len(study.interventions)


# --- escaping -------------------------------------------------------------------------------------

NASTY = "A <b>bold</b> & \"quoted\" {{ not_jinja }} {% raw %} ]]> </textblock><x/> &amp; 'apos'"


def test_markup_in_text_is_escaped_and_round_trips():
    study = rich_study().model_copy(
        update={
            "brief_title": NASTY,
            "brief_summary": NASTY,
            "conditions": [NASTY],
            "sponsor": Organization(name=NASTY),
            "outcomes": [Outcome(kind="primary", measure=NASTY, description=NASTY, time_frame=NASTY)],
        }
    )
    prs, public = render_xml(study, "prs"), render_xml(study, "public")
    assert_valid(prs, "prs")
    assert_valid(public, "public")
    (cs,) = parsed(prs).xpath("clinical_study")
    for path in (
        "brief_title",
        "brief_summary/textblock",
        "condition",
        "sponsors/lead_sponsor/agency",
        "primary_outcome/outcome_description/textblock",
    ):
        assert texts(cs, path) == [NASTY], path
    cs = parsed(public)
    for path in ("brief_title", "brief_summary/textblock", "source", "primary_outcome/measure"):
        assert texts(cs, path) == [NASTY], path
    assert b"<x/>" not in prs and b"<x/>" not in public


# The shipped templates write a site's address in place and every person through person_elements;
# the earlier macros stay for overlays that call them, and must keep writing what they wrote.
_PERSON = Person(
    name="Jane Q. Doe, MD",
    role="PRINCIPAL_INVESTIGATOR",
    affiliation="Example University",
    phone="555-0100",
    phone_ext="12",
    email="jane@example.org",
)


def _codes_module():
    from mappers.render import environment

    return environment().get_template("ctgov/_codes.xml.j2").module


def _elements(markup: str) -> list[tuple[str, str]]:
    root = etree.fromstring(f"<x>{markup}</x>")
    return [(child.tag, child.text or "") for child in root]


@pytest.mark.parametrize("split", [True, False])
def test_person_macros_kept_for_overlays_write_their_elements(split):
    codes = _codes_module()
    name = (
        [("first_name", "Jane"), ("middle_name", "Q."), ("last_name", "Doe"), ("degrees", "MD")]
        if split
        else [("last_name", "Jane Q. Doe, MD")]
    )
    role = [("role", "Principal Investigator")]
    assert _elements(codes.name_elements(_PERSON, split)) == name
    telecom = [("phone", "555-0100"), ("phone_ext", "12"), ("email", "jane@example.org")]
    assert _elements(codes.contact_elements(_PERSON, split)) == name + telecom
    assert _elements(codes.official_elements(_PERSON, split)) == name + role + [
        ("affiliation", "Example University")
    ]
    assert _elements(codes.investigator_elements(_PERSON, split)) == name + role


def test_address_macro_kept_for_overlays_writes_the_schema_order():
    codes = _codes_module()
    site = Site(facility="Clinic", city="Boston", zip="02115", country="United States")
    written = _elements(codes.address_elements(site))
    assert written == [("city", "Boston"), ("zip", "02115"), ("country", "United States")]
