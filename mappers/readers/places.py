"""Recognising places and person names in free text, with pycountry's country and subdivision
lists: "City, Country" lines of a registry page, the CSV export's "Facility, City, State, Zip,
Country" sites."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
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


def _plain(name: str) -> str:
    """Lower case without accents or extra spaces: "Rājasthān" and "Rajasthan" are one name."""
    decomposed = unicodedata.normalize("NFKD", name)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


@lru_cache(maxsize=256)
def _subdivision_names(country: str) -> frozenset[str]:
    """ISO 3166-2 names of the country's subdivisions, with their alternatives
    ("Valencia / València", "A Coruña [La Coruña]"), accents dropped."""
    try:
        code = pycountry.countries.lookup(country).alpha_2
    except LookupError:
        return frozenset()
    names = set()
    for subdivision in pycountry.subdivisions.get(country_code=code) or []:
        for name in re.split(r"\s*/\s*|\s*\[|\]", subdivision.name):
            if name.strip():
                names.add(_plain(name))
                names.add(_plain(_SUBDIVISION_TYPE.sub("", name)))
    return frozenset(names)


# The type words ISO 3166-2 adds to some names and registries leave out ("Sichuan Sheng",
# "Busan-gwangyeoksi").
_SUBDIVISION_TYPE = re.compile(
    r"(?:\s+(?:sheng|shi|zizhiqu|sar|province|prefecture|region|oblast'?|kray|okrug)|"
    r"-(?:gwangyeoksi|teukbyeolsi|teukbyeoljachido|teukbyeoljachisi))$",
    re.IGNORECASE,
)


def is_subdivision(name: str, country: str) -> bool:
    """Whether ``name`` is a state/province/region of ``country`` (ISO 3166-2 names)."""
    return _plain(name) in _subdivision_names(country)


# Words that name an institution, not a town: a "city" holding one is a facility.
_INSTITUTION = re.compile(
    r"\b(?:hospital(?:s|ier|ar|aria|ario)?|h[oô]pital(?:s|ier)?|clinic\w*|klinik\w*|universit\w*|"
    r"institut\w*|cent(?:er|re|ro|rum)|medical|health\w*|research|foundation|fundaci[oó]n|"
    r"fondazione|ospedal\w*|azienda|policlinic\w*|site|practice|laborator\w*|pharmacy|department|"
    r"dept|unit|school|college|associates|group|service|office|facility|investigat\w*|oncology|"
    r"cancer|chu|chru|chr|ap-hp|nhs|trust)\b",
    re.IGNORECASE,
)
_COMPANY = re.compile(r"\b(?:GmbH|Inc|LLC|Ltd|S\.A|S\.r\.l|Pty|Corp|Corporation|AG|B\.V|N\.V)\b\.?")
# A postal code: short, with a digit, each word a number or a code ("302019", "M5G 2M9",
# "35249-0001", "1012 AB"); "Praha 2" is a city.
_POSTCODE = re.compile(
    r"^(?=.*\d)(?:[A-Z0-9\-]*\d[A-Z0-9\-]*|[A-Z]{1,3})(?: (?:[A-Z0-9\-]*\d[A-Z0-9\-]*|[A-Z]{1,3}))?$"
)


def looks_like_institution(text: str) -> bool:
    return bool(_INSTITUTION.search(text) or _COMPANY.search(text))


@dataclass(frozen=True)
class PlaceParts:
    facility: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None


def parse_location(item: str) -> PlaceParts:
    """A site of the CSV export's ``Locations`` cell, ``Facility, City, State, Zip, Country``
    (state and zip optional; the facility may hold commas, the country too: "Korea, Republic
    of") -> its parts.

    The country is read first (a known name, from the right). Of the pieces before it, every
    reading is tried — with or without a postal code, with or without a state — and the one
    whose parts are most like what they are wins: a state must be one of that country's
    subdivisions (ISO 3166-2, accents ignored: "Rajasthan"), a city must not read as an
    institution ("CHU de Liège, Liège, Belgium": Liège is a Belgian province too, but "CHU de
    Liège" is no city), and the export nearly always names a facility."""
    pieces = [p.strip(" ,") for p in item.split(", ") if p.strip(" ,")]  # "a,b" stays one part
    country = None
    for width in (2, 1):
        if len(pieces) >= width and is_country(", ".join(pieces[-width:])):
            country, pieces = ", ".join(pieces[-width:]), pieces[:-width]
            break
    if country is None and len(pieces) > 1:
        country, pieces = pieces[-1], pieces[:-1]
    best, best_score = PlaceParts(None, None, None, None, country), float("-inf")
    zip_options = [None, pieces[-1]] if pieces and _POSTCODE.match(pieces[-1]) else [None]
    for zip_code in zip_options:
        rest = pieces[:-1] if zip_code else pieces
        for with_state in (False, True):
            if with_state and not (len(rest) > 1 and country and is_subdivision(rest[-1], country)):
                continue
            head = rest[:-1] if with_state else rest
            if not head:
                continue
            city, facility = head[-1], ", ".join(head[:-1]) or None
            before, comma, after = city.rpartition(",")
            if comma and looks_like_institution(before) and not looks_like_institution(after):
                # "Lady Hardinge Medical College,New Delhi": a facility and its city, unspaced
                city, facility = after.strip(), ", ".join([*head[:-1], before.strip()])
            score = (
                (1.0 if with_state else 0.0)
                + (0.5 if zip_code else 0.0)
                - (3.0 if looks_like_institution(city) else 0.0)
                - (1.0 if _POSTCODE.match(city) else 0.0)
                - (0.5 if not with_state and country and is_subdivision(city, country) else 0.0)
                - (1.0 if facility is None and len(pieces) > 1 else 0.0)
            )
            if score > best_score:
                best_score = score
                best = PlaceParts(facility, city, rest[-1] if with_state else None, zip_code, country)
    return best
