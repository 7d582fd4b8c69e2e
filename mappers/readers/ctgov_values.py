"""ClinicalTrials.gov values in any of their published spellings -> the model's API v2 codes.

The same code reaches us as ``PHASE1`` (API v2, current CSV), ``Phase 1`` (legacy XML and CSV),
``ACTIVE_NOT_RECRUITING`` or ``Active, not recruiting``, ``None (Open Label)`` or (2016 XML)
``Open Label``. One normalisation (upper case, runs of other characters -> ``_``) plus a small
table of the spellings it cannot reach keeps the three readers in agreement; a value none of
them explains is returned as None so the reader can report it instead of guessing.

Dates: the model takes ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``; legacy sources write
``Month D, YYYY`` or ``Month YYYY``, converted here without inventing a missing day.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import get_args

from mappers import model
from mappers.readers.base import Draft

_ALIASES: dict[str, dict[str, str]] = {
    "status": {"UNKNOWN_STATUS": "UNKNOWN"},
    # "Phase 0" is the registry's former name of Early Phase 1
    "phase": {"N_A": "NA", "NOT_APPLICABLE": "NA", "EARLY_PHASE_1": "EARLY_PHASE1", "PHASE0": "EARLY_PHASE1"},
    "study_type": {"OBSERVATIONAL_PATIENT_REGISTRY": "OBSERVATIONAL"},
    "allocation": {"N_A": "NA"},
    "intervention_model": {
        "SINGLE_GROUP_ASSIGNMENT": "SINGLE_GROUP",
        "PARALLEL_ASSIGNMENT": "PARALLEL",
        "CROSSOVER_ASSIGNMENT": "CROSSOVER",
        "FACTORIAL_ASSIGNMENT": "FACTORIAL",
        "SEQUENTIAL_ASSIGNMENT": "SEQUENTIAL",
    },
    "primary_purpose": {"EDUCATIONAL_COUNSELING_TRAINING": "ECT"},
    "masking": {"OPEN_LABEL": "NONE", "NONE_OPEN_LABEL": "NONE", "NO_MASKING": "NONE"},
    "sex": {"BOTH": "ALL"},
    # start dates are "Anticipated", posted dates "Estimate": both are API v2's ESTIMATED
    "date_type": {"ANTICIPATED": "ESTIMATED", "ESTIMATE": "ESTIMATED"},
    "reference_type": {"RESULTS": "RESULT"},
    "observational_model": {"ECOLOGIC_OR_COMMUNITY_STUDY": "ECOLOGIC_OR_COMMUNITY"},
    # 2016 records name the masked roles Subject and Caregiver
    "who_masked": {"SUBJECT": "PARTICIPANT", "CAREGIVER": "CARE_PROVIDER"},
    "ipd_info_type": {
        "STATISTICAL_ANALYSIS_PLAN_SAP": "SAP",
        "STATISTICAL_ANALYSIS_PLAN": "SAP",
        "INFORMED_CONSENT_FORM_ICF": "ICF",
        "INFORMED_CONSENT_FORM": "ICF",
        "CLINICAL_STUDY_REPORT_CSR": "CSR",
        "CLINICAL_STUDY_REPORT": "CSR",
    },
    "results_submission": {"SUBMISSION_CANCELLED": "SUBMISSION_CANCELED"},
}
_VOCABULARIES = {
    "status": model.OverallStatus,
    "phase": model.Phase,
    "study_type": model.StudyType,
    "allocation": model.Allocation,
    "intervention_model": model.InterventionModel,
    "primary_purpose": model.PrimaryPurpose,
    "masking": model.Masking,
    "arm_type": model.ArmType,
    "sex": model.Sex,
    "date_type": model.DateType,
    "role": model.PersonRole,
    "reference_type": model.ReferenceType,
    "responsible_party": model.ResponsiblePartyType,
    "observational_model": model.ObservationalModel,
    "time_perspective": model.TimePerspective,
    "who_masked": model.WhoMasked,
    "bio_spec_retention": model.BioSpecRetention,
    "sampling_method": model.SamplingMethod,
    "std_age": model.StdAge,
    "ipd_sharing": model.IpdSharing,
    "ipd_info_type": model.IpdInfoType,
    "results_submission": model.ResultsSubmissionEvent,
}
_CODES = {name: frozenset(get_args(literal)) for name, literal in _VOCABULARIES.items()}
# Legacy agency classes -> API v2 classes (the public XML's four classes).
_AGENCY_CLASS = {"U_S_FED": "FED", "US_FED": "FED"}
_NOT_CODE = re.compile(r"[^A-Z0-9]+")
_PHASE_WORD = re.compile(r"\b(early\s+phase\s*\d|phase\s*\d|n/a|na|not applicable)\b", re.IGNORECASE)


def code_word(text: str) -> str:
    """``Active, not recruiting`` -> ``ACTIVE_NOT_RECRUITING``."""
    return _NOT_CODE.sub("_", text.upper()).strip("_")


@lru_cache(maxsize=4096)
def coded(vocabulary: str, text: str | None) -> str | None:
    """The API v2 code for ``text`` in one vocabulary, or None when no spelling matches.

    Cached: a vocabulary is closed and a record repeats its few spellings, once per site or
    person (a site's status, a contact's role: thousands in a large study)."""
    if text is None or not text.strip():
        return None
    word = code_word(text)
    if vocabulary == "masking":  # "Double (Participant, …)", "Double Blind (Subject, …)"
        word = code_word(re.sub(r"\(.*", "", text).replace("Blind", "")) or word
        word = _ALIASES["masking"].get(word, word)
    word = _ALIASES.get(vocabulary, {}).get(word, word)
    return word if word in _CODES[vocabulary] else None


def known_code(draft: Draft, vocabulary: str, value: object, field: str, *where: object) -> str | None:
    """``coded`` for a reader: a value no spelling explains is reported on the draft as an
    ``unknown-code`` warning (never guessed) and read as None. Only text can be a code: a value
    of another JSON type is reported the same way. ``where``: the value's location, or its
    parts, joined only for a note (a thousand-site record codes thousands of roles and
    statuses, and builds no location for them)."""
    code = coded(vocabulary, value) if isinstance(value, str) else None
    if value and code is None:
        place = "".join(map(str, where))
        draft.note("warning", "unknown-code", f"'{value}' is not a known {vocabulary}", field, place)
    return code


def masked_roles(text: str | None) -> list[str]:
    """The roles in a public masking value: ``Double (Participant, Investigator)`` ->
    ["PARTICIPANT", "INVESTIGATOR"]; 2016's ``Double Blind (Subject, Caregiver)`` alike."""
    inner = re.search(r"\((.*)\)", text or "")
    if not inner:
        return []
    roles = [coded("who_masked", part) for part in inner.group(1).split(",")]
    return [role for role in roles if role]


def phases(text: str | None) -> list[str]:
    """``PHASE1|PHASE2``, ``Phase 1/Phase 2``, ``Phase 1|Phase 2`` -> ["PHASE1", "PHASE2"]."""
    found = []
    for word in _PHASE_WORD.findall((text or "").replace("_", " ")):
        code = coded("phase", re.sub(r"\s+(?=\d)", "", word))
        if code and code not in found:
            found.append(code)
    return found


def agency_class(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    word = code_word(text)
    return _AGENCY_CLASS.get(word, word)


_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        1,
    )
    for name in names
}
_ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_LEGACY = re.compile(r"^([A-Za-z]+)\.?\s+(?:(\d{1,2}),?\s+)?(\d{4})$")


def iso_date(text: str | None) -> str | None:
    """A registry date as the model's partial ISO date; None when it is no date we can read."""
    if text is None:
        return None
    text = text.strip()
    if _ISO.match(text):
        return text
    match = _LEGACY.match(text)
    if not match or match.group(1).lower() not in _MONTHS:
        return None
    month, day, year = _MONTHS[match.group(1).lower()], match.group(2), match.group(3)
    if day:
        return f"{year}-{month:02d}-{int(day):02d}"
    return f"{year}-{month:02d}"


def yes_no(text: str | None) -> bool | None:
    word = code_word(text or "")
    if word in ("YES", "TRUE", "ACCEPTS_HEALTHY_VOLUNTEERS"):
        return True
    if word in ("NO", "FALSE"):
        return False
    return None


def results_not_mapped(draft: Draft, where: str) -> None:
    """Results are not mapped yet; that the record has them must not be lost silently."""
    draft.note(
        "warning",
        "results-not-mapped",
        "the record has a results section; results are not mapped to any output yet",
        field="results",
        where=where,
    )


_NCT = re.compile(r"^NCT\d{8}$")
_FILENAME = re.compile(r"^[A-Za-z0-9_.-]+\.pdf$")


def large_document_url(nct_id: str | None, filename: str | None) -> str | None:
    """Where ClinicalTrials.gov serves a study's uploaded document: its document store, under
    the last two digits of the NCT id, then the NCT id, then the file name
    (``…/large-docs/12/NCT02552212/Prot_SAP_000.pdf``; legacy XML records give the older
    ``https://ClinicalTrials.gov/ProvidedDocs/12/NCT02552212/Prot_SAP_000.pdf``). None unless
    both parts have the registry's shape."""
    if not nct_id or not filename or not _NCT.match(nct_id) or not _FILENAME.match(filename):
        return None
    return f"https://cdn.clinicaltrials.gov/large-docs/{nct_id[-2:]}/{nct_id}/{filename}"


def large_document(label: str | None, url: str) -> dict:
    """An uploaded document known by its label and address (the CSV export's Study Documents
    cell, legacy XML's provided_document): the registry builds the label from what the file
    holds ("Study Protocol and Statistical Analysis Plan"), so the label says which it holds."""
    words = (label or "").lower()
    return {
        "label": label or None,
        "has_protocol": "protocol" in words,
        "has_sap": "statistical analysis plan" in words,
        "has_icf": "informed consent form" in words,
        "url": url,
        "filename": url.rsplit("/", 1)[-1] or None,
    }
