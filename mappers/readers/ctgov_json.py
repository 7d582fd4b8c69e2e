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
from collections.abc import Iterable, Iterator

from mappers.readers.base import Draft, Reader, RejectedInput, RejectedRecord
from mappers.readers.ctgov_values import agency_class, coded, iso_date, phases, results_not_mapped
from mappers.readers.fields import intervention_type

_SNIFF = 65536  # recognition looks at the start of a file only: a 50 MB file is not scanned


def load_json(text: str):
    """The parsed document, or a rejection saying where the JSON breaks."""
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
        head = text[:_SNIFF].lstrip()
        return head.startswith("{") and ('"protocolSection"' in head or '"studies"' in head)

    def read(self, text: str, source: str) -> Iterable[Draft | RejectedRecord]:
        document = load_json(text)
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


def _get(data: dict, path: str):
    for key in path.split("/"):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _put_coded(draft: Draft, name: str, vocabulary: str, value, where: str) -> str | None:
    """Put a coded value, or report it when it is not in the vocabulary (never guessed)."""
    code = coded(vocabulary, value) if isinstance(value, str) else None
    if value and code is None:
        draft.note("warning", "unknown-code", f"'{value}' is not a known {vocabulary}", name, where)
    return code


def read_study(study: dict, base: str) -> Draft:
    draft = Draft()
    p = study["protocolSection"]
    at = f"{base}/protocolSection/"
    _identification(draft, _get(p, "identificationModule") or {}, at + "identificationModule")
    _status(draft, _get(p, "statusModule") or {}, at + "statusModule")
    _sponsors(draft, _get(p, "sponsorCollaboratorsModule") or {}, at + "sponsorCollaboratorsModule")
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
    for key, name in (
        ("briefTitle", "brief_title"),
        ("officialTitle", "official_title"),
        ("acronym", "acronym"),
    ):
        draft.put(name, m.get(key), f"{at}/{key}")


def _date(draft: Draft, m: dict, key: str, name: str, at: str) -> None:
    struct = m.get(key) or {}
    value = iso_date(struct.get("date"))
    if struct.get("date") and value is None:
        draft.note("warning", "unreadable-date", f"'{struct['date']}' is not a date", name, f"{at}/{key}")
    draft.put(name, value, f"{at}/{key}/date")
    draft.put(name + "_type", _put_coded(draft, name, "date_type", struct.get("type"), f"{at}/{key}"), at)


def _status(draft: Draft, m: dict, at: str) -> None:
    sub = Draft()
    sub.put("overall_status", _put_coded(draft, "status", "status", m.get("overallStatus"), at), at)
    sub.put("why_stopped", m.get("whyStopped"), at)
    for key, name in (
        ("startDateStruct", "start_date"),
        ("primaryCompletionDateStruct", "primary_completion_date"),
        ("completionDateStruct", "completion_date"),
    ):
        _date(sub, m, key, name, at)
    draft.issues += sub.issues
    draft.put("status", sub.values, at)


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
    rtype = _put_coded(
        draft, "responsible_party", "responsible_party", rp.get("type"), f"{at}/responsibleParty"
    )
    if rtype:
        party = {
            "type": rtype,
            "investigator_name": rp.get("investigatorFullName"),
            "investigator_title": rp.get("investigatorTitle"),
            "investigator_affiliation": rp.get("investigatorAffiliation"),
        }
        draft.put("responsible_party", party, f"{at}/responsibleParty")


def _design(draft: Draft, m: dict, at: str) -> None:
    info = m.get("designInfo") or {}
    design = {
        "study_type": _put_coded(draft, "design.study_type", "study_type", m.get("studyType"), at),
        "phases": _phases(draft, m.get("phases"), at),
        "allocation": _put_coded(draft, "design.allocation", "allocation", info.get("allocation"), at),
        "intervention_model": _put_coded(
            draft, "design.intervention_model", "intervention_model", info.get("interventionModel"), at
        ),
        "primary_purpose": _put_coded(
            draft, "design.primary_purpose", "primary_purpose", info.get("primaryPurpose"), at
        ),
        "masking": _put_coded(draft, "design.masking", "masking", _get(info, "maskingInfo/masking"), at),
    }
    draft.put("design", {k: v for k, v in design.items() if v}, at)
    enrollment = m.get("enrollmentInfo") or {}
    if isinstance(enrollment.get("count"), int):
        etype = _put_coded(draft, "enrollment", "date_type", enrollment.get("type"), f"{at}/enrollmentInfo")
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
                "type": _put_coded(draft, "arms", "arm_type", arm.get("type"), f"{at}/armGroups/{i}"),
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
    healthy = m.get("healthyVolunteers")
    eligibility = {
        "criteria": m.get("eligibilityCriteria"),
        "sex": _put_coded(draft, "eligibility.sex", "sex", m.get("sex"), at),
        "minimum_age": m.get("minimumAge"),
        "maximum_age": m.get("maximumAge"),
        "healthy_volunteers": healthy if isinstance(healthy, bool) else None,
    }
    if any(v is not None for v in eligibility.values()):
        draft.put("eligibility", eligibility, at)


def _person(item: dict, role: str | None = None) -> dict | None:
    if not item.get("name"):
        return None
    phone = item.get("phone")
    if phone and item.get("phoneExt"):
        phone = f"{phone} ext {item['phoneExt']}"
    return {
        "name": item["name"],
        "role": role,
        "affiliation": item.get("affiliation"),
        "phone": phone,
        "email": item.get("email"),
    }


def _contacts(draft: Draft, m: dict, at: str) -> None:
    officials = []
    for i, item in enumerate(m.get("overallOfficials") or []):
        role = _put_coded(draft, "officials", "role", item.get("role"), f"{at}/overallOfficials/{i}")
        officials.append(_person(item, role))
    draft.put("officials", [o for o in officials if o], f"{at}/overallOfficials")
    draft.put(
        "contacts", [c for c in map(_person, m.get("centralContacts") or []) if c], f"{at}/centralContacts"
    )
    sites = []
    for i, loc in enumerate(m.get("locations") or []):
        sites.append(
            {
                "facility": loc.get("facility"),
                "city": loc.get("city"),
                "state": loc.get("state"),
                "zip": loc.get("zip"),
                "country": loc.get("country"),
                "status": _put_coded(draft, "sites", "status", loc.get("status"), f"{at}/locations/{i}"),
                "contacts": [c for c in map(_person, loc.get("contacts") or []) if c],
            }
        )
    draft.put("sites", sites, f"{at}/locations")


def _references(draft: Draft, m: dict, at: str) -> None:
    refs = []
    for i, ref in enumerate(m.get("references") or []):
        if ref.get("citation"):
            rtype = _put_coded(draft, "references", "reference_type", ref.get("type"), f"{at}/references/{i}")
            pmid = ref.get("pmid")
            refs.append({"citation": ref["citation"], "pmid": str(pmid) if pmid else None, "type": rtype})
    draft.put("references", refs, f"{at}/references")
    links = [
        {"url": link["url"], "description": link.get("label")}
        for link in m.get("seeAlsoLinks") or []
        if link.get("url")
    ]
    draft.put("links", links, f"{at}/seeAlsoLinks")
