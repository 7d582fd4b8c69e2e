"""One study, several ClinicalTrials.gov formats (API v2 or v1 JSON, legacy XML, CSV): one model.

Every study present in the fixtures in two or three formats is compared over every field both
formats carry: recursively, a value one format does not carry (None or empty) is skipped, and
everything else must be equal (lists item by item). That is how, for example, the legacy CSV's
missing zip codes, date types and criteria, or the XML's missing secondary-id types, drop out.
Differences of *notation* are normalised, each for a stated reason:

- agency classes: legacy formats have four classes; API v2's NETWORK, OTHER_GOV and INDIV were
  "Other";
- arm/intervention links are a set: the classic API sorted an intervention's arm labels;
- long texts: API v2 text is markdown (``*`` bullets, ``\\`` escapes), the XML's is plain text
  with ``-`` bullets and fixed line breaks; the words are compared.

Differences of *content* are not normalised: two copies may be different versions of the record,
so the fields the registry changed between them are listed in UPDATED, and the test asserts
they do differ (a stale entry fails) and that everything else agrees.
"""

import itertools
import re

import pytest

from mappers.model import Study
from tests.mappers.readers.ctgov_fixtures import CSV_FILES, JSON_FILES, JSON_V1_FILES, XML_FILES, studies

_PUBLIC_CLASS = {"NETWORK": "OTHER", "OTHER_GOV": "OTHER", "INDIV": "OTHER"}
_TEXTS = {"brief_summary", "detailed_description", "criteria", "description"}

# (NCT id, formats) -> fields the registry changed between the two copies, with the evidence
UPDATED = {
    ("NCT02513394", "json+xml"): {
        # XML last updated 2020-03-09, JSON 2023-06-15
        "outcomes": "secondary outcomes rewritten as four measures (2 -> 5 outcomes)",
        "officials": "the first principal investigator was replaced",
        "sites": "sites added and renamed (233 -> 437)",
        "status": "primary completion date became actual: 2020-09 estimated -> 2020-11 actual",
    },
    ("NCT00023673", "jsonv1+xml"): {
        # classic API copy versioned 2023-10-18, XML downloaded 2017: the registry's MeSH indexing
        # of the interventions gained a heading in between
        "intervention_browse": "'Albumin-Bound Paclitaxel' added to the intervention MeSH terms",
    },
    ("NCT01281917", "xml+csv"): {
        # XML last changed 2015-06-03, CSV row last updated 2017-08-21; and the legacy CSV does
        # not say which outcomes are primary: the reader's stated assumption (only the first)
        # misses this study's second primary outcome.
        "outcomes": "measures re-cased ('Safety of this regimen' -> 'Safety of This Regimen')",
        "sites": "a city re-spelled ('LaCrosse' -> 'La Crosse')",
    },
}

SOURCES = {
    "json": [p for p in JSON_FILES if p not in JSON_V1_FILES],
    "jsonv1": JSON_V1_FILES,
    "xml": XML_FILES,
    "csv": CSV_FILES,
}


def _by_nct(files) -> dict[str, Study]:
    found = {}
    for path in files:
        for study in studies(path):
            assert study.nct_id, f"{path}: a registry record without an NCT id"
            found[study.nct_id] = study
    return found


FOUND = {name: _by_nct(files) for name, files in SOURCES.items()}
PAIRS = sorted(
    (nct, f"{a}+{b}") for a, b in itertools.combinations(SOURCES, 2) for nct in set(FOUND[a]) & set(FOUND[b])
)


def _normal(value, key: str = ""):
    if isinstance(value, dict):
        return {k: _normal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normal(v, key) for v in value]
        return sorted(items) if key in ("arm_labels", "intervention_names") else items
    if key == "agency_class":
        return _PUBLIC_CLASS.get(value, value)
    if key in _TEXTS and isinstance(value, str):
        value = re.sub(r"\\(.)", r"\1", value)
        value = re.sub(r"(^|\s)[*-](?=\s)", " ", value)
        return re.sub(r"\s+", " ", value).strip()
    return value


def disagreements(a, b, where: str = "") -> list[str]:
    """Paths where both values are present and differ."""
    if a in (None, "", [], {}) or b in (None, "", [], {}):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in a for p in disagreements(a[k], b.get(k), f"{where}.{k}".lstrip("."))]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where} ({len(a)} != {len(b)} items)"]
        return [
            p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in disagreements(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [where]


def test_every_pairing_of_formats_is_present():
    assert ("NCT02513394", "json+xml") in PAIRS
    assert {formats for _, formats in PAIRS} >= {"json+xml", "jsonv1+xml", "xml+csv"}


@pytest.mark.parametrize(("nct", "formats"), PAIRS, ids=[f"{n}-{f}" for n, f in PAIRS])
def test_formats_agree_on_every_field_both_carry(nct, formats):
    first, second = (
        _normal(FOUND[name][nct].model_dump(exclude={"provenance", "issues"})) for name in formats.split("+")
    )
    shared = [f for f in first if first[f] not in (None, [], {}) and second[f] not in (None, [], {})]
    assert len(shared) >= 10
    updated = UPDATED.get((nct, formats), {})
    for field in shared:
        found = disagreements(first[field], second[field], field)
        if field in updated:
            assert found, f"{field} no longer differs: drop it from UPDATED"
        else:
            assert not found, found
