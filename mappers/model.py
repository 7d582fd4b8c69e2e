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
# A person's role: an official's, or a site investigator's (public XML role_enum; API v2
# locations[].contacts[].role, where CONTACT marks a site contact rather than an investigator).
PersonRole = Literal["PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR", "STUDY_DIRECTOR", "STUDY_CHAIR"]
ObservationalModel = Literal[
    "COHORT",
    "CASE_CONTROL",
    "CASE_ONLY",
    "CASE_CROSSOVER",
    "ECOLOGIC_OR_COMMUNITY",
    "FAMILY_BASED",
    "DEFINED_POPULATION",
    "NATURAL_HISTORY",
    "OTHER",
]
TimePerspective = Literal["RETROSPECTIVE", "PROSPECTIVE", "CROSS_SECTIONAL", "OTHER"]
WhoMasked = Literal["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"]
BioSpecRetention = Literal["NONE_RETAINED", "SAMPLES_WITH_DNA", "SAMPLES_WITHOUT_DNA"]
SamplingMethod = Literal["PROBABILITY_SAMPLE", "NON_PROBABILITY_SAMPLE"]
StdAge = Literal["CHILD", "ADULT", "OLDER_ADULT"]
IpdSharing = Literal["YES", "NO", "UNDECIDED"]
IpdInfoType = Literal["STUDY_PROTOCOL", "SAP", "ICF", "CSR", "ANALYTIC_CODE"]
ResultsSubmissionEvent = Literal["SUBMITTED", "RETURNED", "SUBMISSION_CANCELED"]
Sex = Literal["ALL", "FEMALE", "MALE"]
IdentifierKind = Literal["nct", "org_study_id", "secondary", "local"]
Severity = Literal["error", "warning", "information"]
ReferenceType = Literal["BACKGROUND", "RESULT", "DERIVED"]
ResponsiblePartyType = Literal["SPONSOR", "PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR"]

# A ClinicalTrials.gov date: year, year-month or full date — also a valid FHIR ``date``.
PartialDate = Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]


class _Strict(BaseModel):
    """Empty lists and dicts are defaults by factory (``Field(default_factory=list)``): pydantic
    deep-copies a mutable default value on every model it is missing from, a dozen a study."""

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
    other_names: list[str] = Field(default_factory=list)
    arm_labels: list[str] = Field(default_factory=list)


class Arm(_Strict):
    """An arm, group/cohort or dose group."""

    label: str
    type: ArmType | None = None
    description: str | None = None
    intervention_names: list[str] = Field(default_factory=list)
    dose: Dose | None = None


class Outcome(_Strict):
    kind: OutcomeKind
    measure: str
    description: str | None = None
    time_frame: str | None = None
    safety_issue: bool | None = None  # 2016 records only; retired by the registry in 2017


class ExpandedAccessTypes(_Strict):
    """Which kinds of expanded access an expanded-access record offers (API v2
    ``designModule.expandedAccessTypes``, public XML ``expanded_access_info``)."""

    individual: bool | None = None
    intermediate: bool | None = None
    treatment: bool | None = None


class Design(_Strict):
    """How the study is designed, as the registry states it.

    ``number_of_arms`` is the registry's own count of arms (interventional) or groups/cohorts
    (observational): legacy records state it even when they list no arm groups, so it is not
    derived from ``Study.arms`` here (templates fall back to the number of arms)."""

    study_type: StudyType | None = None
    patient_registry: bool | None = None  # an observational study that is a patient registry
    target_duration: str | None = None  # of a patient registry, e.g. "12 Months"
    phases: list[Phase] = Field(default_factory=list)
    allocation: Allocation | None = None
    intervention_model: InterventionModel | None = None
    intervention_model_description: str | None = None
    primary_purpose: PrimaryPurpose | None = None
    observational_model: ObservationalModel | None = None
    time_perspective: TimePerspective | None = None
    masking: Masking | None = None
    who_masked: list[WhoMasked] = Field(default_factory=list)  # the masked roles, in the source's order
    masking_description: str | None = None
    number_of_arms: int | None = Field(default=None, ge=0)
    bio_spec_retention: BioSpecRetention | None = None
    bio_spec_description: str | None = None
    expanded_access_types: ExpandedAccessTypes | None = None
    endpoint_classification: str | None = None  # 2016 records only; retired by the registry in 2017


class Enrollment(_Strict):
    count: int = Field(ge=0)
    type: DateType | None = None  # ACTUAL or ESTIMATED (the source's own word for "anticipated")


class StatusInfo(_Strict):
    """Recruitment status and every dated milestone of the study and of its registry record.

    Names follow API v2's ``statusModule`` (``lastUpdatePostDateStruct`` ->
    ``last_update_post_date`` + ``_type``); the legacy public XML's ``study_first_submitted``,
    ``last_update_posted`` … and the 2016 names ``firstreceived_date`` / ``lastchanged_date``
    land in the same fields. A posted date's ESTIMATED is the public XML's "Estimate"."""

    overall_status: OverallStatus | None = None
    last_known_status: OverallStatus | None = None  # the status before it became UNKNOWN
    why_stopped: str | None = None
    status_verified_date: PartialDate | None = None
    start_date: PartialDate | None = None
    start_date_type: DateType | None = None
    primary_completion_date: PartialDate | None = None
    primary_completion_date_type: DateType | None = None
    completion_date: PartialDate | None = None
    completion_date_type: DateType | None = None
    study_first_submit_date: PartialDate | None = None
    study_first_submit_qc_date: PartialDate | None = None
    study_first_post_date: PartialDate | None = None
    study_first_post_date_type: DateType | None = None
    results_first_submit_date: PartialDate | None = None
    results_first_submit_qc_date: PartialDate | None = None
    results_first_post_date: PartialDate | None = None
    results_first_post_date_type: DateType | None = None
    disp_first_submit_date: PartialDate | None = None
    disp_first_submit_qc_date: PartialDate | None = None
    disp_first_post_date: PartialDate | None = None
    disp_first_post_date_type: DateType | None = None
    last_update_submit_date: PartialDate | None = None
    last_update_submit_qc_date: PartialDate | None = None  # legacy XML only
    last_update_post_date: PartialDate | None = None
    last_update_post_date_type: DateType | None = None


class ResultsSubmission(_Strict):
    """One step of a results submission still in quality-control review (public XML
    ``pending_results``); ``date`` is None where the registry says "Unknown"."""

    event: ResultsSubmissionEvent
    date: PartialDate | None = None


class ExpandedAccessInfo(_Strict):
    """Whether the studied product is available through expanded access, and the
    expanded-access record that says so (API v2 ``statusModule.expandedAccessInfo``)."""

    has_expanded_access: bool | None = None
    nct_id: str | None = None
    status_for_nct_id: OverallStatus | None = None


class Oversight(_Strict):
    """Regulatory oversight (API v2 ``oversightModule``, public XML ``oversight_info``)."""

    has_dmc: bool | None = None  # a data monitoring committee
    is_fda_regulated_drug: bool | None = None
    is_fda_regulated_device: bool | None = None
    is_unapproved_device: bool | None = None
    is_ppsd: bool | None = None  # pediatric postmarket surveillance of a device
    is_us_export: bool | None = None
    fdaaa801_violation: bool | None = None
    # 2016 records only; retired by the registry in 2017 and never written again
    authorities: list[str] = Field(default_factory=list)
    is_fda_regulated: bool | None = None
    is_section_801: bool | None = None


class Organization(_Strict):
    name: str
    agency_class: str | None = None  # CT.gov agency class: INDUSTRY, NIH, OTHER…


class Person(_Strict):
    """An official, contact or site investigator.

    ``name`` is the source's text, whole: the registry keeps it so (public XML puts it all in
    ``last_name``) and it need not be a person's name at all ("Clinical Trials", "Lilly Call
    Center"); formats that want name parts split it (``mappers.names``)."""

    name: str
    role: PersonRole | None = None
    affiliation: str | None = None
    phone: str | None = None
    phone_ext: str | None = None
    email: str | None = None


class GeoPoint(_Strict):
    """A site's coordinates as the registry geocoded them (API v2 ``locations[].geoPoint``)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Site(_Strict):
    facility: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    status: OverallStatus | None = None  # the site's recruitment status
    geo_point: GeoPoint | None = None
    contacts: list[Person] = Field(default_factory=list)  # the site's contact and backup contact
    investigators: list[Person] = Field(default_factory=list)  # principal and sub-investigators at the site

    @property
    def principal_investigator(self) -> Person | None:
        """The first investigator whose role is principal investigator: the one FHIR R4's
        site study names (``principalInvestigator``). A property, not a template filter chain:
        a registry record has a thousand sites, and ``selectattr | list`` a site was an eighth
        of the R4 render of such a record."""
        return next((p for p in self.investigators if p.role == "PRINCIPAL_INVESTIGATOR"), None)


class Eligibility(_Strict):
    """Who may take part. An age is the source's text ("18 Years"); "N/A" is the registry's
    word for no limit, and a registry source that leaves an age out says exactly that."""

    criteria: str | None = None
    sex: Sex | None = None
    gender_based: bool | None = None
    gender_description: str | None = None
    minimum_age: str | None = None
    maximum_age: str | None = None
    std_ages: list[StdAge] = Field(default_factory=list)
    healthy_volunteers: bool | None = None
    study_population: str | None = None  # observational studies
    sampling_method: SamplingMethod | None = None  # observational studies


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
    """Who answers for the record; the investigator fields only when an investigator does.

    Records registered before 2011 name the party the old way, by name/title and organisation,
    without a type."""

    type: ResponsiblePartyType | None = None
    investigator_name: str | None = None
    investigator_title: str | None = None
    investigator_affiliation: str | None = None
    old_name_title: str | None = None
    old_organization: str | None = None


class MeshTerm(_Strict):
    """A MeSH heading as the registry gives it; ``id`` as the registry writes it (API v2 pads
    descriptor ids, "D000001943"), None where the source has the term only (legacy XML)."""

    term: str
    id: str | None = None


class Browse(_Strict):
    """The registry's MeSH indexing of the conditions or interventions (API v2
    ``derivedSection.conditionBrowseModule`` / ``interventionBrowseModule``, legacy
    ``condition_browse`` / ``intervention_browse``): the headings and their ancestors."""

    meshes: list[MeshTerm] = Field(default_factory=list)
    ancestors: list[MeshTerm] = Field(default_factory=list)


class IpdSharingStatement(_Strict):
    """The plan to share individual participant data (API v2 ``ipdSharingStatementModule``,
    public XML ``patient_data``, PRS ``ipd_sharing_statement``)."""

    ipd_sharing: IpdSharing
    description: str | None = None
    info_types: list[IpdInfoType] = Field(default_factory=list)
    time_frame: str | None = None
    access_criteria: str | None = None
    url: str | None = None


class AvailIpd(_Strict):
    """A data set or document available outside the registry (API v2
    ``referencesModule.availIpds``, public XML ``study_docs``, PRS ``study_document``)."""

    id: str | None = None
    type: str | None = None  # "Study Protocol", "Individual Participant Data Set", free text
    url: str | None = None
    comment: str | None = None


class LargeDocument(_Strict):
    """A protocol, statistical analysis plan or consent form uploaded to the registry (API v2
    ``documentSection.largeDocumentModule.largeDocs``, public XML ``provided_document``)."""

    label: str | None = None  # "Study Protocol and Statistical Analysis Plan"
    type_abbrev: str | None = None  # "Prot_SAP"
    has_protocol: bool | None = None
    has_sap: bool | None = None
    has_icf: bool | None = None
    date: PartialDate | None = None  # the document's own date
    upload_date: str | None = None
    filename: str | None = None
    size: int | None = None
    url: str | None = None


class Provenance(_Strict):
    """Where a study came from, so every output value can be traced back to its source."""

    source: str  # the input path as given to the run
    record: int | None = None  # 1-based position when one file holds several studies
    layout: str  # the reader that recognised the source, e.g. "text-a"
    content_hash: str  # sha256 of the input's bytes (shared by every record of a many-record input)
    field_sources: dict[str, str] = Field(
        default_factory=dict
    )  # canonical field -> where it was read ("line 3")


class Study(_Strict):
    """One clinical study, as read from one source record."""

    identifiers: list[Identifier] = Field(default_factory=list)
    nct_aliases: list[str] = Field(default_factory=list)  # NCT ids the registry merged into this one
    brief_title: str | None = None
    official_title: str | None = None
    acronym: str | None = None
    brief_summary: str | None = None
    detailed_description: str | None = None
    conditions: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    condition_browse: Browse | None = None
    interventions: list[Intervention] = Field(default_factory=list)
    intervention_browse: Browse | None = None
    arms: list[Arm] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    design: Design = Design()
    enrollment: Enrollment | None = None
    status: StatusInfo = StatusInfo()
    expanded_access_info: ExpandedAccessInfo | None = None
    oversight: Oversight | None = None
    organization: Organization | None = None  # who submitted the record (public XML <source>)
    sponsor: Organization | None = None
    collaborators: list[Organization] = Field(default_factory=list)
    officials: list[Person] = Field(default_factory=list)
    contacts: list[Person] = Field(default_factory=list)
    sites: list[Site] = Field(default_factory=list)
    removed_countries: list[str] = Field(default_factory=list)  # countries whose sites the registry removed
    eligibility: Eligibility | None = None
    responsible_party: ResponsibleParty | None = None
    references: list[Reference] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    ipd_sharing_statement: IpdSharingStatement | None = None
    avail_ipds: list[AvailIpd] = Field(default_factory=list)
    large_docs: list[LargeDocument] = Field(default_factory=list)
    pending_results: list[ResultsSubmission] = Field(default_factory=list)
    provenance: Provenance
    issues: list[Issue] = Field(default_factory=list)

    @property
    def nct_id(self) -> str | None:
        return next((i.value for i in self.identifiers if i.kind == "nct"), None)

    def outcomes_of(self, kind: OutcomeKind) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]
