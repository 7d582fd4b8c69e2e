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
from typing import Any

from mappers.readers.base import Draft, Reader, RejectedInput, RejectedRecord, head_start
from mappers.readers.ctgov_json import load_json, read_study
from mappers.text import parse_count

_SNIFF = 65536


class CtgovJsonV1(Reader):
    layout = "ctgov-json-v1"

    def recognises(self, text: str) -> bool:
        at = head_start(text, _SNIFF)  # text[:_SNIFF].lstrip() begins here
        return text.startswith("{", at, _SNIFF) and text.find('"FullStudiesResponse"', at, _SNIFF) >= 0

    def read(self, text: str, source: str) -> Iterable[Draft | RejectedRecord]:
        return self.read_encoded(text, None, source)

    def read_encoded(self, text: str, encoded: bytes | None, source: str) -> Iterable[Draft | RejectedRecord]:
        document = load_json(text, encoded)
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


def _bool(value) -> bool | None:
    """The classic API's "Yes"/"No" (or "true"/"false") as the boolean API v2 has."""
    return {"yes": True, "true": True, "no": False, "false": False}.get(str(value).strip().lower())


def _number(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _browse(derived: dict, kind: str) -> dict:
    """``ConditionBrowseModule.ConditionMeshList.ConditionMesh[]`` -> ``{"meshes": [...], …}``."""
    module = derived.get(f"{kind}BrowseModule") or {}
    return {
        v2: [
            {"id": m.get(f"{kind}{part}Id"), "term": m.get(f"{kind}{part}Term")}
            for m in _items(module, f"{kind}{part}List", f"{kind}{part}")
        ]
        for part, v2 in (("Mesh", "meshes"), ("Ancestor", "ancestors"))
    }


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


def _status(status: dict) -> dict:
    dates: dict[str, Any] = {
        "startDateStruct": _date(status, "Start"),
        "primaryCompletionDateStruct": _date(status, "PrimaryCompletion"),
        "completionDateStruct": _date(status, "Completion"),
    }
    for v1, v2 in (
        ("StudyFirst", "studyFirst"),
        ("ResultsFirst", "resultsFirst"),
        ("DispFirst", "dispFirst"),
    ):
        dates[f"{v2}SubmitDate"] = status.get(f"{v1}SubmitDate")
        dates[f"{v2}SubmitQcDate"] = status.get(f"{v1}SubmitQCDate")
        dates[f"{v2}PostDateStruct"] = _date(status, f"{v1}Post")
    dates["lastUpdateSubmitDate"] = status.get("LastUpdateSubmitDate")
    dates["lastUpdatePostDateStruct"] = _date(status, "LastUpdatePost")
    access = status.get("ExpandedAccessInfo") or {}
    return {
        "overallStatus": status.get("OverallStatus"),
        "lastKnownStatus": status.get("LastKnownStatus"),
        "whyStopped": status.get("WhyStopped"),
        "statusVerifiedDate": status.get("StatusVerifiedDate"),
        "expandedAccessInfo": {
            "hasExpandedAccess": _bool(access.get("HasExpandedAccess")),
            "nctId": access.get("ExpandedAccessNCTId"),
            "statusForNctId": access.get("ExpandedAccessStatusForNCTId"),
        },
        **dates,
    }


def _design(design: dict) -> dict:
    info = design.get("DesignInfo") or {}
    masking = info.get("DesignMaskingInfo") or {}
    count = _dig(design, "EnrollmentInfo", "EnrollmentCount")
    first = lambda data, *keys: next(iter(_values(data, *keys)), None)  # noqa: E731
    return {
        "studyType": design.get("StudyType"),
        "patientRegistry": _bool(design.get("PatientRegistry")),
        "targetDuration": design.get("TargetDuration"),
        "phases": _values(design, "PhaseList", "Phase"),
        "designInfo": {
            "allocation": info.get("DesignAllocation"),
            "interventionModel": info.get("DesignInterventionModel"),
            "interventionModelDescription": info.get("DesignInterventionModelDescription"),
            "primaryPurpose": info.get("DesignPrimaryPurpose"),
            "observationalModel": first(info, "DesignObservationalModelList", "DesignObservationalModel"),
            "timePerspective": first(info, "DesignTimePerspectiveList", "DesignTimePerspective"),
            "maskingInfo": {
                "masking": masking.get("DesignMasking"),
                "maskingDescription": masking.get("DesignMaskingDescription"),
                "whoMasked": _values(masking, "DesignWhoMaskedList", "DesignWhoMasked"),
            },
        },
        "bioSpec": {
            "retention": _dig(design, "BioSpec", "BioSpecRetention"),
            "description": _dig(design, "BioSpec", "BioSpecDescription"),
        },
        "expandedAccessTypes": {
            kind.lower(): _bool(_dig(design, "ExpandedAccessTypes", f"ExpAccType{kind}"))
            for kind in ("Individual", "Intermediate", "Treatment")
        },
        "enrollmentInfo": {
            "count": parse_count(count) if isinstance(count, str) else None,
            "type": _dig(design, "EnrollmentInfo", "EnrollmentType"),
        },
    }


def _location(loc: dict) -> dict:
    return {
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
            _person(c, "LocationContact") for c in _items(loc, "LocationContactList", "LocationContact")
        ],
        "geoPoint": {
            "lat": _number(_dig(loc, "LocationGeoPoint", "LocationLat")),
            "lon": _number(_dig(loc, "LocationGeoPoint", "LocationLon")),
        },
    }


def _documents(study: dict) -> list[dict]:
    names = {
        "TypeAbbrev": "typeAbbrev",
        "Label": "label",
        "Date": "date",
        "UploadDate": "uploadDate",
        "Filename": "filename",
    }
    return [
        {
            **_rename(d, "LargeDoc", names),
            **{
                f"has{kind}": _bool(d.get(f"LargeDocHas{kind.upper()}"))
                for kind in ("Protocol", "Sap", "Icf")
            },
        }
        for d in _items(study, "DocumentSection", "LargeDocumentModule", "LargeDocList", "LargeDoc")
    ]


def to_v2(study: dict) -> dict:
    """A v1 ``Study`` object in the v2 shape (only the parts the v2 reader reads)."""
    p = study["ProtocolSection"]
    ident, sponsors = p.get("IdentificationModule") or {}, p.get("SponsorCollaboratorsModule") or {}
    arms, eligibility = p.get("ArmsInterventionsModule") or {}, p.get("EligibilityModule") or {}
    contacts, refs = p.get("ContactsLocationsModule") or {}, p.get("ReferencesModule") or {}
    oversight, ipd = p.get("OversightModule") or {}, p.get("IPDSharingStatementModule") or {}
    derived = study.get("DerivedSection") or {}
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
        eligibility.get("HealthyVolunteers") or ""
    )
    protocol = {
        "identificationModule": {
            "nctId": ident.get("NCTId"),
            "nctIdAliases": _values(ident, "NCTIdAliasList", "NCTIdAlias"),
            "orgStudyIdInfo": {"id": _dig(ident, "OrgStudyIdInfo", "OrgStudyId")},
            "secondaryIdInfos": [
                _rename(s, "SecondaryId", {"": "id", "Type": "type", "Domain": "domain"})
                for s in _items(ident, "SecondaryIdInfoList", "SecondaryIdInfo")
            ],
            "organization": _rename(
                ident.get("Organization") or {}, "Org", {"FullName": "fullName", "Class": "class"}
            ),
            "briefTitle": ident.get("BriefTitle"),
            "officialTitle": ident.get("OfficialTitle"),
            "acronym": ident.get("Acronym"),
        },
        "statusModule": _status(p.get("StatusModule") or {}),
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
                    "OldNameTitle": "oldNameTitle",
                    "OldOrganization": "oldOrganization",
                },
            ),
        },
        "oversightModule": {
            "oversightHasDmc": _bool(oversight.get("OversightHasDMC")),
            "isFdaRegulatedDrug": _bool(oversight.get("IsFDARegulatedDrug")),
            "isFdaRegulatedDevice": _bool(oversight.get("IsFDARegulatedDevice")),
            "isUnapprovedDevice": _bool(oversight.get("IsUnapprovedDevice")),
            "isPpsd": _bool(oversight.get("IsPPSD")),
            "isUsExport": _bool(oversight.get("IsUSExport")),
        },
        "descriptionModule": {
            "briefSummary": _dig(p, "DescriptionModule", "BriefSummary"),
            "detailedDescription": _dig(p, "DescriptionModule", "DetailedDescription"),
        },
        "conditionsModule": {
            "conditions": _values(p, "ConditionsModule", "ConditionList", "Condition"),
            "keywords": _values(p, "ConditionsModule", "KeywordList", "Keyword"),
        },
        "designModule": _design(p.get("DesignModule") or {}),
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
            "genderBased": _bool(eligibility.get("GenderBased")),
            "genderDescription": eligibility.get("GenderDescription"),
            "minimumAge": eligibility.get("MinimumAge"),
            "maximumAge": eligibility.get("MaximumAge"),
            "stdAges": _values(eligibility, "StdAgeList", "StdAge"),
            "healthyVolunteers": healthy,
            "studyPopulation": eligibility.get("StudyPopulation"),
            "samplingMethod": eligibility.get("SamplingMethod"),
        },
        "contactsLocationsModule": {
            "overallOfficials": [
                _person(o, "OverallOfficial")
                for o in _items(contacts, "OverallOfficialList", "OverallOfficial")
            ],
            "centralContacts": [
                _person(c, "CentralContact") for c in _items(contacts, "CentralContactList", "CentralContact")
            ],
            "locations": [_location(loc) for loc in _items(contacts, "LocationList", "Location")],
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
            "availIpds": [
                _rename(x, "AvailIPD", {"Id": "id", "Type": "type", "URL": "url", "Comment": "comment"})
                for x in _items(refs, "AvailIPDList", "AvailIPD")
            ],
        },
        "ipdSharingStatementModule": {
            "ipdSharing": ipd.get("IPDSharing"),
            "description": ipd.get("IPDSharingDescription"),
            "infoTypes": _values(ipd, "IPDSharingInfoTypeList", "IPDSharingInfoType"),
            "timeFrame": ipd.get("IPDSharingTimeFrame"),
            "accessCriteria": ipd.get("IPDSharingAccessCriteria"),
            "url": ipd.get("IPDSharingURL"),
        },
    }
    return {
        "protocolSection": protocol,
        "resultsSection": study.get("ResultsSection"),
        "derivedSection": {
            "conditionBrowseModule": _browse(derived, "Condition"),
            "interventionBrowseModule": _browse(derived, "Intervention"),
            "miscInfoModule": {
                "removedCountries": _values(derived, "MiscInfoModule", "RemovedCountryList", "RemovedCountry")
            },
        },
        "documentSection": {"largeDocumentModule": {"largeDocs": _documents(study)}},
    }
