"""Studies shared by the FHIR template tests of every release."""

import pytest

from mappers.model import (
    Arm,
    Design,
    Dose,
    Eligibility,
    Enrollment,
    Identifier,
    Intervention,
    Organization,
    Outcome,
    Person,
    Provenance,
    Site,
    StatusInfo,
    Study,
)

PROVENANCE = Provenance(source="tests/fhir.txt", layout="test", content_hash="0" * 64)


@pytest.fixture(scope="module")
def rich_study() -> Study:
    return Study(
        identifiers=[
            Identifier(kind="nct", value="NCT01234567"),
            Identifier(kind="org_study_id", value="ORG-2020-01"),
            Identifier(kind="secondary", value="2020-000123-45", type="EudraCT Number", domain="EMA"),
        ],
        brief_title="CAR-T Cells for Relapsed Lymphoma",
        official_title="A Phase 1/2 Study of Anti-CD19 CAR-T Cells in Relapsed or Refractory B-cell Lymphoma",
        acronym="CART-19",
        brief_summary="Tests whether **CAR-T cells** are safe.",
        detailed_description="Background.\n\nDesign: two arms.",
        conditions=["B-cell Lymphoma", "Leukemia"],
        keywords=["CAR-T", "CD19"],
        interventions=[
            Intervention(
                type="BIOLOGICAL",
                name="CD19 CAR-T cells",
                description="Single infusion.",
                other_names=["CTL019", "tisagenlecleucel"],
                arm_labels=["Dose escalation"],
            ),
            Intervention(type="DRUG", name="Fludarabine", description="25 mg/m2 daily for 3 days."),
            Intervention(type="DRUG", name="Tocilizumab", description="Rescue for cytokine release."),
        ],
        arms=[
            Arm(
                label="Dose escalation",
                type="EXPERIMENTAL",
                description="Escalating CAR-T doses after lymphodepletion.",
                intervention_names=["Drug: Fludarabine"],
                dose=Dose(text="0.5×10^6 cells/kg", value=0.5, unit="10^6 cells/kg", ucum="10*6{cells}/kg"),
            ),
            Arm(label="Expansion", type="ACTIVE_COMPARATOR", intervention_names=["Fludarabine"]),
        ],
        outcomes=[
            Outcome(
                kind="primary",
                measure="Dose-limiting toxicities",
                description="CTCAE v5",
                time_frame="28 days",
            ),
            Outcome(
                kind="secondary", measure="Overall response", description="Lugano 2014", time_frame="3 years"
            ),
            Outcome(kind="other", measure="CAR-T persistence", time_frame="Up to 2 years after infusion"),
        ],
        design=Design(
            study_type="INTERVENTIONAL",
            phases=["PHASE2", "PHASE1"],
            allocation="NA",
            intervention_model="SINGLE_GROUP",
            primary_purpose="TREATMENT",
            masking="NONE",
        ),
        enrollment=Enrollment(count=42, type="ACTUAL"),
        status=StatusInfo(
            overall_status="SUSPENDED",
            why_stopped="Manufacturing hold",
            start_date="2020-03",
            completion_date="2024-12-31",
            completion_date_type="ESTIMATED",
        ),
        sponsor=Organization(name="University Hospital", agency_class="OTHER"),
        collaborators=[Organization(name="National Cancer Institute", agency_class="NIH")],
        officials=[
            Person(name="Ada Lovelace, MD", role="PRINCIPAL_INVESTIGATOR", affiliation="University Hospital"),
            Person(name="Grace Hopper, PhD", role="STUDY_DIRECTOR"),
        ],
        contacts=[Person(name="Trial Office", phone="+1 555 0100", email="trials@example.org")],
        sites=[
            Site(
                facility="University Hospital",
                city="Boston",
                state="Massachusetts",
                zip="02115",
                country="United States",
                contacts=[Person(name="Site Nurse", phone="+1 555 0101")],
            ),
            Site(facility="Charité", city="Berlin", country="Germany"),
            Site(facility="Mass General", city="Boston", country="United States"),
        ],
        eligibility=Eligibility(
            criteria="Inclusion Criteria:\n\n* CD19+ lymphoma",
            sex="ALL",
            minimum_age="18 Years",
            maximum_age="75 Years",
            healthy_volunteers=False,
        ),
        provenance=PROVENANCE,
    )


@pytest.fixture(scope="module")
def minimal_study() -> Study:
    return Study(
        identifiers=[Identifier(kind="local", value="dose finding protocol.txt")],
        brief_summary="A dose-finding study.",
        outcomes=[Outcome(kind="primary", measure="Maximum tolerated dose")],
        interventions=[Intervention(description="An unnamed cell product.")],
        sites=[Site(city="Lyon", country="France")],
        arms=[
            Arm(label="Dose level 1", dose=Dose(text="1 mg/kg", value=1.0, unit="mg/kg", ucum="mg/kg")),
            Arm(label="Dose level 2", dose=Dose(text="2 mg/kg", value=2.0, unit="mg/kg", ucum="mg/kg")),
            Arm(label="Dose level 3", dose=Dose(text="the highest tolerated dose")),
        ],
        provenance=PROVENANCE,
    )
