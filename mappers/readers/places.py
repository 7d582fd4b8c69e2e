"""Recognising "City, Country" lines and person names in free text, with pycountry's country list."""

from __future__ import annotations

import re
from functools import lru_cache

import pycountry

# ClinicalTrials.gov country names that ISO 3166 (pycountry) spells differently or no longer has.
_REGISTRY_COUNTRY_NAMES = {
    "turkey",
    "macedonia, the former yugoslav republic of",
    "former serbia and montenegro",
    "korea, democratic people's republic of",
    "taiwan",
    "vietnam",
    "czech republic",
    "swaziland",
    "netherlands antilles",
    "federated states of micronesia",
}


@lru_cache(maxsize=1)
def _country_names() -> frozenset[str]:
    names = set(_REGISTRY_COUNTRY_NAMES)
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names.add(value.lower())
    return frozenset(names)


def is_country(name: str) -> bool:
    return name.strip().lower() in _country_names()


def split_place(line: str) -> tuple[str, str | None, str] | None:
    """``City[, State], Country`` -> (city, state, country); None if the line is not a place.

    Country names may hold a comma themselves ("Korea, Republic of"), so the last two parts
    are tried as one name before the last part alone.
    """
    parts = [p.strip() for p in line.split(",")]
    if len(parts) < 2 or any(not p for p in parts) or len(line) > 200:
        return None
    for width in (2, 1):
        if len(parts) > width and is_country(", ".join(parts[-width:])):
            rest = parts[:-width]
            city, state = (", ".join(rest[:-1]), rest[-1]) if len(rest) > 1 else (rest[0], None)
            return city, state, ", ".join(parts[-width:])
    return None


_CREDENTIAL = re.compile(
    r"(,|\s)\s*(M\.?D\.?|Ph\.?D\.?|D\.?O\.?|MPH|MSc|M\.?S\.?|R\.?N\.?|PharmD|MBBS|MBChB|FRCP\w*|DrPH|"
    r"DDS|DMD|BSc|MSN|NP|PA-C|MA|MBA|Prof\.?|Dr\.?)(\s|,|$)"
)
_ROLE_NAME = re.compile(
    r"\b(clinical trials?|medical (director|monitor)|study (director|physician|chair)|call cent(er|re)|"
    r"central contact|clinical (development|operations|program)|inc\.?|ltd\.?|gmbh|llc|s\.a\.|corporation)\b",
    re.I,
)
# words that make a short capitalised line an arm or intervention, not a name
_NOT_A_NAME = re.compile(
    r"\b(placebo|comparator|arm|group|cohort|dose|drug|treatment|therapy|cells?|control|standard|care|"
    r"vaccine|tablets?|injections?|capsules?|infusion|device|procedure|surgery|observation|usual)\b",
    re.I,
)
_PARTICLES = {"van", "de", "da", "von", "der", "del", "la", "le", "al", "bin", "ben", "du", "di", "y"}


def looks_like_person(line: str) -> bool:
    """Whether a short line names a study official (a person, or the sponsor's trial desk)."""
    line = line.strip()
    words = line.split()
    if not words or len(words) > 8 or split_place(line) or _NOT_A_NAME.search(line):
        return False
    if _CREDENTIAL.search(line) or _ROLE_NAME.search(line):
        return not re.search(r"\d", line)
    if re.search(r"[\d;:()/]", line) or not 2 <= len(words) <= 4:
        return False
    return all(w[0].isupper() or w.lower() in _PARTICLES for w in words)


@lru_cache(maxsize=256)
def _subdivision_names(country: str) -> frozenset[str]:
    try:
        code = pycountry.countries.lookup(country).alpha_2
    except LookupError:
        return frozenset()
    return frozenset(s.name.lower() for s in pycountry.subdivisions.get(country_code=code) or [])


def is_subdivision(name: str, country: str) -> bool:
    """Whether ``name`` is a state/province/region of ``country`` (ISO 3166-2 names)."""
    return name.strip().lower() in _subdivision_names(country)
