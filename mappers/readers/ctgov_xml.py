"""ClinicalTrials.gov legacy public XML (``clinical_study``, public.xsd 2016–2020), one study a file.

Parsed with lxml configured to trust nothing: no entity resolution, no network, no DTD loading,
no huge-tree mode. A DOCTYPE that declares entities is refused outright (real records never
have one; it is where expansion bombs and external-entity reads live), before and after parsing.

Values arrive as display strings (``Phase 1/Phase 2``, ``Active, not recruiting``) and legacy
dates (``March 3, 2015``) and are translated by ``ctgov_values``; the 2016-era flat
``study_design`` string is split like the CSV's Study Design cell. Textblocks lose the
registry's fixed indentation (the text is the same, the layout is the XML's). Person names
stay whole as written in ``last_name`` (the registry puts the full name there).
"""

from __future__ import annotations

import re
import textwrap

from lxml import etree

from mappers.readers.base import Draft, Reader, RejectedInput
from mappers.readers.ctgov_values import agency_class, coded, iso_date, phases, results_not_mapped
from mappers.readers.fields import intervention_type, parse_design
from mappers.text import parse_count
from mappers.threads import PerThread

_SNIFF = 65536
_PARSER = PerThread(  # an lxml parser must not be shared between batch threads
    lambda: etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
)
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_DESIGN_KEYS = {
    "allocation": "allocation",
    "intervention_model": "intervention_model",
    "primary_purpose": "primary_purpose",
    "masking": "masking",
}


class CtgovXml(Reader):
    layout = "ctgov-public-xml"

    def recognises(self, text: str) -> bool:
        head = text[:_SNIFF].lstrip()
        return head.startswith("<") and "<clinical_study" in head

    def read(self, text: str, source: str) -> list[Draft]:
        prolog = text[: text.find("<clinical_study")]
        if "<!ENTITY" in prolog.upper():
            raise RejectedInput("XML DOCTYPE declares entities; entity declarations are refused")
        try:
            root = etree.fromstring(_DECLARATION.sub("", text, count=1), _PARSER())
        except etree.XMLSyntaxError as exc:
            raise RejectedInput(f"malformed XML: {exc.msg} (line {exc.lineno})") from exc
        except ValueError as exc:  # lxml refuses text whose (broken) declaration names an encoding
            raise RejectedInput(f"malformed XML declaration: {exc}") from exc
        dtd = root.getroottree().docinfo.internalDTD
        if dtd is not None and any(True for _ in dtd.iterentities()):
            raise RejectedInput("XML DOCTYPE declares entities; entity declarations are refused")
        if root.tag != "clinical_study":
            raise RejectedInput(f"XML root is <{root.tag}>, not <clinical_study>")
        return [read_study(root)]


def _text(el, path: str) -> str | None:
    found = el.find(path)
    if found is None:
        return None
    value = "".join(found.itertext()).replace("\r\n", "\n").replace("\r", "\n")  # &#13; in old records
    if found.find("textblock") is not None or "\n" in value.strip():
        value = textwrap.dedent(value.strip("\n"))
    return value.strip() or None


def _texts(el, path: str) -> list[str]:
    return [t for t in ("".join(x.itertext()).strip() for x in el.findall(path)) if t]


def _code(draft: Draft, vocabulary: str, value: str | None, field: str, where: str) -> str | None:
    code = coded(vocabulary, value)
    if value and code is None:
        draft.note("warning", "unknown-code", f"'{value}' is not a known {vocabulary}", field, where)
    return code


def read_study(root) -> Draft:
    draft = Draft()
    _identification(draft, root)
    _status(draft, root)
    _design(draft, root)
    _arms(draft, root)
    draft.put(
        "outcomes",
        [
            {
                "kind": kind,
                "measure": _text(o, "measure"),
                "description": _text(o, "description"),
                "time_frame": _text(o, "time_frame"),
            }
            for kind in ("primary", "secondary", "other")
            for o in root.findall(f"{kind}_outcome")
            if _text(o, "measure")
        ],
        "/clinical_study/*_outcome",
    )
    _eligibility(draft, root)
    _people(draft, root)
    _references(draft, root)
    if root.find("clinical_results") is not None:
        results_not_mapped(draft, "/clinical_study/clinical_results")
    return draft


def _identification(draft: Draft, root) -> None:
    ids = [{"kind": "nct", "value": v} for v in _texts(root, "id_info/nct_id")]
    ids += [{"kind": "org_study_id", "value": v} for v in _texts(root, "id_info/org_study_id")[:1]]
    ids += [{"kind": "secondary", "value": v} for v in _texts(root, "id_info/secondary_id")]
    draft.put("identifiers", ids, "/clinical_study/id_info")
    for name in ("brief_title", "official_title", "acronym", "brief_summary", "detailed_description"):
        draft.put(name, _text(root, name), f"/clinical_study/{name}")
    draft.put("conditions", _texts(root, "condition"), "/clinical_study/condition")
    draft.put("keywords", _texts(root, "keyword"), "/clinical_study/keyword")
    orgs = []
    for el in root.findall("sponsors/*"):
        name = _text(el, "agency")
        orgs.append(name and {"name": name, "agency_class": agency_class(_text(el, "agency_class"))})
    if root.find("sponsors/lead_sponsor") is not None:
        draft.put("sponsor", orgs[0], "/clinical_study/sponsors/lead_sponsor")
        draft.put("collaborators", [o for o in orgs[1:] if o], "/clinical_study/sponsors/collaborator")


def _status(draft: Draft, root) -> None:
    at = "/clinical_study/"
    status = {
        "overall_status": _code(
            draft, "status", _text(root, "overall_status"), "status", at + "overall_status"
        ),
        "why_stopped": _text(root, "why_stopped"),
    }
    for name in ("start_date", "primary_completion_date", "completion_date"):
        el = root.find(name)
        if el is None or not (el.text or "").strip():
            continue
        status[name] = iso_date(el.text)
        if status[name] is None:
            draft.note(
                "warning", "unreadable-date", f"'{el.text}' is not a date", f"status.{name}", at + name
            )
        status[f"{name}_type"] = _code(draft, "date_type", el.get("type"), f"status.{name}", at + name)
    draft.put("status", {k: v for k, v in status.items() if v}, at + "overall_status")


def _design(draft: Draft, root) -> None:
    at = "/clinical_study/"
    study_type = _text(root, "study_type")
    phase_text = _text(root, "phase")
    design = {
        "study_type": _code(
            draft, "study_type", study_type if study_type != "N/A" else None, "design", at + "study_type"
        ),
        "phases": phases(phase_text),
    }
    info = {child.tag: (child.text or "").strip() for child in root.findall("study_design_info/*")}
    where = at + "study_design_info"
    if not info and _text(root, "study_design"):  # 2016-era flat "Allocation: …, Masking: …"
        info, where = parse_design(_text(root, "study_design")), at + "study_design"
    for key, name in _DESIGN_KEYS.items():
        if info.get(key):
            design[name] = _code(draft, name, info[key], f"design.{name}", where)
    draft.put("design", {k: v for k, v in design.items() if v}, at + "study_type")
    enrollment = root.find("enrollment")
    count = parse_count(enrollment.text) if enrollment is not None else None
    if count is not None:
        etype = _code(draft, "date_type", enrollment.get("type"), "enrollment", at + "enrollment")
        draft.put("enrollment", {"count": count, "type": etype}, at + "enrollment")


def _arms(draft: Draft, root) -> None:
    arms = [
        {
            "label": _text(a, "arm_group_label"),
            "type": _code(draft, "arm_type", _text(a, "arm_group_type"), "arms", "/clinical_study/arm_group"),
            "description": _text(a, "description"),
        }
        for a in root.findall("arm_group")
        if _text(a, "arm_group_label")
    ]
    draft.put("arms", arms, "/clinical_study/arm_group")
    interventions = [
        {
            "type": intervention_type(_text(i, "intervention_type") or ""),
            "name": _text(i, "intervention_name"),
            "description": _text(i, "description"),
            "other_names": _texts(i, "other_name"),
            "arm_labels": _texts(i, "arm_group_label"),
        }
        for i in root.findall("intervention")
    ]
    draft.put("interventions", interventions, "/clinical_study/intervention")


def _eligibility(draft: Draft, root) -> None:
    el = root.find("eligibility")
    if el is None:
        return
    at = "/clinical_study/eligibility"
    healthy = _text(el, "healthy_volunteers")
    eligibility = {
        "criteria": _text(el, "criteria"),
        "sex": _code(draft, "sex", _text(el, "gender"), "eligibility.sex", at),
        "minimum_age": _text(el, "minimum_age"),
        "maximum_age": _text(el, "maximum_age"),
        "healthy_volunteers": {"Accepts Healthy Volunteers": True, "No": False}.get(healthy or ""),
    }
    draft.put("eligibility", eligibility, at)


def _person(el, role: str | None = None) -> dict | None:
    name = _text(el, "last_name")
    if not name:
        return None
    phone, ext = _text(el, "phone"), _text(el, "phone_ext")
    return {
        "name": name,
        "role": role,
        "affiliation": _text(el, "affiliation"),
        "phone": f"{phone} ext {ext}" if phone and ext else phone,
        "email": _text(el, "email"),
    }


def _people(draft: Draft, root) -> None:
    at = "/clinical_study/"
    officials = [
        _person(o, _code(draft, "role", _text(o, "role"), "officials", at + "overall_official"))
        for o in root.findall("overall_official")
    ]
    draft.put("officials", [o for o in officials if o], at + "overall_official")
    contacts = [_person(c) for c in root.findall("overall_contact") + root.findall("overall_contact_backup")]
    draft.put("contacts", [c for c in contacts if c], at + "overall_contact")
    sites = []
    for loc in root.findall("location"):
        people = [_person(c) for c in loc.findall("contact") + loc.findall("contact_backup")]
        sites.append(
            {
                "facility": _text(loc, "facility/name"),
                **{
                    part: _text(loc, f"facility/address/{part}")
                    for part in ("city", "state", "zip", "country")
                },
                "status": _code(draft, "status", _text(loc, "status"), "sites", at + "location"),
                "contacts": [p for p in people if p],
            }
        )
    draft.put("sites", sites, at + "location")
    rp = root.find("responsible_party")
    if rp is not None:
        rtype = _code(
            draft,
            "responsible_party",
            _text(rp, "responsible_party_type"),
            "responsible_party",
            at + "responsible_party",
        )
        if rtype:
            party = {"type": rtype}
            for part in ("investigator_title", "investigator_affiliation"):
                party[part] = _text(rp, part)
            party["investigator_name"] = _text(rp, "investigator_full_name")
            draft.put("responsible_party", party, at + "responsible_party")


def _references(draft: Draft, root) -> None:
    refs = [
        {
            "citation": _text(r, "citation"),
            "pmid": _text(r, "PMID"),
            "type": "RESULT" if r.tag == "results_reference" else None,
        }
        for r in root.findall("reference") + root.findall("results_reference")
        if _text(r, "citation")
    ]
    draft.put("references", refs, "/clinical_study/reference")
    links = [
        {"url": _text(x, "url"), "description": _text(x, "description")}
        for x in root.findall("link")
        if _text(x, "url")
    ]
    draft.put("links", links, "/clinical_study/link")
