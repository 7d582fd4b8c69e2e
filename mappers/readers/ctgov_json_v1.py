"""ClinicalTrials.gov classic API (v1) JSON: ``{"FullStudiesResponse": {"FullStudies": [...]}}``.

The classic API is retired, but files saved from it are still about. Its protocol section is the
API v2 one under older names (``IdentificationModule.NCTId``, ``PhaseList.Phase``, lists wrapped
as ``{"ArmGroupList": {"ArmGroup": [...]}}``) with display strings for codes (``Phase 1``,
``Anticipated``) and numbers as strings. Rather than a second reader, each study is renamed to
the v2 shape here and read by ``ctgov_json.read_study``, whose value handling already accepts
display strings; the provenance layout says which API the file came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mappers.readers.base import Draft, Reader, RejectedInput, RejectedRecord
from mappers.readers.ctgov_json import load_json, read_study
from mappers.text import parse_count

_SNIFF = 65536


class CtgovJsonV1(Reader):
    layout = "ctgov-json-v1"

    def recognises(self, text: str) -> bool:
        head = text[:_SNIFF].lstrip()
        return head.startswith("{") and '"FullStudiesResponse"' in head

    def read(self, text: str, source: str) -> Iterable[Draft | RejectedRecord]:
        document = load_json(text)
        full = document.get("FullStudiesResponse") if isinstance(document, dict) else None
        entries = full.get("FullStudies") if isinstance(full, dict) else None
        if not isinstance(entries, list) or not entries:
            raise RejectedInput("classic API (v1) response holds no FullStudies")
        return self._drafts(entries)

    def _drafts(self, entries: list) -> Iterator[Draft | RejectedRecord]:
        for index, entry in enumerate(entries):
            study = entry.get("Study") if isinstance(entry, dict) else None
            if not isinstance(study, dict) or not isinstance(study.get("ProtocolSection"), dict):
                yield RejectedRecord(f"FullStudies[{index}] has no Study.ProtocolSection object")
                continue
            where = f"/FullStudiesResponse/FullStudies/{index}/Study"
            try:
                yield read_study(to_v2(study), where)
            except (AttributeError, TypeError, KeyError, IndexError) as exc:  # a value of the wrong JSON type
                yield RejectedRecord(
                    f"study at {where} does not have the classic API record shape: "
                    f"{type(exc).__name__}: {exc}"
                )


def _dig(data, *keys):
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _items(data, *keys) -> list[dict]:
    """``{"XList": {"X": [...]}}`` -> the list, whatever the wrapper."""
    found = _dig(data, *keys)
    return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []


def _values(data, *keys) -> list[str]:
    found = _dig(data, *keys)
    return [x for x in found if isinstance(x, str)] if isinstance(found, list) else []


def _rename(item: dict, prefix: str, names: dict[str, str]) -> dict:
    return {v2: item.get(prefix + v1) for v1, v2 in names.items()}


def _date(module: dict, name: str) -> dict:
    struct = module.get(f"{name}DateStruct") or {}
    return {"date": struct.get(f"{name}Date"), "type": struct.get(f"{name}DateType")}


def _person(item: dict, prefix: str) -> dict:
    return _rename(
        item,
        prefix,
        {
            "Name": "name",
            "Role": "role",
            "Affiliation": "affiliation",
            "Phone": "phone",
            "PhoneExt": "phoneExt",
            "EMail": "email",
        },
    )


def to_v2(study: dict) -> dict:
    """A v1 ``Study`` object in the v2 shape (only the parts the v2 reader reads)."""
    p = study["ProtocolSection"]
    ident, status = p.get("IdentificationModule") or {}, p.get("StatusModule") or {}
    sponsors, design = p.get("SponsorCollaboratorsModule") or {}, p.get("DesignModule") or {}
    arms, eligibility = p.get("ArmsInterventionsModule") or {}, p.get("EligibilityModule") or {}
    contacts, refs = p.get("ContactsLocationsModule") or {}, p.get("ReferencesModule") or {}
    count = _dig(design, "EnrollmentInfo", "EnrollmentCount")
    outcomes = {
        f"{kind.lower()}Outcomes": [
            _rename(
                o,
                f"{kind}Outcome",
                {"Measure": "measure", "Description": "description", "TimeFrame": "timeFrame"},
            )
            for o in _items(p, "OutcomesModule", f"{kind}OutcomeList", f"{kind}Outcome")
        ]
        for kind in ("Primary", "Secondary", "Other")
    }
    healthy = {"Accepts Healthy Volunteers": True, "Yes": True, "No": False}.get(
        eligibility.get("HealthyVolunteers")
    )
    protocol = {
        "identificationModule": {
            "nctId": ident.get("NCTId"),
            "orgStudyIdInfo": {"id": _dig(ident, "OrgStudyIdInfo", "OrgStudyId")},
            "secondaryIdInfos": [
                _rename(s, "SecondaryId", {"": "id", "Type": "type", "Domain": "domain"})
                for s in _items(ident, "SecondaryIdInfoList", "SecondaryIdInfo")
            ],
            "briefTitle": ident.get("BriefTitle"),
            "officialTitle": ident.get("OfficialTitle"),
            "acronym": ident.get("Acronym"),
        },
        "statusModule": {
            "overallStatus": status.get("OverallStatus"),
            "whyStopped": status.get("WhyStopped"),
            "startDateStruct": _date(status, "Start"),
            "primaryCompletionDateStruct": _date(status, "PrimaryCompletion"),
            "completionDateStruct": _date(status, "Completion"),
        },
        "sponsorCollaboratorsModule": {
            "leadSponsor": _rename(
                sponsors.get("LeadSponsor") or {}, "LeadSponsor", {"Name": "name", "Class": "class"}
            ),
            "collaborators": [
                _rename(c, "Collaborator", {"Name": "name", "Class": "class"})
                for c in _items(sponsors, "CollaboratorList", "Collaborator")
            ],
            "responsibleParty": _rename(
                sponsors.get("ResponsibleParty") or {},
                "ResponsibleParty",
                {
                    "Type": "type",
                    "InvestigatorFullName": "investigatorFullName",
                    "InvestigatorTitle": "investigatorTitle",
                    "InvestigatorAffiliation": "investigatorAffiliation",
                },
            ),
        },
        "descriptionModule": {
            "briefSummary": _dig(p, "DescriptionModule", "BriefSummary"),
            "detailedDescription": _dig(p, "DescriptionModule", "DetailedDescription"),
        },
        "conditionsModule": {
            "conditions": _values(p, "ConditionsModule", "ConditionList", "Condition"),
            "keywords": _values(p, "ConditionsModule", "KeywordList", "Keyword"),
        },
        "designModule": {
            "studyType": design.get("StudyType"),
            "phases": _values(design, "PhaseList", "Phase"),
            "designInfo": {
                "allocation": _dig(design, "DesignInfo", "DesignAllocation"),
                "interventionModel": _dig(design, "DesignInfo", "DesignInterventionModel"),
                "primaryPurpose": _dig(design, "DesignInfo", "DesignPrimaryPurpose"),
                "maskingInfo": {"masking": _dig(design, "DesignInfo", "DesignMaskingInfo", "DesignMasking")},
            },
            "enrollmentInfo": {
                "count": parse_count(count) if isinstance(count, str) else None,
                "type": _dig(design, "EnrollmentInfo", "EnrollmentType"),
            },
        },
        "armsInterventionsModule": {
            "armGroups": [
                {
                    **_rename(
                        a, "ArmGroup", {"Label": "label", "Type": "type", "Description": "description"}
                    ),
                    "interventionNames": _values(a, "ArmGroupInterventionList", "ArmGroupInterventionName"),
                }
                for a in _items(arms, "ArmGroupList", "ArmGroup")
            ],
            "interventions": [
                {
                    **_rename(
                        i, "Intervention", {"Type": "type", "Name": "name", "Description": "description"}
                    ),
                    "otherNames": _values(i, "InterventionOtherNameList", "InterventionOtherName"),
                    "armGroupLabels": _values(
                        i, "InterventionArmGroupLabelList", "InterventionArmGroupLabel"
                    ),
                }
                for i in _items(arms, "InterventionList", "Intervention")
            ],
        },
        "outcomesModule": outcomes,
        "eligibilityModule": {
            "eligibilityCriteria": eligibility.get("EligibilityCriteria"),
            "sex": eligibility.get("Gender"),
            "minimumAge": eligibility.get("MinimumAge"),
            "maximumAge": eligibility.get("MaximumAge"),
            "healthyVolunteers": healthy,
        },
        "contactsLocationsModule": {
            "overallOfficials": [
                _person(o, "OverallOfficial")
                for o in _items(contacts, "OverallOfficialList", "OverallOfficial")
            ],
            "centralContacts": [
                _person(c, "CentralContact") for c in _items(contacts, "CentralContactList", "CentralContact")
            ],
            "locations": [
                {
                    **_rename(
                        loc,
                        "Location",
                        {
                            "Facility": "facility",
                            "City": "city",
                            "State": "state",
                            "Zip": "zip",
                            "Country": "country",
                            "Status": "status",
                        },
                    ),
                    "contacts": [
                        _person(c, "LocationContact")
                        for c in _items(loc, "LocationContactList", "LocationContact")
                    ],
                }
                for loc in _items(contacts, "LocationList", "Location")
            ],
        },
        "referencesModule": {
            "references": [
                _rename(r, "Reference", {"Citation": "citation", "PMID": "pmid", "Type": "type"})
                for r in _items(refs, "ReferenceList", "Reference")
            ],
            "seeAlsoLinks": [
                _rename(x, "SeeAlsoLink", {"Label": "label", "URL": "url"})
                for x in _items(refs, "SeeAlsoLinkList", "SeeAlsoLink")
            ],
        },
    }
    return {"protocolSection": protocol, "resultsSection": study.get("ResultsSection")}
