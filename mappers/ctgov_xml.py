"""What the ClinicalTrials.gov XML formats need that a study may not have.

- ``public_record_gaps``: public.xsd requires elements (NCT id, brief title, lead sponsor,
  status, study type) that a source may not have; rather than invent them, the exporter skips
  the public XML and says why. The code tables are read from ``templates/ctgov/_codes.xml.j2``
  itself, so a code the template cannot translate is exactly a code that counts as missing.
- ``public_record_assumptions``: what the public XML states on an assumption, recorded.
- ``prs_missing`` / ``prs_readiness``: the data elements PRS requires for a registration that
  the study lacks, as one ``prs-incomplete`` warning. A PRS file is still written (the elements
  the study has are worth uploading and completing in PRS); what it lacks is named, never
  filled in.

What a written XML leaves out is found by ``mappers.trace`` on the rendered file, not predicted
here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from mappers.model import Issue, Study
from mappers.render import environment

CODES_TEMPLATE = "ctgov/_codes.xml.j2"


@cache
def _codes():
    """The shipped code tables (a user overlay changes templates, not this check)."""
    return environment().get_template(CODES_TEMPLATE).module


def public_record_gaps(study: Study) -> list[str]:
    """Elements public.xsd requires that this study has no source for (empty: it can be written)."""
    codes = _codes()
    checks = [
        ("id_info/nct_id", study.nct_id),
        ("brief_title", study.brief_title),
        ("sponsors/lead_sponsor", study.sponsor and study.sponsor.name),
        (
            "source",
            (study.organization and study.organization.name) or (study.sponsor and study.sponsor.name),
        ),
        ("overall_status", study.status.overall_status in codes.PUBLIC_STATUS),
        ("study_type", study.design.study_type in codes.STUDY_TYPE),
    ]
    return [element for element, present in checks if not present]


def public_record_assumptions(study: Study) -> list[Issue]:
    """Assumptions the public XML makes for this study (``<source>`` from the lead sponsor when
    the source does not name the organisation that registered the study: CSV exports and
    free-text pages do not; the two are the same organisation in most registry records)."""
    if study.organization or not (study.sponsor and study.sponsor.name):
        return []
    return [
        Issue(
            severity="information",
            code="assumed-source",
            field="organization",
            message="public XML <source> (the organisation that registered the study) is not in the "
            "source: the lead sponsor is written there",
        )
    ]


# --- PRS readiness ---------------------------------------------------------------------------------

# The registration data elements PRS requires, from ProtocolRecordSchema.xsd 2018.05.08 (elements
# without minOccurs="0": org_study_id, brief_title, lead_sponsor, study_type, the interventional
# design's purpose/phase/allocation, the observational design's model/biospecimen retention/
# timing/number of groups, eligibility's criteria/gender/ages, irb_info's approval_status …) and
# from PRS's "Protocol Registration Data Element Definitions" (elements marked required, *, and
# required for studies starting on or after 2017-01-18, *§). Each entry: (label shown to the
# user, the PRS element, the study types it applies to, the test that the study has it).
_ALL = ("INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS")
_STUDIES = ("INTERVENTIONAL", "OBSERVATIONAL")
_FINAL_RULE = "2017-01-18"  # 42 CFR Part 11: *§ elements are required from this start date on


def _after_final_rule(study: Study) -> bool:
    """Whether the *§ elements apply: the study starts on or after 2017-01-18, or its start is
    not known (then PRS will ask)."""
    start = study.status.start_date
    return start is None or start >= _FINAL_RULE[: len(start)]


def _offers_expanded_access(study: Study) -> bool:
    """Whether the record says its product is available through expanded access (PRS keeps
    that in the IND/IDE information: the template writes ind_info exactly then)."""
    access = study.expanded_access_info
    return access is not None and (access.has_expanded_access is True or bool(access.nct_id))


def _has_status(study: Study) -> bool:
    codes = _codes()
    status = study.status
    shown = status.last_known_status if status.overall_status == "UNKNOWN" else status.overall_status
    return shown in codes.RECRUITMENT_STATUS or shown in codes.EXPANDED_ACCESS_STATUS


def _month(value: str | None) -> bool:
    return bool(value and len(value) >= 7)


def _masking_known(study: Study) -> bool:
    d = study.design
    return d.masking in ("NONE", "QUADRUPLE") or (d.masking is not None and bool(d.who_masked))


def _has_arms(study: Study) -> bool:
    return study.design.number_of_arms is not None or bool(study.arms)


def _eligible(study: Study, part: str) -> bool:
    e = study.eligibility
    return e is not None and getattr(e, part) not in (None, "", [])


def _contact_when_recruiting(study: Study) -> bool:
    if study.status.overall_status not in ("RECRUITING", "NOT_YET_RECRUITING"):
        return True
    return bool(study.contacts) or any(site.contacts for site in study.sites)


_Check = Callable[[Study], bool]
PRS_REQUIRED: tuple[tuple[str, str, tuple[str, ...], _Check], ...] = (
    (
        "Unique Protocol ID",
        "id_info/org_study_id",
        _ALL,
        lambda s: any(i.kind == "org_study_id" for i in s.identifiers),
    ),
    ("Brief Title", "brief_title", _ALL, lambda s: bool(s.brief_title)),
    ("Official Title", "official_title", _ALL, lambda s: bool(s.official_title) or not _after_final_rule(s)),
    ("Study Type", "study_design/study_type", _ALL, lambda s: s.design.study_type is not None),
    (
        "Record Verification Date",
        "verification_date",
        _ALL,
        lambda s: _month(s.status.status_verified_date),
    ),
    ("Overall Recruitment Status", "overall_status", _ALL, _has_status),
    ("Study Start Date", "start_date", _STUDIES, lambda s: _month(s.status.start_date)),
    (
        "Primary Completion Date",
        "primary_compl_date",
        _STUDIES,
        lambda s: _month(s.status.primary_completion_date),
    ),
    (
        "Study Completion Date",
        "last_follow_up_date",
        _STUDIES,
        lambda s: _month(s.status.completion_date) or not _after_final_rule(s),
    ),
    ("Sponsor", "sponsors/lead_sponsor", _ALL, lambda s: bool(s.sponsor and s.sponsor.name)),
    (
        "Responsible Party",
        "sponsors/resp_party",
        _ALL,
        lambda s: bool(s.responsible_party and s.responsible_party.type),
    ),
    (
        "Human Subjects Protection Review (board status)",
        "oversight_info/irb_info/approval_status",
        _ALL,
        lambda s: False,  # not published by the registry: no source has it
    ),
    (
        "U.S. FDA-regulated Drug Product",
        "oversight_info/fda_regulated_drug",
        _STUDIES,
        lambda s: (
            (s.oversight is not None and s.oversight.is_fda_regulated_drug is not None)
            or not _after_final_rule(s)
        ),
    ),
    (
        "U.S. FDA-regulated Device Product",
        "oversight_info/fda_regulated_device",
        _STUDIES,
        lambda s: (
            (s.oversight is not None and s.oversight.is_fda_regulated_device is not None)
            or not _after_final_rule(s)
        ),
    ),
    (
        # PRS keeps the expanded-access flag in the IND/IDE information, whose grantor and number
        # no public record gives: the PRS file states availability with both left empty
        "U.S. FDA IND/IDE grantor and number (the product is available through expanded access)",
        "ind_info/ind_grantor, ind_number",
        _ALL,
        lambda s: not _offers_expanded_access(s),
    ),
    ("Brief Summary", "brief_summary", _ALL, lambda s: bool(s.brief_summary)),
    ("Conditions", "condition", _ALL, lambda s: bool(s.conditions)),
    (
        "Expanded Access Type",
        "study_design/exp_acc_type_*",
        ("EXPANDED_ACCESS",),
        lambda s: s.design.expanded_access_types is not None,
    ),
    (
        "Primary Purpose",
        "interventional_design/interventional_subtype",
        ("INTERVENTIONAL",),
        lambda s: s.design.primary_purpose in _codes().PRIMARY_PURPOSE,
    ),
    (
        "Study Phase",
        "interventional_design/phase",
        ("INTERVENTIONAL",),
        lambda s: _codes().PRS_PHASE.get(",".join(sorted(s.design.phases))) is not None,
    ),
    (
        "Interventional Study Model",
        "interventional_design/assignment",
        ("INTERVENTIONAL",),
        lambda s: s.design.intervention_model is not None,
    ),
    ("Number of Arms", "interventional_design/number_of_arms", ("INTERVENTIONAL",), _has_arms),
    (
        "Masking (who is masked)",
        "interventional_design/no_masking, masked_*",
        ("INTERVENTIONAL",),
        _masking_known,
    ),
    (
        "Allocation",
        "interventional_design/allocation",
        ("INTERVENTIONAL",),
        lambda s: s.design.allocation in _codes().PRS_ALLOCATION,
    ),
    (
        "Observational Study Model",
        "observational_design/observational_study_design",
        ("OBSERVATIONAL",),
        lambda s: s.design.observational_model is not None,
    ),
    (
        "Time Perspective",
        "observational_design/timing",
        ("OBSERVATIONAL",),
        lambda s: s.design.time_perspective is not None,
    ),
    (
        "Biospecimen Retention",
        "observational_design/biospecimen_retention",
        ("OBSERVATIONAL",),
        lambda s: s.design.bio_spec_retention is not None,
    ),
    ("Number of Groups/Cohorts", "observational_design/number_of_groups", ("OBSERVATIONAL",), _has_arms),
    (
        "Study Population Description",
        "eligibility/study_population",
        ("OBSERVATIONAL",),
        lambda s: _eligible(s, "study_population"),
    ),
    (
        "Sampling Method",
        "eligibility/sampling_method",
        ("OBSERVATIONAL",),
        lambda s: _eligible(s, "sampling_method"),
    ),
    ("Enrollment", "enrollment", _STUDIES, lambda s: s.enrollment is not None),
    (
        "Enrollment Type (actual or anticipated)",
        "enrollment_type",
        _STUDIES,
        lambda s: s.enrollment is not None and s.enrollment.type is not None,
    ),
    (
        "Arm Information (label and type)",
        "arm_group",
        ("INTERVENTIONAL",),
        lambda s: bool(s.arms) and all(a.type for a in s.arms),
    ),
    (
        "Interventions (type and name)",
        "intervention",
        ("INTERVENTIONAL", "EXPANDED_ACCESS"),
        lambda s: bool(s.interventions) and all(i.name and i.type for i in s.interventions),
    ),
    (
        "Primary Outcome Measure (title and time frame)",
        "primary_outcome",
        _STUDIES,
        lambda s: bool(s.outcomes_of("primary")) and all(o.time_frame for o in s.outcomes_of("primary")),
    ),
    ("Eligibility Criteria", "eligibility/criteria", _ALL, lambda s: _eligible(s, "criteria")),
    ("Sex/Gender", "eligibility/gender", _ALL, lambda s: _eligible(s, "sex")),
    ("Minimum Age", "eligibility/minimum_age", _ALL, lambda s: _eligible(s, "minimum_age")),
    ("Maximum Age", "eligibility/maximum_age", _ALL, lambda s: _eligible(s, "maximum_age")),
    (
        "Accepts Healthy Volunteers",
        "eligibility/healthy_volunteers",
        _STUDIES,
        lambda s: _eligible(s, "healthy_volunteers"),
    ),
    (
        "Central Contact or Facility Contact (recruiting studies)",
        "overall_contact",
        _STUDIES,
        _contact_when_recruiting,
    ),
)


def prs_missing(study: Study) -> list[str]:
    """The PRS registration data elements this study lacks, as "Label (prs element)".

    A study without a study type is checked against the elements every study type requires."""
    study_type = study.design.study_type
    return [
        f"{label} ({element})"
        for label, element, types, present in PRS_REQUIRED
        if (study_type in types if study_type else types == _ALL) and not present(study)
    ]


PRS_INCOMPLETE = "prs-incomplete"  # the issue code; the run report counts the studies with it


def prs_readiness(study: Study) -> Issue | None:
    """One ``prs-incomplete`` warning naming every required element the study lacks."""
    missing = prs_missing(study)
    if not missing:
        return None
    return Issue(
        severity="warning",
        code=PRS_INCOMPLETE,
        field="prs",
        message=f"PRS registration lacks {len(missing)} required data element(s) the source does "
        f"not give (to be completed in PRS, not invented): " + "; ".join(missing),
    )
