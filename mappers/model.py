"""The canonical study model: the one shape every reader produces and every template consumes.

Readers never hand templates their own structures, and templates never see source text: this
model is the contract between the two halves. It forbids unknown fields, so that a reader bug
fails loudly at the boundary instead of leaking into an export. A reader's values are validated in
pydantic's lax mode (``Draft.build``): a count read as ``"12"`` becomes 12, and a value that does
not convert exactly is rejected with its field named; once built, a study is strict and frozen.

Coded values use the ClinicalTrials.gov API v2 enumerations (``INTERVENTIONAL``, ``PHASE1``,
``RANDOMIZED``…) because that is the vocabulary every source layout already speaks; the
templates translate them to FHIR and PRS codes. A field with no source stays ``None`` or empty:
nothing here has a default that could be mistaken for data.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# --- ClinicalTrials.gov API v2 vocabularies ------------------------------------------------------

StudyType = Literal["INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"]
Phase = Literal["NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4"]
Allocation = Literal["RANDOMIZED", "NON_RANDOMIZED", "NA"]
InterventionModel = Literal["SINGLE_GROUP", "PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL"]
PrimaryPurpose = Literal[
    "TREATMENT",
    "PREVENTION",
    "DIAGNOSTIC",
    "ECT",
    "SUPPORTIVE_CARE",
    "SCREENING",
    "HEALTH_SERVICES_RESEARCH",
    "BASIC_SCIENCE",
    "DEVICE_FEASIBILITY",
    "OTHER",
]
Masking = Literal["NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"]
InterventionType = Literal[
    "BEHAVIORAL",
    "BIOLOGICAL",
    "COMBINATION_PRODUCT",
    "DEVICE",
    "DIAGNOSTIC_TEST",
    "DIETARY_SUPPLEMENT",
    "DRUG",
    "GENETIC",
    "PROCEDURE",
    "RADIATION",
    "OTHER",
]
ArmType = Literal[
    "EXPERIMENTAL",
    "ACTIVE_COMPARATOR",
    "PLACEBO_COMPARATOR",
    "SHAM_COMPARATOR",
    "NO_INTERVENTION",
    "OTHER",
]
OverallStatus = Literal[
    "ACTIVE_NOT_RECRUITING",
    "COMPLETED",
    "ENROLLING_BY_INVITATION",
    "NOT_YET_RECRUITING",
    "RECRUITING",
    "SUSPENDED",
    "TERMINATED",
    "WITHDRAWN",
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
    "UNKNOWN",
]
DateType = Literal["ACTUAL", "ESTIMATED"]
OutcomeKind = Literal["primary", "secondary", "other"]
OfficialRole = Literal["PRINCIPAL_INVESTIGATOR", "STUDY_DIRECTOR", "STUDY_CHAIR"]
Sex = Literal["ALL", "FEMALE", "MALE"]
IdentifierKind = Literal["nct", "org_study_id", "secondary", "local"]
Severity = Literal["error", "warning", "information"]
ReferenceType = Literal["BACKGROUND", "RESULT", "DERIVED"]
ResponsiblePartyType = Literal["SPONSOR", "PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR"]

# A ClinicalTrials.gov date: year, year-month or full date — also a valid FHIR ``date``.
PartialDate = Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Issue(_Strict):
    """Something a reader, mapper or validator wants a person to know about one study.

    ``code`` is stable and machine-readable (tests and dashboards match on it); ``message`` is for
    people. Assumptions the reader makes are issues too, so that they travel with the study into
    every report.
    """

    severity: Severity
    code: str
    message: str
    field: str | None = None
    location: str | None = None  # where in the source: "line 12", "row 3", "/protocolSection/…"


class Identifier(_Strict):
    kind: IdentifierKind
    value: str
    system: str | None = None  # set for registry ids whose system is known (NCT ids); else from settings
    type: str | None = None  # CT.gov secondary id type, e.g. "EudraCT Number"
    domain: str | None = None  # CT.gov secondary id domain (issuer)


class Dose(_Strict):
    """A dose as stated in the source, plus its machine-readable form where one could be read."""

    text: str
    value: float | None = None
    unit: str | None = None  # human-readable unit, e.g. "10^6 cells/kg"
    ucum: str | None = None  # UCUM code of ``unit``, e.g. "10*6{cells}/kg"


class Intervention(_Strict):
    type: InterventionType | None = None
    name: str | None = None
    description: str | None = None
    other_names: list[str] = []
    arm_labels: list[str] = []


class Arm(_Strict):
    """An arm, group/cohort or dose group."""

    label: str
    type: ArmType | None = None
    description: str | None = None
    intervention_names: list[str] = []
    dose: Dose | None = None


class Outcome(_Strict):
    kind: OutcomeKind
    measure: str
    description: str | None = None
    time_frame: str | None = None


class Design(_Strict):
    study_type: StudyType | None = None
    phases: list[Phase] = []
    allocation: Allocation | None = None
    intervention_model: InterventionModel | None = None
    primary_purpose: PrimaryPurpose | None = None
    masking: Masking | None = None


class Enrollment(_Strict):
    count: int = Field(ge=0)
    type: DateType | None = None  # ACTUAL or ESTIMATED (the source's own word for "anticipated")


class StatusInfo(_Strict):
    overall_status: OverallStatus | None = None
    why_stopped: str | None = None
    start_date: PartialDate | None = None
    start_date_type: DateType | None = None
    primary_completion_date: PartialDate | None = None
    primary_completion_date_type: DateType | None = None
    completion_date: PartialDate | None = None
    completion_date_type: DateType | None = None


class Organization(_Strict):
    name: str
    agency_class: str | None = None  # CT.gov agency class: INDUSTRY, NIH, OTHER…


class Person(_Strict):
    """An official or contact; ``name`` is the source's text, unsplit (templates split it)."""

    name: str
    role: OfficialRole | None = None
    affiliation: str | None = None
    phone: str | None = None
    email: str | None = None


class Site(_Strict):
    facility: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    status: str | None = None
    contacts: list[Person] = []


class Eligibility(_Strict):
    criteria: str | None = None
    sex: Sex | None = None
    minimum_age: str | None = None
    maximum_age: str | None = None
    healthy_volunteers: bool | None = None


class Reference(_Strict):
    """A citation; ``type`` is None where the source does not say (legacy XML's plain
    ``reference`` may be background or derived)."""

    citation: str
    pmid: str | None = None
    type: ReferenceType | None = None


class Link(_Strict):
    url: str
    description: str | None = None


class ResponsibleParty(_Strict):
    """Who answers for the record; the investigator fields only when an investigator does."""

    type: ResponsiblePartyType
    investigator_name: str | None = None
    investigator_title: str | None = None
    investigator_affiliation: str | None = None


class Provenance(_Strict):
    """Where a study came from, so every output value can be traced back to its source."""

    source: str  # the input path as given to the run
    record: int | None = None  # 1-based position when one file holds several studies
    layout: str  # the reader that recognised the source, e.g. "text-a"
    content_hash: str  # sha256 of the input's bytes (shared by every record of a many-record input)
    field_sources: dict[str, str] = {}  # canonical field -> where it was read ("line 3")


class Study(_Strict):
    """One clinical study, as read from one source record."""

    identifiers: list[Identifier] = []
    brief_title: str | None = None
    official_title: str | None = None
    acronym: str | None = None
    brief_summary: str | None = None
    detailed_description: str | None = None
    conditions: list[str] = []
    keywords: list[str] = []
    interventions: list[Intervention] = []
    arms: list[Arm] = []
    outcomes: list[Outcome] = []
    design: Design = Design()
    enrollment: Enrollment | None = None
    status: StatusInfo = StatusInfo()
    sponsor: Organization | None = None
    collaborators: list[Organization] = []
    officials: list[Person] = []
    contacts: list[Person] = []
    sites: list[Site] = []
    eligibility: Eligibility | None = None
    responsible_party: ResponsibleParty | None = None
    references: list[Reference] = []
    links: list[Link] = []
    provenance: Provenance
    issues: list[Issue] = []

    @property
    def nct_id(self) -> str | None:
        return next((i.value for i in self.identifiers if i.kind == "nct"), None)

    def outcomes_of(self, kind: OutcomeKind) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]
