"""ClinicalTrials.gov API v2 JSON: one study object per file, or a list page of many.

A study object is ``{"protocolSection": {...}, "derivedSection": …, "resultsSection": …}``; a
list page (``/api/v2/studies``) is ``{"studies": [...], "nextPageToken": "…"}``. The page token
only says more pages exist on the server: each page is its own input, nothing is fetched.

The protocol section is already in the model's vocabulary (the model speaks API v2), so this
reader mostly moves values; every ``where`` is a JSON pointer into the study object. Results
are not mapped yet: their presence is a ``results-not-mapped`` warning on the study.

A list page is parsed as a whole (one page is at most 1,000 studies, a few MB), then turned
into drafts one study at a time; nothing outside the one input file is held.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from mappers.readers.base import Draft, Reader, RejectedInput, RejectedRecord, head_start
from mappers.readers.ctgov_values import (
    agency_class,
    iso_date,
    known_code,
    large_document_url,
    phases,
    results_not_mapped,
)
from mappers.readers.fields import intervention_type

_SNIFF = 65536  # recognition looks at the start of a file only: a 50 MB file is not scanned
# A list page with no studies, as the API answers a query that matches none. Any other object
# with a "studies" key (a project's notes, another tool's export) is not a registry page: a page
# that holds studies shows a study's "protocolSection" near its start (the API writes it first).
_EMPTY_PAGE = re.compile(r'\{\s*"studies"\s*:\s*\[\s*\]')  # matched at the head's start


# Every byte but an ASCII digit -> ".", a digit -> "0": a run of 19 zeros is a number orjson may
# read differently from json (see load_json).
_DIGITS_ONLY = bytes(ord("0") if chr(b) in "0123456789" else ord(".") for b in range(256))
_LONG_NUMBER = b"0" * 19


def load_json(text: str, encoded: bytes | None = None):
    """The parsed document, or a rejection saying where the JSON breaks. ``encoded``: the
    text's own UTF-8 bytes where the caller has them (the input file, when decoding and repair
    left it as it was), so that the text is not encoded again.

    orjson parses a registry record in half json's time, to the same values, with two
    differences, both sent to json here: it refuses what json accepts beyond the standard
    (``NaN``, ``1e400``, a lone surrogate escape, nesting past 1,024), so anything it refuses is
    parsed by json, whose answer or error stands; and it reads an integer outside 64 bits as a
    float, so a text with 19 digits in a row (any number from 2^63 up has them) is json's too.
    """
    data = text.encode("utf-8", "surrogatepass") if encoded is None else encoded
    if _LONG_NUMBER not in data.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(data)
        except ValueError:  # orjson.JSONDecodeError: json decides
            pass
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RejectedInput(
            f"invalid or truncated JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    except ValueError as exc:  # a number of more than 4,300 digits
        raise RejectedInput(f"unreadable JSON: {exc}") from exc


class CtgovJson(Reader):
    layout = "ctgov-json-v2"

    def recognises(self, text: str) -> bool:
        at = head_start(text, _SNIFF)  # text[:_SNIFF].lstrip() begins here
        return text.startswith("{", at, _SNIFF) and (
            text.find('"protocolSection"', at, _SNIFF) >= 0 or bool(_EMPTY_PAGE.match(text, at, _SNIFF))
        )

    def read(self, text: str, source: str) -> Iterable[Draft | RejectedRecord]:
        return self.read_encoded(text, None, source)

    def read_encoded(self, text: str, encoded: bytes | None, source: str) -> Iterable[Draft | RejectedRecord]:
        document = load_json(text, encoded)
        if not isinstance(document, dict):
            raise RejectedInput("JSON document is not an object")
        if "protocolSection" in document:
            studies, base = [document], ""
        elif isinstance(document.get("studies"), list):
            studies, base = document["studies"], "/studies/"
        else:
            raise RejectedInput("JSON object has neither protocolSection nor a studies list")
        if not studies:
            raise RejectedInput("the list page holds no studies")
        return self._drafts(studies, base)

    def _drafts(self, studies: list, base: str) -> Iterator[Draft | RejectedRecord]:
        for index, study in enumerate(studies):
            where = f"{base}{index}" if base else ""
            if not isinstance(study, dict) or not isinstance(study.get("protocolSection"), dict):
                yield RejectedRecord(f"study at {where or '/'} has no protocolSection object")
                continue
            try:
                yield read_study(study, where)
            except (AttributeError, TypeError, KeyError, IndexError) as exc:  # a value of the wrong JSON type
                yield RejectedRecord(
                    f"study at {where or '/'} does not have the API v2 record shape: "
                    f"{type(exc).__name__}: {exc}"
                )


def _get(data: dict, path: str) -> Any:
    """The value at a ``/``-separated path, or None where a step is missing or not an object."""
    node: Any = data
    for key in path.split("/"):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def read_study(study: dict, base: str) -> Draft:
    draft = Draft()
    p = study["protocolSection"]
    at = f"{base}/protocolSection/"
    _identification(draft, _get(p, "identificationModule") or {}, at + "identificationModule")
    _status(draft, _get(p, "statusModule") or {}, at + "statusModule")
    _sponsors(draft, _get(p, "sponsorCollaboratorsModule") or {}, at + "sponsorCollaboratorsModule")
    _oversight(draft, _get(p, "oversightModule") or {}, at + "oversightModule")
    draft.put(
        "brief_summary", _get(p, "descriptionModule/briefSummary"), at + "descriptionModule/briefSummary"
    )
    draft.put(
        "detailed_description",
        _get(p, "descriptionModule/detailedDescription"),
        at + "descriptionModule/detailedDescription",
    )
    draft.put("conditions", _get(p, "conditionsModule/conditions") or [], at + "conditionsModule/conditions")
    draft.put("keywords", _get(p, "conditionsModule/keywords") or [], at + "conditionsModule/keywords")
    _design(draft, _get(p, "designModule") or {}, at + "designModule")
    _arms(draft, _get(p, "armsInterventionsModule") or {}, at + "armsInterventionsModule")
    _outcomes(draft, _get(p, "outcomesModule") or {}, at + "outcomesModule")
    _eligibility(draft, _get(p, "eligibilityModule") or {}, at + "eligibilityModule")
    _contacts(draft, _get(p, "contactsLocationsModule") or {}, at + "contactsLocationsModule")
    _references(draft, _get(p, "referencesModule") or {}, at + "referencesModule")
    _ipd_sharing(draft, _get(p, "ipdSharingStatementModule") or {}, at + "ipdSharingStatementModule")
    _derived(draft, study.get("derivedSection") or {}, f"{base}/derivedSection")
    _documents(draft, study, f"{base}/documentSection/largeDocumentModule/largeDocs")
    if study.get("resultsSection") or study.get("hasResults") is True:
        results_not_mapped(draft, f"{base}/resultsSection")
    return draft


def _identification(draft: Draft, m: dict, at: str) -> None:
    ids = []
    if m.get("nctId"):
        ids.append({"kind": "nct", "value": m["nctId"]})
    if _get(m, "orgStudyIdInfo/id"):
        ids.append({"kind": "org_study_id", "value": m["orgStudyIdInfo"]["id"]})
    for sid in m.get("secondaryIdInfos") or []:
        if sid.get("id"):
            ids.append(
                {
                    "kind": "secondary",
                    "value": sid["id"],
                    "type": sid.get("type"),
                    "domain": sid.get("domain"),
                }
            )
    draft.put("identifiers", ids, at)
    aliases = [a for a in m.get("nctIdAliases") or [] if isinstance(a, str) and a]
    draft.put("nct_aliases", aliases, f"{at}/nctIdAliases")
    org = m.get("organization") or {}
    if org.get("fullName"):
        draft.put(
            "organization",
            {"name": org["fullName"], "agency_class": agency_class(org.get("class"))},
            f"{at}/organization",
        )
    for key, name in (
        ("briefTitle", "brief_title"),
        ("officialTitle", "official_title"),
        ("acronym", "acronym"),
    ):
        draft.put(name, m.get(key), f"{at}/{key}")


def _date(draft: Draft, m: dict, key: str, name: str, at: str) -> None:
    """A date struct (``{"date": …, "type": …}``) or a bare date string (``…SubmitDate``), put
    on ``draft`` (the status's own values: no source recorded per date); an absent one puts
    nothing and notes nothing."""
    struct = m.get(key)
    if struct is None:
        return
    if isinstance(struct, str):
        struct = {"date": struct}
    struct = struct if isinstance(struct, dict) else {}
    date = struct.get("date")
    value = iso_date(date)
    if date and value is None:
        draft.note("warning", "unreadable-date", f"'{struct['date']}' is not a date", name, f"{at}/{key}")
    if value is not None:
        draft.values[name] = value
    if key.endswith("Struct"):
        code = known_code(draft, "date_type", struct.get("type"), name, at, "/", key)
        if code:
            draft.values[name + "_type"] = code


_DATES = (  # statusModule key -> model field (a …Struct has a type beside its date)
    ("statusVerifiedDate", "status_verified_date"),
    ("startDateStruct", "start_date"),
    ("primaryCompletionDateStruct", "primary_completion_date"),
    ("completionDateStruct", "completion_date"),
    ("studyFirstSubmitDate", "study_first_submit_date"),
    ("studyFirstSubmitQcDate", "study_first_submit_qc_date"),
    ("studyFirstPostDateStruct", "study_first_post_date"),
    ("resultsFirstSubmitDate", "results_first_submit_date"),
    ("resultsFirstSubmitQcDate", "results_first_submit_qc_date"),
    ("resultsFirstPostDateStruct", "results_first_post_date"),
    ("dispFirstSubmitDate", "disp_first_submit_date"),
    ("dispFirstSubmitQcDate", "disp_first_submit_qc_date"),
    ("dispFirstPostDateStruct", "disp_first_post_date"),
    ("lastUpdateSubmitDate", "last_update_submit_date"),
    ("lastUpdatePostDateStruct", "last_update_post_date"),
)


def _status(draft: Draft, m: dict, at: str) -> None:
    sub = Draft()
    sub.put("overall_status", known_code(draft, "status", m.get("overallStatus"), "status", at), at)
    sub.put(
        "last_known_status",
        known_code(draft, "status", m.get("lastKnownStatus"), "status.last_known_status", at),
        f"{at}/lastKnownStatus",
    )
    sub.put("why_stopped", m.get("whyStopped"), at)
    for key, name in _DATES:
        _date(sub, m, key, name, at)
    draft.issues += sub.issues
    draft.put("status", sub.values, at)
    access = m.get("expandedAccessInfo") or {}
    info = {
        "has_expanded_access": _flag(access.get("hasExpandedAccess")),
        "nct_id": access.get("nctId"),
        "status_for_nct_id": known_code(
            draft, "status", access.get("statusForNctId"), "expanded_access_info", f"{at}/expandedAccessInfo"
        ),
    }
    info = {k: v for k, v in info.items() if v is not None}
    draft.put("expanded_access_info", info or None, f"{at}/expandedAccessInfo")


def _flag(value) -> bool | None:
    """A JSON boolean; anything else is no value."""
    return value if isinstance(value, bool) else None


_OVERSIGHT = {  # oversightModule key -> Oversight field
    "oversightHasDmc": "has_dmc",
    "isFdaRegulatedDrug": "is_fda_regulated_drug",
    "isFdaRegulatedDevice": "is_fda_regulated_device",
    "isUnapprovedDevice": "is_unapproved_device",
    "isPpsd": "is_ppsd",
    "isUsExport": "is_us_export",
    "fdaaa801Violation": "fdaaa801_violation",
}


def _oversight(draft: Draft, m: dict, at: str) -> None:
    oversight = {name: _flag(m.get(key)) for key, name in _OVERSIGHT.items()}
    oversight = {k: v for k, v in oversight.items() if v is not None}
    draft.put("oversight", oversight or None, at)


def _org(org: dict | None) -> dict | None:
    if not org or not org.get("name"):
        return None
    return {"name": org["name"], "agency_class": agency_class(org.get("class"))}


def _sponsors(draft: Draft, m: dict, at: str) -> None:
    draft.put("sponsor", _org(m.get("leadSponsor")), f"{at}/leadSponsor")
    draft.put(
        "collaborators", [o for o in map(_org, m.get("collaborators") or []) if o], f"{at}/collaborators"
    )
    rp = m.get("responsibleParty") or {}
    rtype = known_code(
        draft, "responsible_party", rp.get("type"), "responsible_party", f"{at}/responsibleParty"
    )
    party = {
        "type": rtype,
        "investigator_name": rp.get("investigatorFullName"),
        "investigator_title": rp.get("investigatorTitle"),
        "investigator_affiliation": rp.get("investigatorAffiliation"),
        "old_name_title": rp.get("oldNameTitle"),
        "old_organization": rp.get("oldOrganization"),
    }
    party = {k: v for k, v in party.items() if v}
    draft.put("responsible_party", party or None, f"{at}/responsibleParty")


def _design(draft: Draft, m: dict, at: str) -> None:
    info = m.get("designInfo") or {}
    masking = info.get("maskingInfo") or {}
    bio = m.get("bioSpec") or {}

    def code(name: str, value, where: str = at):
        return known_code(draft, name, value, f"design.{name}", where)

    design = {
        "study_type": code("study_type", m.get("studyType")),
        "patient_registry": _flag(m.get("patientRegistry")),
        "target_duration": m.get("targetDuration"),
        "phases": _phases(draft, m.get("phases"), at),
        "allocation": code("allocation", info.get("allocation")),
        "intervention_model": code("intervention_model", info.get("interventionModel")),
        "intervention_model_description": info.get("interventionModelDescription"),
        "primary_purpose": code("primary_purpose", info.get("primaryPurpose")),
        "observational_model": code("observational_model", info.get("observationalModel")),
        "time_perspective": code("time_perspective", info.get("timePerspective")),
        "masking": code("masking", masking.get("masking")),
        "who_masked": [c for role in masking.get("whoMasked") or [] if (c := code("who_masked", role))],
        "masking_description": masking.get("maskingDescription"),
        "bio_spec_retention": code("bio_spec_retention", bio.get("retention"), f"{at}/bioSpec"),
        "bio_spec_description": bio.get("description"),
    }
    types = m.get("expandedAccessTypes") or {}
    types = {k: _flag(types.get(k)) for k in ("individual", "intermediate", "treatment")}
    design["expanded_access_types"] = {k: v for k, v in types.items() if v is not None} or None
    draft.put("design", {k: v for k, v in design.items() if v not in (None, [])}, at)
    enrollment = m.get("enrollmentInfo") or {}
    if isinstance(enrollment.get("count"), int):
        etype = known_code(draft, "date_type", enrollment.get("type"), "enrollment", f"{at}/enrollmentInfo")
        draft.put("enrollment", {"count": enrollment["count"], "type": etype}, f"{at}/enrollmentInfo")


def _phases(draft: Draft, values, at: str) -> list[str]:
    """All phases (``PHASE1``, ``PHASE2`` -> both); the classic API wrote ``Phase 1``."""
    values = [v for v in values or [] if isinstance(v, str)]
    found = phases("|".join(values))
    if values and not found:
        draft.note(
            "warning", "unknown-code", f"'{'|'.join(values)}' is not a known phase", "design.phases", at
        )
    return found


def _intervention_name(reference: str, names: set[str]) -> str:
    """API v2 arms name their interventions as ``Drug: Palbociclib`` (type display + name);
    the model links by name, so the prefix goes when what remains is a listed intervention."""
    _, sep, rest = reference.partition(": ")
    return rest if sep and rest in names and reference not in names else reference


def _arms(draft: Draft, m: dict, at: str) -> None:
    names = {i.get("name") for i in m.get("interventions") or []}
    arms = []
    for i, arm in enumerate(m.get("armGroups") or []):
        if not arm.get("label"):
            continue
        arms.append(
            {
                "label": arm["label"],
                "type": known_code(draft, "arm_type", arm.get("type"), "arms", f"{at}/armGroups/{i}"),
                "description": arm.get("description"),
                "intervention_names": [
                    _intervention_name(n, names) for n in arm.get("interventionNames") or []
                ],
            }
        )
    draft.put("arms", arms, f"{at}/armGroups")
    interventions = []
    for item in m.get("interventions") or []:
        interventions.append(
            {
                "type": coded_intervention(item.get("type")),
                "name": item.get("name"),
                "description": item.get("description"),
                "other_names": item.get("otherNames") or [],
                "arm_labels": item.get("armGroupLabels") or [],
            }
        )
    draft.put("interventions", interventions, f"{at}/interventions")


def coded_intervention(value: str | None) -> str | None:
    return intervention_type(value) if value else None


def _outcomes(draft: Draft, m: dict, at: str) -> None:
    outcomes = []
    for key, kind in (
        ("primaryOutcomes", "primary"),
        ("secondaryOutcomes", "secondary"),
        ("otherOutcomes", "other"),
    ):
        for item in m.get(key) or []:
            if item.get("measure"):
                outcomes.append(
                    {
                        "kind": kind,
                        "measure": item["measure"],
                        "description": item.get("description"),
                        "time_frame": item.get("timeFrame"),
                    }
                )
    draft.put("outcomes", outcomes, at)


def _eligibility(draft: Draft, m: dict, at: str) -> None:
    """An age the record leaves out is no limit: API v2 omits ``minimumAge``/``maximumAge``
    exactly where the registry (PRS, the legacy XML, the study page) says "N/A"."""
    if not m:
        return
    healthy = m.get("healthyVolunteers")
    eligibility = {
        "criteria": m.get("eligibilityCriteria"),
        "sex": known_code(draft, "sex", m.get("sex"), "eligibility.sex", at),
        "gender_based": _flag(m.get("genderBased")),
        "gender_description": m.get("genderDescription"),
        "minimum_age": m.get("minimumAge") or "N/A",
        "maximum_age": m.get("maximumAge") or "N/A",
        "std_ages": [
            code
            for age in m.get("stdAges") or []
            if (code := known_code(draft, "std_age", age, "eligibility.std_ages", at))
        ],
        "healthy_volunteers": healthy if isinstance(healthy, bool) else None,
        "study_population": m.get("studyPopulation"),
        "sampling_method": known_code(
            draft, "sampling_method", m.get("samplingMethod"), "eligibility.sampling_method", at
        ),
    }
    draft.put("eligibility", eligibility, at)


def _person(draft: Draft, item: dict, *where: object) -> dict | None:
    """A person; a site's people with role CONTACT are its contacts, the others investigators.
    ``where``: the item's location, or its parts (``known_code``)."""
    if not item.get("name"):
        return None
    role = item.get("role")
    return {
        "name": item["name"],
        # CONTACT is no role code: a site's contact, not an investigator
        "role": known_code(draft, "role", role, "role", *where) if str(role).upper() != "CONTACT" else None,
        "affiliation": item.get("affiliation"),
        "phone": item.get("phone"),
        "phone_ext": item.get("phoneExt"),
        "email": item.get("email"),
    }


def _people(draft: Draft, items, where: str) -> list[dict]:
    return [p for i, item in enumerate(items or []) if (p := _person(draft, item, f"{where}/{i}"))]


def _contacts(draft: Draft, m: dict, at: str) -> None:
    for key, name in (("overallOfficials", "officials"), ("centralContacts", "contacts")):
        draft.put(name, _people(draft, m.get(key), f"{at}/{key}"), f"{at}/{key}")
    base = f"{at}/locations/"
    draft.put(
        "sites",
        [_site(draft, loc, base, i) for i, loc in enumerate(m.get("locations") or [])],
        f"{at}/locations",
    )


def _number(value) -> bool:
    """A JSON number (a boolean is not one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _geo_point(geo: dict | None) -> dict | None:
    if not geo:
        return None
    lat, lon = geo.get("lat"), geo.get("lon")
    return {"lat": lat, "lon": lon} if _number(lat) and _number(lon) else None


def _site(draft: Draft, loc: dict, base: str, index: int) -> dict:
    """A ``locations`` item (``base`` + ``index`` its pointer, made only for a note); its
    people with role CONTACT are its contacts, the others its investigators (``_person``)."""
    get = loc.get
    contacts: list[dict] = []
    investigators: list[dict] = []
    for i, item in enumerate(get("contacts") or ()):
        person = _person(draft, item, base, index, "/contacts/", i)
        if person is not None:
            (contacts if person["role"] is None else investigators).append(person)
    return {
        "facility": get("facility"),
        "city": get("city"),
        "state": get("state"),
        "zip": get("zip"),
        "country": get("country"),
        "status": known_code(draft, "status", get("status"), "sites", base, index),
        "geo_point": _geo_point(get("geoPoint")),
        "contacts": contacts,
        "investigators": investigators,
    }


def _references(draft: Draft, m: dict, at: str) -> None:
    refs = []
    for i, ref in enumerate(m.get("references") or []):
        if ref.get("citation"):
            rtype = known_code(draft, "reference_type", ref.get("type"), "references", f"{at}/references/{i}")
            pmid = ref.get("pmid")
            refs.append({"citation": ref["citation"], "pmid": str(pmid) if pmid else None, "type": rtype})
    draft.put("references", refs, f"{at}/references")
    links = [
        {"url": link["url"], "description": link.get("label")}
        for link in m.get("seeAlsoLinks") or []
        if link.get("url")
    ]
    draft.put("links", links, f"{at}/seeAlsoLinks")
    docs = [
        {"id": d.get("id"), "type": d.get("type"), "url": d.get("url"), "comment": d.get("comment")}
        for d in m.get("availIpds") or []
        if isinstance(d, dict) and any(d.get(k) for k in ("id", "type", "url", "comment"))
    ]
    draft.put("avail_ipds", docs, f"{at}/availIpds")


def _ipd_sharing(draft: Draft, m: dict, at: str) -> None:
    sharing = known_code(draft, "ipd_sharing", m.get("ipdSharing"), "ipd_sharing_statement", at)
    if not sharing:
        return
    statement = {
        "ipd_sharing": sharing,
        "description": m.get("description"),
        "info_types": [
            code
            for kind in m.get("infoTypes") or []
            if (code := known_code(draft, "ipd_info_type", kind, "ipd_sharing_statement", at))
        ],
        "time_frame": m.get("timeFrame"),
        "access_criteria": m.get("accessCriteria"),
        "url": m.get("url"),
    }
    draft.put("ipd_sharing_statement", statement, at)


_BROWSE = (("conditionBrowseModule", "condition_browse"), ("interventionBrowseModule", "intervention_browse"))


def _derived(draft: Draft, m: dict, at: str) -> None:
    """The registry's MeSH indexing, and the countries whose sites it removed. (``browseLeaves``
    and ``browseBranches`` are the site's own search categories: not read.)"""
    for key, name in _BROWSE:
        module = m.get(key) or {}
        browse = {
            part: [
                {"term": t["term"], "id": t.get("id")}
                for t in module.get(part) or []
                if isinstance(t, dict) and t.get("term")
            ]
            for part in ("meshes", "ancestors")
        }
        draft.put(name, browse if browse["meshes"] or browse["ancestors"] else None, f"{at}/{key}")
    removed = [c for c in _get(m, "miscInfoModule/removedCountries") or [] if isinstance(c, str)]
    draft.put("removed_countries", removed, f"{at}/miscInfoModule/removedCountries")


def _documents(draft: Draft, study: dict, at: str) -> None:
    """Uploaded documents. API v2 gives a file name, not an address: the address is built the
    way the registry serves the file (``ctgov_values.large_document_url``), and recorded so."""
    nct = _get(study, "protocolSection/identificationModule/nctId")
    docs = []
    for doc in _get(study, "documentSection/largeDocumentModule/largeDocs") or []:
        if not isinstance(doc, dict):
            continue
        size = doc.get("size")
        docs.append(
            {
                "label": doc.get("label"),
                "type_abbrev": doc.get("typeAbbrev"),
                "has_protocol": _flag(doc.get("hasProtocol")),
                "has_sap": _flag(doc.get("hasSap")),
                "has_icf": _flag(doc.get("hasIcf")),
                "date": iso_date(doc.get("date")),
                "upload_date": doc.get("uploadDate"),
                "filename": doc.get("filename"),
                "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
                "url": large_document_url(nct, doc.get("filename")),
            }
        )
    draft.put("large_docs", docs, at)
    if any(d["url"] for d in docs):
        draft.note(
            "information",
            "derived-document-url",
            "the addresses of the uploaded documents are built from the NCT id and file name the "
            "way ClinicalTrials.gov serves them (API v2 gives the file name only)",
            "large_docs",
            at,
        )
