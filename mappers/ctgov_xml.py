"""What the ClinicalTrials.gov XML templates could not write, so that the run report says it.

The templates leave out any element whose required content has no source rather than invent it;
these helpers name what was left out. They read the code tables and value macros of
``templates/ctgov/_codes.xml.j2`` itself, so a code the templates cannot translate is exactly a
code reported here; the structural conditions (an intervention needs a name, a PRS site a
facility name…) mirror ``prs.xml.j2`` and ``public.xml.j2`` and are pinned by tests.
"""

from __future__ import annotations

from functools import cache

from mappers.model import Person, Site, Study
from mappers.render import environment, split_name

CODES_TEMPLATE = "ctgov/_codes.xml.j2"
_DESIGN_FIELDS = ("phases", "allocation", "intervention_model", "primary_purpose", "masking")


@cache
def _codes():
    """The shipped code tables and macros (a user overlay changes templates, not these checks)."""
    return environment().get_template(CODES_TEMPLATE).module


def _phase_key(phases: list[str]) -> str:
    return str(_codes().phase_key(phases))


def _excerpt(text: str, size: int = 40) -> str:
    return repr(text if len(text) <= size else text[: size - 1] + "…")


def _has_last_name(person: Person) -> bool:
    return bool(split_name(person.name)["last"])


def _site_name(index: int, site: Site) -> str:
    place = ", ".join(p for p in (site.facility, site.city, site.country) if p)
    return f"site {index}" + (f" ({place})" if place else "")


def _unheld(person: Person, what: str, held: set[str]) -> list[str]:
    """Person fields with a value but no element where this person is written."""
    return [
        f"{what} {person.name!r}: {field} has no element here"
        for field in ("role", "affiliation", "phone", "email")
        if getattr(person, field) and field not in held
    ]


_CONTACT_HELD = {"phone", "email"}
_OFFICIAL_HELD = {"role", "affiliation"}


def _officials(study: Study) -> list[str]:
    out = []
    for person in study.officials:
        if _has_last_name(person):
            out += _unheld(person, "official", _OFFICIAL_HELD)
        else:
            out.append(f"official {person.name!r}: no last name can be read from it (last_name is required)")
    return out


def _contacts(people: list[Person], what: str) -> list[str]:
    out = [f"{what} {p.name!r}: only two contacts can be written" for p in people[2:]]
    for person in people[:2]:
        out += _unheld(person, what, _CONTACT_HELD)
    return out


def _dates(study: Study, macro) -> list[str]:
    out = []
    for name in ("start_date", "primary_completion_date", "completion_date"):
        value, kind = getattr(study.status, name), getattr(study.status, f"{name}_type")
        label = name.replace("_", " ")
        if value and not macro(value):
            out.append(f"{label} {value!r}: needs at least year and month")
        elif kind and not value:
            out.append(f"{label} type {kind}: there is no date for it to qualify")
    return out


def _arms(study: Study) -> list[str]:
    names = {i.name for i in study.interventions if i.name}
    out = []
    for index, arm in enumerate(study.arms, 1):
        if not arm.label:
            out.append(f"arm {index}: no label (arm_group_label is required)")
        if arm.dose and arm.dose.text not in (arm.description or ""):
            out.append(f"arm {arm.label!r} dose {arm.dose.text!r}: no dose element")
        out += [
            f"arm {arm.label!r}: intervention {name!r} is not among the study's named interventions"
            for name in arm.intervention_names
            if name not in names
        ]
    return out


def _outcomes(study: Study) -> list[str]:
    return [
        f"{o.kind} outcome {i}: no measure (the measure element is required)"
        for i, o in enumerate(study.outcomes, 1)
        if not o.measure
    ]


def _interventions(study: Study, type_table: dict, type_required: bool) -> list[str]:
    out = []
    for index, intervention in enumerate(study.interventions, 1):
        if not intervention.name:
            about = f" ({_excerpt(intervention.description)})" if intervention.description else ""
            out.append(f"intervention {index}{about}: no name (intervention_name is required); not written")
            continue
        what = f"intervention {index} {intervention.name!r}"
        if intervention.type not in type_table and (intervention.type or type_required):
            reason = f"type {intervention.type} has no value here" if intervention.type else "no type"
            out.append(f"{what}: {reason}" + ("; not written" if type_required else ""))
    return out


def _organizations(study: Study, class_table: dict | None) -> list[str]:
    out = []
    for role, org in [("lead sponsor", study.sponsor)] + [("collaborator", c) for c in study.collaborators]:
        if org and org.agency_class and (class_table is None or org.agency_class not in class_table):
            out.append(f"{role} {org.name!r}: agency class {org.agency_class} has no value here")
    return out


def public_record_gaps(study: Study) -> list[str]:
    """Elements public.xsd requires that this study has no source for (empty: it can be written)."""
    codes = _codes()
    checks = [
        ("id_info/nct_id", study.nct_id),
        ("brief_title", study.brief_title),
        ("sponsors/lead_sponsor", study.sponsor and study.sponsor.name),
        ("source", study.sponsor and study.sponsor.name),
        ("overall_status", study.status.overall_status in codes.PUBLIC_STATUS),
        ("study_type", study.design.study_type in codes.STUDY_TYPE),
    ]
    return [element for element, present in checks if not present]


def prs_omissions(study: Study) -> list[str]:
    """Model values the PRS XML does not carry, each with the reason."""
    codes = _codes()
    named_contacts = [p for p in study.contacts if _has_last_name(p)]
    return [
        *_prs_identifiers(study),
        *_prs_sponsors(study),
        *_prs_status(study),
        *_dates(study, codes.prs_date),
        *_prs_design(study),
        *_outcomes(study),
        *_arms(study),
        *_interventions(study, codes.PRS_INTERVENTION_TYPE, type_required=False),
        *_prs_eligibility(study),
        *_officials(study),
        *[
            f"central contact {p.name!r}: no last name can be read from it (last_name is required)"
            for p in study.contacts
            if p not in named_contacts
        ],
        *_contacts(named_contacts, "central contact"),
        *_prs_sites(study),
    ]


def _prs_sponsors(study: Study) -> list[str]:
    out = _organizations(study, None)
    if study.collaborators and not (study.sponsor and study.sponsor.name):
        out.append("collaborators: PRS lists them under a lead sponsor, and the source names none")
    return out


def _prs_status(study: Study) -> list[str]:
    codes, status = _codes(), study.status.overall_status
    if status and status not in codes.RECRUITMENT_STATUS and status not in codes.EXPANDED_ACCESS_STATUS:
        return [f"overall status {status}: no PRS status value"]
    return []


def _prs_identifiers(study: Study) -> list[str]:
    org_ids = [i for i in study.identifiers if i.kind == "org_study_id"]
    if org_ids:
        written = org_ids[0]
    else:
        written = next((i for kind in ("nct", "local") for i in study.identifiers if i.kind == kind), None)
    out = []
    for ident in study.identifiers:
        if ident.kind == "secondary":
            if ident.type and ident.type not in _codes().PRS_SECONDARY_ID_TYPE:
                out.append(f"secondary id {ident.value!r}: type {ident.type!r} is not a PRS id_type")
        elif ident is not written:
            reason = "PRS assigns NCT ids" if ident.kind == "nct" else "org_study_id holds one id"
            out.append(f"{ident.kind} identifier {ident.value!r}: no PRS element ({reason})")
    return out


def _prs_design(study: Study) -> list[str]:
    codes, design = _codes(), study.design
    present = [f for f in _DESIGN_FIELDS if getattr(design, f)]
    if not design.study_type:
        return [f"design {', '.join(present)}: PRS study_design needs a study type"] if present else []
    if design.study_type != "INTERVENTIONAL":
        return (
            [f"design {', '.join(present)}: PRS holds it for interventional studies only"] if present else []
        )
    phase = "+".join(design.phases)
    lacking = [
        (f"{name} {value} has no PRS value" if value else f"no {name}")
        for name, value, ok in (
            ("primary purpose", design.primary_purpose, design.primary_purpose in codes.PRIMARY_PURPOSE),
            ("phase", phase, _phase_key(design.phases) in codes.PRS_PHASE),
            ("allocation", design.allocation, design.allocation in codes.PRS_ALLOCATION),
        )
        if not ok
    ]
    if lacking:
        lost = f"; values not written: {', '.join(present)}" if present else ""
        return [
            "interventional_design not written (it requires primary purpose, phase and allocation): "
            + "; ".join(lacking)
            + lost
        ]
    masked = [e for e in codes.PRS_MASKING.get(design.masking, {}) if e.startswith("masked_")]
    if design.masking and design.masking != "NONE" and not masked:
        return [
            f"masking {design.masking}: the source does not say which roles are masked (masked_* not written)"
        ]
    return []


def _prs_eligibility(study: Study) -> list[str]:
    e = study.eligibility
    if e is None:
        return []
    lacking = [n for n in ("criteria", "sex", "minimum_age", "maximum_age") if not getattr(e, n)]
    if not lacking:
        return []
    present = [
        n
        for n in ("criteria", "sex", "minimum_age", "maximum_age", "healthy_volunteers")
        if getattr(e, n) is not None
    ]
    return [f"eligibility {', '.join(present)}: not written, PRS also requires {', '.join(lacking)}"]


def _prs_sites(study: Study) -> list[str]:
    out = []
    for index, site in enumerate(study.sites, 1):
        what = _site_name(index, site)
        if not site.facility:
            out.append(f"{what}: no facility name (facility/name is required); not written")
            continue
        if site.status and site.status not in _codes().RECRUITMENT_STATUS:
            out.append(f"{what}: status {site.status!r} has no PRS value")
        out += _contacts(site.contacts, f"{what} contact")
    return out


def public_omissions(study: Study) -> list[str]:
    """Model values the public XML does not carry (for a study whose record can be written)."""
    codes, design = _codes(), study.design
    written = {id(_first_of(study, "org_study_id")), id(_first_of(study, "nct"))}
    out = [
        f"{i.kind} identifier {i.value!r}: no public element"
        for i in study.identifiers
        if i.kind != "secondary" and id(i) not in written
    ]
    out += [
        f"secondary id {i.value!r}: type and domain have no public element"
        for i in study.identifiers
        if i.kind == "secondary" and (i.type or i.domain)
    ]
    out += _organizations(study, codes.PUBLIC_AGENCY_CLASS)
    out += _dates(study, codes.public_date)
    if design.phases and _phase_key(design.phases) not in codes.PUBLIC_PHASE:
        out.append(f"phases {'+'.join(design.phases)}: no public phase value")
    out += _outcomes(study) + _arms(study)
    out += _interventions(study, codes.PUBLIC_INTERVENTION_TYPE, type_required=True)
    out += _public_eligibility(study)
    out += _officials(study) + _contacts(study.contacts, "central contact")
    for index, site in enumerate(study.sites, 1):
        what = _site_name(index, site)
        if (site.city or site.state or site.zip or site.country) and not (site.city and site.country):
            out.append(f"{what}: address not written (public address needs city and country)")
        if site.status and site.status not in codes.PUBLIC_STATUS:
            out.append(f"{what}: status {site.status!r} has no public value")
        out += _contacts(site.contacts, f"{what} contact")
    return out


def _first_of(study: Study, kind: str):
    return next((i for i in study.identifiers if i.kind == kind), None)


def _public_eligibility(study: Study) -> list[str]:
    e, age = study.eligibility, _codes().public_age
    if e is None:
        return []
    problems = [] if e.sex else ["no sex"]
    problems += [
        f"{name} {getattr(e, name)!r} is not an age like '18 Years' or 'N/A'"
        if getattr(e, name)
        else f"no {name}"
        for name in ("minimum_age", "maximum_age")
        if not age(getattr(e, name))
    ]
    return [f"eligibility not written: {'; '.join(problems)}"] if problems else []
