"""ClinicalTrials.gov legacy public XML (``clinical_study``, public.xsd 2016–2020), one study a file.

Parsed with lxml configured to trust nothing: no entity resolution, no network, no DTD loading,
no huge-tree mode. A DOCTYPE that declares entities is refused outright (real records never
have one; it is where expansion bombs and external-entity reads live), before and after parsing.

Values arrive as display strings (``Phase 1/Phase 2``, ``Active, not recruiting``) and legacy
dates (``March 3, 2015``) and are translated by ``ctgov_values``; the 2016-era flat
``study_design`` string is split like the CSV's Study Design cell, and the 2016 date names
(``firstreceived_date``, ``lastchanged_date``, ``firstreceived_results_date``,
``firstreceived_results_disposition_date``) are read as their 2017 successors. Textblocks lose
the registry's fixed indentation (the text is the same, the layout is the XML's). Person names
stay whole as written in ``last_name`` (the registry puts the full name there); a record that
splits them (first/middle/last/degrees, as PRS does) is joined back into one name.

Everything the protocol section holds is read; ``required_header`` (this download's own
header), the search result's ``rank`` and the results sections are not study data of the model.
"""

from __future__ import annotations

import re
import textwrap

from lxml import etree

from mappers.readers.base import Draft, Reader, RejectedInput, head_start
from mappers.readers.ctgov_values import (
    agency_class,
    iso_date,
    known_code,
    masked_roles,
    phases,
    results_not_mapped,
    yes_no,
)
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


class CtgovXml(Reader):
    layout = "ctgov-public-xml"

    def recognises(self, text: str) -> bool:
        at = head_start(text, _SNIFF)  # text[:_SNIFF].lstrip() begins here
        return text.startswith("<", at, _SNIFF) and text.find("<clinical_study", at, _SNIFF) >= 0

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
        return [read_study(_Node(root))]


class _Node:
    """An element with its children indexed by tag, for the reader's look-ups into it.

    The reader asks each element for a dozen children by name, most of them absent; lxml's
    ``find`` parses the path and walks the children on every call (a third of the reading time
    of a study of a thousand sites). Here each tag's first child is noted in one pass over the
    children, so that a look-up by a child's tag is one dict look-up (the list of a tag's
    children is made when asked for, by lxml's own tag filter); a deeper path goes through the
    children's own ``_Node``s, made once (a site's ``facility/address/city``, ``…/state``,
    ``…/zip``). ``find``/``findall`` answer as lxml's do for the paths used (child names joined
    by ``/``, ``*`` for every child element), in document order, with lxml elements;
    ``node``/``nodes`` wrap what they find for further look-ups.
    """

    __slots__ = ("_first", "_nodes", "el")

    def __init__(self, el):
        self.el = el
        self._first = _children(el)
        self._nodes: dict[str, list[_Node]] | None = None

    def _all(self, tag: str) -> list:
        """The child elements of one tag (``*``: all), in document order."""
        if tag == "*":
            return list(self.el.iterchildren(etree.Element))
        return list(self.el.iterchildren(tag)) if tag in self._first else []

    def _sub(self, tag: str) -> list[_Node]:
        """The children of one tag (or all), each a ``_Node``, made once."""
        if self._nodes is None:
            self._nodes = {}
        found = self._nodes.get(tag)
        if found is None:
            found = self._nodes[tag] = [_Node(child) for child in self._all(tag)]
        return found

    def find(self, path: str):
        found = self._first.get(path)  # a child's tag: most look-ups
        if found is not None:
            return found
        head, _, rest = path.partition("/")
        if not rest:
            return next(self.el.iterchildren(etree.Element), None) if head == "*" else None
        for node in self._sub(head):
            found = node.find(rest)
            if found is not None:
                return found
        return None

    def findall(self, path: str) -> list:
        head, _, rest = path.partition("/")
        if not rest:
            return self._all(head)
        return [found for node in self._sub(head) for found in node.findall(rest)]

    def node(self, path: str) -> _Node | None:
        nodes = self.nodes(path)
        return nodes[0] if nodes else None

    def nodes(self, path: str) -> list[_Node]:
        head, _, rest = path.partition("/")
        if not rest:
            return self._sub(head)
        return [found for node in self._sub(head) for found in node.nodes(rest)]


def _text(el: _Node, path: str) -> str | None:
    return _value(el.find(path))


def _value(found) -> str | None:
    """An element's text as the reader keeps it (None for no element or no text)."""
    if found is None:
        return None
    if not len(found):  # a leaf, as most are: its text, without walking it
        value = found.text
        if not value or ("\n" not in value and "\r" not in value):
            return (value or "").strip() or None
    else:
        value = "".join(found.itertext())
    value = value.replace("\r\n", "\n").replace("\r", "\n")  # &#13; in old records
    if found.find("textblock") is not None or "\n" in value.strip():
        value = textwrap.dedent(value.strip("\n"))
    return value.strip() or None


def _children(el) -> dict:
    """Each tag's first child element of an lxml element, in one pass: a site's or a person's
    few children, read without a ``_Node`` (a thousand-site record has thousands of them; an
    entity's or a processing instruction's tag is not a string, so no look-up by name meets it)."""
    first: dict = {}
    for child in el:
        first.setdefault(child.tag, child)
    return first


def _texts(el: _Node, path: str) -> list[str]:
    """Each element's whole text, stripped, the empty ones left out (a leaf's text is its
    ``itertext``, read without an iterator: conditions, keywords and MeSH terms are leaves)."""
    return [t for t in (_whole_text(x).strip() for x in el.findall(path)) if t]


def _whole_text(x) -> str:
    """``"".join(x.itertext())``: a leaf's text alone, an element with children walked."""
    return "".join(x.itertext()) if len(x) else (x.text or "")


def _flag(draft: Draft, value: str | None, field: str, where: str) -> bool | None:
    """A Yes/No element; anything else is reported, not guessed."""
    flag = yes_no(value)
    if value and flag is None:
        draft.note("warning", "unknown-code", f"'{value}' is not Yes or No", field, where)
    return flag


def _date(draft: Draft, root: _Node, tag: str, field: str) -> tuple[str | None, str | None]:
    """A date element's ISO value and its type code; an unreadable date is reported."""
    el = root.find(tag)
    if el is None or not (el.text or "").strip():
        return None, None
    where = f"/clinical_study/{tag}"
    value = iso_date(el.text)
    if value is None and el.text.strip() != "Unknown":
        draft.note("warning", "unreadable-date", f"'{el.text.strip()}' is not a date", field, where)
    return value, known_code(draft, "date_type", el.get("type"), field, where)


def read_study(root: _Node) -> Draft:
    draft = Draft()
    _identification(draft, root)
    _oversight(draft, root)
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
                "safety_issue": yes_no(_text(o, "safety_issue")),
            }
            for kind in ("primary", "secondary", "other")
            for o in root.nodes(f"{kind}_outcome")
            if _text(o, "measure")
        ],
        "/clinical_study/*_outcome",
    )
    _eligibility(draft, root)
    _people(draft, root)
    _references(draft, root)
    _derived(draft, root)
    _sharing(draft, root)
    if root.find("clinical_results") is not None:
        results_not_mapped(draft, "/clinical_study/clinical_results")
    return draft


def _identification(draft: Draft, root: _Node) -> None:
    ids = [{"kind": "nct", "value": v} for v in _texts(root, "id_info/nct_id")]
    ids += [{"kind": "org_study_id", "value": v} for v in _texts(root, "id_info/org_study_id")[:1]]
    ids += [{"kind": "secondary", "value": v} for v in _texts(root, "id_info/secondary_id")]
    draft.put("identifiers", ids, "/clinical_study/id_info")
    draft.put("nct_aliases", _texts(root, "id_info/nct_alias"), "/clinical_study/id_info/nct_alias")
    for name in ("brief_title", "official_title", "acronym", "brief_summary", "detailed_description"):
        draft.put(name, _text(root, name), f"/clinical_study/{name}")
    draft.put("conditions", _texts(root, "condition"), "/clinical_study/condition")
    draft.put("keywords", _texts(root, "keyword"), "/clinical_study/keyword")
    orgs: list[dict[str, str | None] | None] = []
    for el in root.nodes("sponsors/*"):
        agency = _text(el, "agency")
        orgs.append(
            {"name": agency, "agency_class": agency_class(_text(el, "agency_class"))} if agency else None
        )
    if root.find("sponsors/lead_sponsor") is not None:
        draft.put("sponsor", orgs[0], "/clinical_study/sponsors/lead_sponsor")
        draft.put("collaborators", [o for o in orgs[1:] if o], "/clinical_study/sponsors/collaborator")
    source = _text(root, "source")
    draft.put("organization", source and {"name": source}, "/clinical_study/source")


def _oversight(draft: Draft, root: _Node) -> None:
    at = "/clinical_study/oversight_info"
    oversight: dict[str, object] = {
        name: _flag(draft, _text(root, f"oversight_info/{element}"), f"oversight.{name}", at)
        for element, name in (
            ("has_dmc", "has_dmc"),
            ("is_fda_regulated_drug", "is_fda_regulated_drug"),
            ("is_fda_regulated_device", "is_fda_regulated_device"),
            ("is_unapproved_device", "is_unapproved_device"),
            ("is_ppsd", "is_ppsd"),
            ("is_us_export", "is_us_export"),
        )
    }
    oversight["authorities"] = _texts(root, "oversight_info/authority")
    for element in ("is_fda_regulated", "is_section_801"):  # 2016, outside oversight_info
        oversight[element] = _flag(
            draft, _text(root, element), f"oversight.{element}", f"/clinical_study/{element}"
        )
    oversight = {k: v for k, v in oversight.items() if v is not None and v != []}
    draft.put("oversight", oversight or None, at)


_DATES = (  # (element, 2016 name, model field)
    ("start_date", None, "start_date"),
    ("primary_completion_date", None, "primary_completion_date"),
    ("completion_date", None, "completion_date"),
    ("verification_date", None, "status_verified_date"),
    ("study_first_submitted", "firstreceived_date", "study_first_submit_date"),
    ("study_first_submitted_qc", None, "study_first_submit_qc_date"),
    ("study_first_posted", None, "study_first_post_date"),
    ("results_first_submitted", "firstreceived_results_date", "results_first_submit_date"),
    ("results_first_submitted_qc", None, "results_first_submit_qc_date"),
    ("results_first_posted", None, "results_first_post_date"),
    ("disposition_first_submitted", "firstreceived_results_disposition_date", "disp_first_submit_date"),
    ("disposition_first_submitted_qc", None, "disp_first_submit_qc_date"),
    ("disposition_first_posted", None, "disp_first_post_date"),
    ("last_update_submitted", "lastchanged_date", "last_update_submit_date"),
    ("last_update_submitted_qc", None, "last_update_submit_qc_date"),
    ("last_update_posted", None, "last_update_post_date"),
)
_TYPED_DATES = {
    "start_date",
    "primary_completion_date",
    "completion_date",
    "study_first_post_date",
    "results_first_post_date",
    "disp_first_post_date",
    "last_update_post_date",
}


def _status(draft: Draft, root: _Node) -> None:
    at = "/clinical_study/"
    status = {
        "overall_status": known_code(
            draft, "status", _text(root, "overall_status"), "status", at + "overall_status"
        ),
        "last_known_status": known_code(
            draft, "status", _text(root, "last_known_status"), "status", at + "last_known_status"
        ),
        "why_stopped": _text(root, "why_stopped"),
    }
    for element, legacy, name in _DATES:
        tag = element if root.find(element) is not None or legacy is None else legacy
        value, dtype = _date(draft, root, tag, f"status.{name}")
        status[name] = value
        if name in _TYPED_DATES:
            status[f"{name}_type"] = dtype
    draft.put("status", {k: v for k, v in status.items() if v}, at + "overall_status")
    access = {
        "has_expanded_access": _flag(
            draft, _text(root, "has_expanded_access"), "expanded_access_info", at + "has_expanded_access"
        )
    }
    draft.put(
        "expanded_access_info",
        access if access["has_expanded_access"] is not None else None,
        at + "has_expanded_access",
    )
    pending = []
    for el in root.findall("pending_results/*"):
        event = known_code(draft, "results_submission", el.tag, "pending_results", at + "pending_results")
        if event:
            pending.append({"event": event, "date": iso_date(el.text)})
    draft.put("pending_results", pending, at + "pending_results")


def _design(draft: Draft, root: _Node) -> None:
    at = "/clinical_study/"
    study_type = _text(root, "study_type")
    registry = study_type is not None and "[Patient Registry]" in study_type
    if study_type is not None and registry:
        study_type = study_type.replace("[Patient Registry]", "").strip()
    design: dict[str, object] = {
        "study_type": known_code(
            draft, "study_type", study_type if study_type != "N/A" else None, "design", at + "study_type"
        ),
        "patient_registry": True if registry else None,
        "target_duration": _text(root, "target_duration"),
        "phases": phases(_text(root, "phase")),
    }
    info = {child.tag: (child.text or "").strip() for child in root.findall("study_design_info/*")}
    where = at + "study_design_info"
    flat = _text(root, "study_design")
    if not info and flat:  # 2016-era flat "Allocation: …, Masking: …"
        info, where = parse_design(flat), at + "study_design"
    for key in (
        "allocation",
        "intervention_model",
        "primary_purpose",
        "observational_model",
        "time_perspective",
    ):
        if info.get(key):
            design[key] = known_code(draft, key, info[key], f"design.{key}", where)
    if info.get("masking"):
        design["masking"] = known_code(draft, "masking", info["masking"], "design.masking", where)
        design["who_masked"] = masked_roles(info["masking"])
    for key in ("intervention_model_description", "masking_description", "endpoint_classification"):
        design[key] = info.get(key) or None
    arms = _text(root, "number_of_arms") or _text(root, "number_of_groups")
    design["number_of_arms"] = parse_count(arms) if arms else None
    design["bio_spec_retention"] = known_code(
        draft, "bio_spec_retention", _text(root, "biospec_retention"), "design", at + "biospec_retention"
    )
    design["bio_spec_description"] = _text(root, "biospec_descr")
    types = {
        kind: _flag(
            draft,
            _text(root, f"expanded_access_info/expanded_access_type_{kind}"),
            "design",
            at + "expanded_access_info",
        )
        for kind in ("individual", "intermediate", "treatment")
    }
    design["expanded_access_types"] = {k: v for k, v in types.items() if v is not None} or None
    draft.put("design", {k: v for k, v in design.items() if v not in (None, [])}, at + "study_type")
    enrollment = root.find("enrollment")
    count = parse_count(enrollment.text) if enrollment is not None else None
    if count is not None:
        etype = known_code(draft, "date_type", enrollment.get("type"), "enrollment", at + "enrollment")
        draft.put("enrollment", {"count": count, "type": etype}, at + "enrollment")


def _arms(draft: Draft, root: _Node) -> None:
    arms = [
        {
            "label": _text(a, "arm_group_label"),
            "type": known_code(
                draft, "arm_type", _text(a, "arm_group_type"), "arms", "/clinical_study/arm_group"
            ),
            "description": _text(a, "description"),
        }
        for a in root.nodes("arm_group")
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
        for i in root.nodes("intervention")
    ]
    draft.put("interventions", interventions, "/clinical_study/intervention")


def _eligibility(draft: Draft, root: _Node) -> None:
    el = root.node("eligibility")
    if el is None:
        return
    at = "/clinical_study/eligibility"
    healthy = _text(el, "healthy_volunteers")
    eligibility = {
        "criteria": _text(el, "criteria"),
        "sex": known_code(draft, "sex", _text(el, "gender"), "eligibility.sex", at),
        "gender_based": _flag(draft, _text(el, "gender_based"), "eligibility.gender_based", at),
        "gender_description": _text(el, "gender_description"),
        "minimum_age": _text(el, "minimum_age"),
        "maximum_age": _text(el, "maximum_age"),
        "healthy_volunteers": {"Accepts Healthy Volunteers": True, "No": False}.get(healthy or ""),
        "study_population": _text(el, "study_pop"),
        "sampling_method": known_code(
            draft, "sampling_method", _text(el, "sampling_method"), "eligibility.sampling_method", at
        ),
    }
    draft.put("eligibility", eligibility, at)


def _leaf_texts(el) -> dict:
    """Each tag's first child of an lxml element, as its text (``_value``): a person's or an
    address's few children, read in one pass without looking up the many it lacks (a
    thousand-site record has thousands of them). The same keys and values as
    ``{tag: _value(child) for tag, child in _children(el).items()}``."""
    texts: dict = {}
    for child in el:
        tag = child.tag
        if tag not in texts:
            value = child.text  # _value's most common case, inline: a one-line leaf
            if value and "\n" not in value and "\r" not in value and not len(child):
                texts[tag] = value.strip() or None
            else:
                texts[tag] = _value(child)
    return texts


def _name(texts: dict) -> str | None:
    """The person's name as one text: ``last_name`` holds it whole in public records; a record
    with name parts (PRS style) is joined as "First Middle Last, Degrees"."""
    get = texts.get
    first, middle, last = get("first_name"), get("middle_name"), get("last_name")
    # the parts are texts or None (never empty): one part alone is the name, as joined
    whole = first is None and middle is None
    name = (last or "") if whole else " ".join(p for p in (first, middle, last) if p)
    degrees = get("degrees")
    if name and degrees:
        name = f"{name}, {degrees}"
    return name or degrees


def _person(draft: Draft, el, where: str) -> dict | None:
    """A person element (lxml), its children read in one pass."""
    texts = _leaf_texts(el)
    name = _name(texts)
    if not name:
        return None
    get = texts.get
    role = get("role")
    return {
        "name": name,
        "role": known_code(draft, "role", role, "role", where) if role else None,
        "affiliation": get("affiliation"),
        "phone": get("phone"),
        "phone_ext": get("phone_ext"),
        "email": get("email"),
    }


def _site(draft: Draft, loc, where: str) -> dict:
    """A ``location`` element (lxml), read in one pass over its children: its facility's name
    and address (each the first found in its facilities: a record has one), its status, its
    people (contacts, then backups, then investigators)."""
    status = name = address = None
    contacts: list = []
    backups: list = []
    investigators: list = []
    for child in loc:
        tag = child.tag
        if tag == "facility":
            for part in child:
                if part.tag == "name" and name is None:
                    name = part
                elif part.tag == "address" and address is None:
                    address = part
        elif tag == "contact":
            contacts.append(child)
        elif tag == "investigator":
            investigators.append(child)
        elif tag == "contact_backup":
            backups.append(child)
        elif tag == "status" and status is None:
            status = child
    # people before the status, each kind in turn: the draft's notes in the order they had
    people = [p for c in contacts + backups if (p := _person(draft, c, where))]
    leading = [p for c in investigators if (p := _person(draft, c, where))]
    get = (_NO_TEXTS if address is None else _leaf_texts(address)).get
    state = _value(status)
    return {
        "facility": _value(name),
        "city": get("city"),
        "state": get("state"),
        "zip": get("zip"),
        "country": get("country"),
        "status": known_code(draft, "status", state, "sites", where) if state else None,
        "contacts": people,
        "investigators": leading,
    }


_NO_TEXTS: dict = {}


def _people(draft: Draft, root: _Node) -> None:
    at = "/clinical_study/"
    officials = [_person(draft, o, at + "overall_official") for o in root.findall("overall_official")]
    draft.put("officials", [o for o in officials if o], at + "overall_official")
    contacts = [
        _person(draft, c, at + "overall_contact")
        for c in root.findall("overall_contact") + root.findall("overall_contact_backup")
    ]
    draft.put("contacts", [c for c in contacts if c], at + "overall_contact")
    sites = [_site(draft, loc, at + "location") for loc in root.findall("location")]
    draft.put("sites", sites, at + "location")
    draft.put("removed_countries", _texts(root, "removed_countries/country"), at + "removed_countries")
    rp = root.node("responsible_party")
    if rp is not None:
        rtype = known_code(
            draft,
            "responsible_party",
            _text(rp, "responsible_party_type"),
            "responsible_party",
            at + "responsible_party",
        )
        party = {
            "type": rtype,
            "investigator_name": _text(rp, "investigator_full_name"),
            "investigator_title": _text(rp, "investigator_title"),
            "investigator_affiliation": _text(rp, "investigator_affiliation"),
            "old_name_title": _text(rp, "name_title"),
            "old_organization": _text(rp, "organization"),
        }
        party = {k: v for k, v in party.items() if v}
        draft.put("responsible_party", party or None, at + "responsible_party")


def _references(draft: Draft, root: _Node) -> None:
    refs = [
        {
            "citation": _text(r, "citation"),
            "pmid": _text(r, "PMID"),
            "type": "RESULT" if r.el.tag == "results_reference" else None,
        }
        for r in root.nodes("reference") + root.nodes("results_reference")
        if _text(r, "citation")
    ]
    draft.put("references", refs, "/clinical_study/reference")
    links = [
        {"url": _text(x, "url"), "description": _text(x, "description")}
        for x in root.nodes("link")
        if _text(x, "url")
    ]
    draft.put("links", links, "/clinical_study/link")


def _derived(draft: Draft, root: _Node) -> None:
    """The registry's MeSH indexing (terms only: the legacy XML has no MeSH ids)."""
    for element in ("condition_browse", "intervention_browse"):
        terms = [{"term": t} for t in _texts(root, f"{element}/mesh_term")]
        draft.put(element, {"meshes": terms} if terms else None, f"/clinical_study/{element}")


def _sharing(draft: Draft, root: _Node) -> None:
    at = "/clinical_study/"
    data = root.node("patient_data")
    if data is not None:
        statement = {
            "ipd_sharing": known_code(
                draft, "ipd_sharing", _text(data, "sharing_ipd"), "ipd_sharing_statement", at + "patient_data"
            ),
            "description": _text(data, "ipd_description"),
            "info_types": [
                code
                for t in _texts(data, "ipd_info_type")
                if (
                    code := known_code(
                        draft, "ipd_info_type", t, "ipd_sharing_statement", at + "patient_data"
                    )
                )
            ],
            "time_frame": _text(data, "ipd_time_frame"),
            "access_criteria": _text(data, "ipd_access_criteria"),
            "url": _text(data, "ipd_url"),
        }
        draft.put(
            "ipd_sharing_statement", statement if statement["ipd_sharing"] else None, at + "patient_data"
        )
    docs = [
        {
            "id": _text(d, "doc_id"),
            "type": _text(d, "doc_type"),
            "url": _text(d, "doc_url"),
            "comment": _text(d, "doc_comment"),
        }
        for d in root.nodes("study_docs/study_doc")
    ]
    draft.put("avail_ipds", [d for d in docs if any(d.values())], at + "study_docs")
    large = []
    for d in root.nodes("provided_document_section/provided_document"):
        url = _text(d, "document_url")
        large.append(
            {
                "label": _text(d, "document_type"),
                "has_protocol": yes_no(_text(d, "document_has_protocol")),
                "has_icf": yes_no(_text(d, "document_has_icf")),
                "has_sap": yes_no(_text(d, "document_has_sap")),
                "date": iso_date(_text(d, "document_date")),
                "url": url,
                "filename": url.rsplit("/", 1)[-1] if url and "/" in url else None,
            }
        )
    draft.put("large_docs", large, at + "provided_document_section")
