"""Study model -> template context: the few values templates cannot compute for themselves.

Everything that is a *mapping* (which CT.gov code becomes which FHIR code, which field goes to
which element) lives in the templates, where users read and override it. This module only
supplies what needs Python or would otherwise be computed twice: deterministic resource ids,
the business identifier the conditional PUTs key on, the registry system of each identifier,
ISO 3166 codes of country names, which arm gives which intervention, the people of a study
merged across their roles, which condition and intervention is which MeSH heading, where the
study came from, and the run's settings.

Invariants: the context is a pure function of (study, settings) — same input, same bytes — and
every assumption it makes is an ``Issue`` in ``context["assumptions"]``, which the exporter adds
to the study's issues so that it reaches the run report.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

import pycountry

from mappers.identity import identity, missing_identity
from mappers.model import Browse, Identifier, Issue, MeshTerm, Person, ResponsibleParty, Study
from mappers.names import split_name

# HL7 terminology (THO 7.0.1) NamingSystem "ClinicalTrialsGov": the preferred uri uniqueId.
# A setting (MappingSettings.nct_identifier_system) because conditional updates match on it: a
# server filled with another system needs that system kept, or every study is created again.
NCT_SYSTEM = "http://clinicaltrials.gov"
# Systems other producers write for NCT ids (HL7's R5 example, the EBM IG, mCODE, the THO OID):
# an Identifier read with one of these is an NCT id and is written with the configured system.
NCT_SYSTEM_VARIANTS = frozenset(
    {
        "http://clinicaltrials.gov",
        "http://clinicaltrials.gov/",
        "https://clinicaltrials.gov",
        "https://clinicaltrials.gov/",
        "http://www.clinicaltrials.gov",
        "https://www.clinicaltrials.gov",
        "https://clinicaltrials.gov/nctid",
        "http://clinicaltrials.gov/ct2/show",
        "https://clinicaltrials.gov/study",
        "urn:oid:2.16.840.1.113883.3.1077",
    }
)
_NCT_SYSTEMS_UNSLASHED = frozenset(s.rstrip("/") for s in NCT_SYSTEM_VARIANTS)
# EU registries: no HL7 NamingSystem exists; the registries' own addresses, as the French ECLAIRE
# IG writes EU CT numbers. CTIS issues EU CT numbers (YYYY-5NNNNN-NN-NN), EudraCT its
# predecessor's numbers (YYYY-NNNNNN-NN).
EU_CT_SYSTEM = "https://euclinicaltrials.eu"
EUDRACT_SYSTEM = "https://eudract.ema.europa.eu"
_NCT_VALUE = re.compile(r"NCT\d{8}")
_EU_CT_VALUE = re.compile(r"\d{4}-5\d{5}-\d{2}-\d{2}")
_EUDRACT_VALUE = re.compile(r"\d{4}-\d{6}-\d{2}")
# CT.gov secondary id type, in any form a source writes it (API v2 code, legacy and PRS display
# text, classic API text) -> the API v2 SecondaryIdType code.
_SECONDARY_ID_TYPES = {
    "NIH": "NIH",
    "U.S. NIH GRANT/CONTRACT": "NIH",
    "NIH GRANT NUMBER": "NIH",
    "FDA": "FDA",
    "VA": "VA",
    "CDC": "CDC",
    "AHRQ": "AHRQ",
    "SAMHSA": "SAMHSA",
    "OTHER_GRANT": "OTHER_GRANT",
    "OTHER GRANT/FUNDING NUMBER": "OTHER_GRANT",
    "EUDRACT_NUMBER": "EUDRACT_NUMBER",
    "EUDRACT NUMBER": "EUDRACT_NUMBER",
    "EUDRACT": "EUDRACT_NUMBER",
    "CTIS": "CTIS",
    "EU CT NUMBER": "CTIS",
    "EU CT": "CTIS",
    "EU TRIAL NUMBER": "CTIS",
    "REGISTRY": "REGISTRY",
    "REGISTRY IDENTIFIER": "REGISTRY",
    "OTHER": "OTHER",
    "OTHER IDENTIFIER": "OTHER",
}
# Fixed namespace: changing it would change every resource id ever published.
ID_NAMESPACE = uuid.UUID("5b0f6b8e-3c0a-5d7e-9f0e-747269616c78")
# Where a study read from ClinicalTrials.gov lives in the registry (cited as the transformed record).
REGISTRY_RECORD_URL = "https://clinicaltrials.gov/study/{nct_id}"


@dataclass(frozen=True)
class MappingSettings:
    """The settings the templates see (plain data, so a job config can carry it)."""

    prs_org_name: str = "UNSPECIFIED-ORG"
    local_identifier_system: str = "urn:trialexport:source-document"
    fhir_version: str = "R4"
    # Which outputs a study's export renders, validates and writes (mappers/export.py FORMATS);
    # and whether FHIR structure is checked by fhir.resources instead of the JSON Schema.
    formats: tuple[str, ...] = ("fhir", "prs", "public")
    deep_validation: bool = False
    nct_identifier_system: str = NCT_SYSTEM


@lru_cache(maxsize=1)
def trialexport_version() -> str:
    """Cached: reading the installed distribution's metadata costs ~4 ms, a third of a study."""
    try:
        return version("trialexport")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def business_identifier(study: Study, settings: MappingSettings) -> Identifier:
    """The one identifier a server finds this study by (``mappers.identity``), with its system.

    Conditional PUTs (``ResearchStudy?identifier=system|value``) key on it, so it must be stable
    across runs and never depend on content that may be edited.
    """
    found = identity(study.identifiers)
    if found is None:  # the readers reject such a record: reaching here is a bug
        raise ValueError(missing_identity(study.identifiers))
    if found.kind == "nct":
        system = settings.nct_identifier_system
    else:
        system = found.system or settings.local_identifier_system
    return found.model_copy(update={"system": system})


def resource_id(resource_type: str, identifier: Identifier) -> str:
    """UUIDv5 of the business identifier. NCT ids are keyed by the id alone, not the configured
    system: NCT ids are unique on their own, and a change of the system setting must not give
    every NDJSON resource a new id (a bulk $import would then duplicate them)."""
    key = "nct" if identifier.kind == "nct" else identifier.system
    return str(uuid.uuid5(ID_NAMESPACE, f"{resource_type}|{key}|{identifier.value}"))


@dataclass(frozen=True)
class ResourceIds:
    """A study's resource ids (``resource_id``), one attribute per resource type, as templates
    read them (``ids.Bundle``): Jinja looks an attribute up first, and on a dict each look-up
    raised and caught an AttributeError before finding the key."""

    Bundle: str
    ResearchStudy: str
    PlanDefinition: str

    @classmethod
    def of(cls, identifier: Identifier) -> ResourceIds:
        return cls(
            resource_id("Bundle", identifier),
            resource_id("ResearchStudy", identifier),
            resource_id("PlanDefinition", identifier),
        )


# --- identifiers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentifierView:
    """One identifier as written: its registry system (None when unknown: none is invented) and
    its CT.gov SecondaryIdType code (None for NCT, org study and local ids)."""

    identifier: Identifier
    system: str | None
    type_code: str | None
    use: str | None = None


def secondary_id_type(identifier: Identifier) -> str | None:
    """The API v2 SecondaryIdType code of an identifier's type, whatever form the source used."""
    if not identifier.type:
        return None
    return _SECONDARY_ID_TYPES.get(" ".join(identifier.type.upper().replace("-", " ").split()))


def _says(text: str | None, *words: str) -> bool:
    folded = " ".join((text or "").lower().replace("-", " ").split())
    return any(word in folded for word in words)


def registry_system(identifier: Identifier, settings: MappingSettings) -> str | None:
    """The registry system of a non-business identifier, or None.

    An NCT id, or any id whose system is a known NCT variant, gets the configured NCT system.
    An EU CT or EudraCT number gets its registry's system when its type or domain names that
    registry (every spelling sources use: EUDRACT_NUMBER, "EudraCT Number", CTIS, "EU CT
    number"…) and its value has that registry's format; a secondary id without any type (legacy
    XML, CSV) only by the format, which no other registry's ids share. Otherwise only a system the
    source states is kept."""
    if identifier.kind == "nct" or (identifier.system or "").rstrip("/") in _NCT_SYSTEMS_UNSLASHED:
        return settings.nct_identifier_system
    if identifier.kind == "local":
        return identifier.system or settings.local_identifier_system
    if identifier.kind != "secondary":
        return identifier.system
    value = identifier.value.strip()
    code = secondary_id_type(identifier)
    untyped = code is None and not identifier.domain
    named_eu_ct = code == "CTIS" or _says(identifier.domain, "ctis", "eu ct", "euclinicaltrials", "eu trial")
    named_eudract = code == "EUDRACT_NUMBER" or _says(identifier.domain, "eudract")
    if _EU_CT_VALUE.fullmatch(value) and (named_eu_ct or named_eudract or untyped or code == "REGISTRY"):
        return EU_CT_SYSTEM
    if _EUDRACT_VALUE.fullmatch(value) and (named_eudract or named_eu_ct or untyped or code == "REGISTRY"):
        return EUDRACT_SYSTEM
    if _NCT_VALUE.fullmatch(value) and (
        untyped or code == "REGISTRY" or _says(identifier.domain, "clinicaltrials")
    ):
        return settings.nct_identifier_system
    return identifier.system


def identifier_views(study: Study, business: Identifier, settings: MappingSettings) -> list[IdentifierView]:
    """Every identifier of the study as written, then the NCT ids the registry merged into this
    record (``nct_aliases``) with use ``old``: no longer valid, still found by a search."""
    views = []
    for ident in study.identifiers:
        if ident.kind == business.kind and ident.value == business.value:
            system = business.system  # exactly what the conditional request names
        else:
            system = registry_system(ident, settings)
        views.append(
            IdentifierView(
                ident, system, secondary_id_type(ident), "official" if ident.kind == "nct" else None
            )
        )
    for alias in study.nct_aliases:
        views.append(
            IdentifierView(Identifier(kind="nct", value=alias), settings.nct_identifier_system, None, "old")
        )
    return views


# --- countries ------------------------------------------------------------------------------------

# ClinicalTrials.gov country names ISO 3166 (pycountry) spells otherwise. Withdrawn countries
# (Netherlands Antilles, Serbia and Montenegro) have no current code and stay text.
_COUNTRY_ALIASES = {
    "turkey": "TR",
    "macedonia, the former yugoslav republic of": "MK",
    "north macedonia": "MK",
    "korea, democratic people's republic of": "KP",
    "korea, republic of": "KR",
    "south korea": "KR",
    "taiwan": "TW",
    "vietnam": "VN",
    "czech republic": "CZ",
    "czechia": "CZ",
    "swaziland": "SZ",
    "federated states of micronesia": "FM",
    "iran, islamic republic of": "IR",
    "russia": "RU",
    "congo, the democratic republic of the": "CD",
    "palestinian territory, occupied": "PS",
    "palestinian territories, occupied": "PS",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "syria": "SY",
    "laos": "LA",
    "cote d'ivoire": "CI",
    "côte d'ivoire": "CI",
    "holy see (vatican city state)": "VA",
    "reunion": "RE",
    "réunion": "RE",
    "united states": "US",
    "united kingdom": "GB",
}


@lru_cache(maxsize=1024)
def country_code(name: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name as CT.gov or a document writes it, else None."""
    if not name or not name.strip():
        return None
    key = " ".join(name.split()).lower()
    # "Turkey (Türkiye)": CT.gov adds a country's own name in brackets; either part may be known
    for candidate in (key, *(p.strip() for p in re.split(r"[()]", key) if p.strip())):
        if candidate in _COUNTRY_ALIASES:
            return _COUNTRY_ALIASES[candidate]
        try:
            return pycountry.countries.lookup(candidate).alpha_2
        except LookupError:
            continue
    return None


@lru_cache(maxsize=512)
def _iso_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:  # codes come from pycountry's own lookup: never reached
        raise LookupError(code)
    return country.name


@dataclass(frozen=True)
class Country:
    name: str
    code: str | None
    display: str | None  # ISO 3166's English short name of the code


def countries(study: Study) -> list[Country]:
    """Distinct site countries in first-seen order, with their ISO 3166 codes."""
    seen: dict[str, Country] = {}
    for site in study.sites:
        name = (site.country or "").strip()
        if name and name not in seen:
            code = country_code(name)
            seen[name] = Country(name, code, _iso_name(code) if code else None)
    return list(seen.values())


# --- arms and interventions -----------------------------------------------------------------------

# Arm types that give no active intervention: never linked to an intervention by assumption.
_NO_ASSUMED_LINK = {"NO_INTERVENTION", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR"}


@dataclass(frozen=True)
class Links:
    """Which interventions each arm gives: ``arms[i]`` = positions (0-based) of arm i's
    interventions, in intervention order; ``unlinked`` = interventions no arm gives."""

    arms: list[list[int]]
    unlinked: list[int]
    assumed: bool = False


def _linked(arm, intervention) -> bool:
    """CT.gov links them by name, from either side: the intervention's arm labels, the arm's
    intervention names, the latter also in CT.gov's "<Type>: <name>" form ("Dietary Supplement:
    X": the registry's type texts are its API codes in title case)."""
    if arm.label in intervention.arm_labels:
        return True
    if not intervention.name:
        return False
    if intervention.name in arm.intervention_names:
        return True
    typed = f"{(intervention.type or '').replace('_', ' ').title()}: {intervention.name}"
    return bool(intervention.type) and typed in arm.intervention_names


def arm_links(study: Study) -> tuple[Links, list[Issue]]:
    """The arm <-> intervention links the source states; when it states none at all and the
    study (not observational) has exactly one intervention, every arm that is not a no-
    intervention, placebo or sham arm is taken to give it — a recorded assumption (seed 004's
    dose groups: three doses of its one cell product)."""
    arms = [
        [n for n, intervention in enumerate(study.interventions) if _linked(arm, intervention)]
        for arm in study.arms
    ]
    issues: list[Issue] = []
    assumed = False
    stated = (
        any(arms)
        or any(i.arm_labels for i in study.interventions)
        or any(a.intervention_names for a in study.arms)
    )
    if (
        not stated
        and len(study.interventions) == 1
        and study.arms
        and study.design.study_type != "OBSERVATIONAL"
    ):
        taken = [i for i, arm in enumerate(study.arms) if arm.type not in _NO_ASSUMED_LINK]
        if taken:
            for i in taken:
                arms[i] = [0]
            assumed = True
            issues.append(
                Issue(
                    severity="warning",
                    code="assumed-arm-intervention",
                    field="arms",
                    message=(
                        f"the source links no arm to an intervention and names one intervention: "
                        f"{len(taken)} of {len(study.arms)} arms are taken to give it"
                    ),
                )
            )
    used = {n for row in arms for n in row}
    unlinked = [n for n in range(len(study.interventions)) if n not in used]
    return Links(arms, unlinked, assumed), issues


# --- people ---------------------------------------------------------------------------------------

# Role keys, most significant first: a person's first role is the one an element with room for one
# role gets. PRINCIPAL_INVESTIGATOR / STUDY_DIRECTOR / STUDY_CHAIR are CT.gov official roles,
# SUB_INVESTIGATOR a site role CT.gov also lets an official carry, SPONSOR_INVESTIGATOR a
# responsible party type, "official" an official of unstated role, "responsible-party" a
# responsible party named the pre-2011 way (by name/title, no type).
ROLE_ORDER = (
    "PRINCIPAL_INVESTIGATOR",
    "SPONSOR_INVESTIGATOR",
    "STUDY_CHAIR",
    "STUDY_DIRECTOR",
    "SUB_INVESTIGATOR",
    "official",
    "responsible-party",
    "recruitment-contact",
)
_OFFICIAL_ROLES = {"PRINCIPAL_INVESTIGATOR", "STUDY_CHAIR", "STUDY_DIRECTOR", "SUB_INVESTIGATOR", "official"}


@dataclass
class Party:
    """One person of the study, however many roles the source gives them.

    ``names`` are the distinct forms the source wrote (the first is the fullest seen first),
    ``roles`` the role keys of ``ROLE_ORDER`` in that order, ``phones`` / ``emails`` the union of
    every record's contact points, ``phone_extensions`` the extension a record gives a phone,
    ``affiliations`` and ``titles`` what a record says of their position (``has_position``)."""

    key: tuple[str, str]
    names: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    phone_extensions: dict[str, str] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    affiliations: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)  # a responsible investigator's official title
    sources: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def role(self) -> str:
        return self.roles[0]

    @property
    def has_position(self) -> bool:
        """An affiliation or title to write: templates give the person a PractitionerRole."""
        return bool(self.affiliations or self.titles)

    @property
    def official(self) -> bool:
        """An overall official of the study (any official role, or none stated)."""
        return any(r in _OFFICIAL_ROLES for r in self.roles)

    @property
    def contact(self) -> bool:
        """A central contact of the study."""
        return "recruitment-contact" in self.roles


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=16_384)
def person_key(name: str) -> tuple[str, str]:
    """First and last name, case and accents folded: "Imanol Otaegui, MD" and "Imanol Otaegui"
    are one person. The parts come from the one name splitter (``mappers.names``), so the merge
    and the PRS name elements agree; a text that is not a person's name keys on its whole
    folded text."""
    parts = split_name(name)
    first, last = _fold(parts.first), _fold(parts.last)
    return (first, last) if first and last else ("", " ".join(_fold(name).split()))


def _add(values: list[str], value: str | None) -> None:
    value = (value or "").strip()
    if value and value not in values:
        values.append(value)


@dataclass(frozen=True)
class _Mention:
    """One place the study names a person, with the contact details and position given there."""

    name: str
    role: str
    source: str  # the model path: "officials[1]", "contacts[2]", "responsible_party"
    phone: str | None = None
    phone_ext: str | None = None
    email: str | None = None
    affiliation: str | None = None
    title: str | None = None


def _person_mention(person: Person, role: str, source: str) -> _Mention:
    return _Mention(
        person.name,
        role,
        source,
        phone=person.phone,
        phone_ext=person.phone_ext,
        email=person.email,
        affiliation=person.affiliation,
    )


def _responsible_person(rp: ResponsibleParty | None) -> _Mention | None:
    """The responsible party when it is a person: an investigator, or a party named the pre-2011
    way (by name/title and organisation, without a type)."""
    if rp is None:
        return None
    if rp.type in ("PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR") and (rp.investigator_name or "").strip():
        return _Mention(
            rp.investigator_name or "",
            rp.type,
            "responsible_party",
            affiliation=rp.investigator_affiliation,
            title=rp.investigator_title,
        )
    if rp.type is None and (rp.old_name_title or "").strip():
        return _Mention(
            rp.old_name_title or "", "responsible-party", "responsible_party", affiliation=rp.old_organization
        )
    return None


def _mentions(study: Study) -> list[_Mention]:
    """Every person the study names, in the order parties are first seen: officials, central
    contacts, then the responsible party."""
    mentions = [
        _person_mention(official, official.role or "official", f"officials[{n}]")
        for n, official in enumerate(study.officials, 1)
    ]
    mentions += [
        _person_mention(contact, "recruitment-contact", f"contacts[{n}]")
        for n, contact in enumerate(study.contacts, 1)
    ]
    responsible = _responsible_person(study.responsible_party)
    return [*mentions, responsible] if responsible else mentions


def _merge(party: Party, mention: _Mention) -> None:
    """Add what one mention says to its party: each value once, first-seen first."""
    _add(party.names, mention.name)
    if mention.role not in party.roles:
        party.roles.append(mention.role)
    party.sources.append(mention.source)
    _add(party.phones, mention.phone)
    phone, extension = (mention.phone or "").strip(), (mention.phone_ext or "").strip()
    if phone and extension:
        party.phone_extensions.setdefault(phone, extension)
    _add(party.emails, mention.email)
    _add(party.affiliations, mention.affiliation)
    _add(party.titles, mention.title)


def _same_person(party: Party) -> Issue:
    return Issue(
        severity="information",
        code="assumed-same-person",
        field=party.sources[0].split("[")[0],
        message=(
            f"{', '.join(repr(n) for n in party.names)} ({', '.join(party.sources)}) "
            "read as one person: same first and last name"
        ),
    )


def parties(study: Study) -> tuple[list[Party], list[Issue]]:
    """The study's people — officials, central contacts, an investigator responsible party (or
    one named the pre-2011 way) — merged by name, in first-seen order; one
    ``assumed-same-person`` issue per merge."""
    found: dict[tuple[str, str], Party] = {}
    for mention in _mentions(study):
        if mention.name.strip():
            key = person_key(mention.name)
            _merge(found.setdefault(key, Party(key)), mention)
    for party in found.values():
        party.roles.sort(key=ROLE_ORDER.index)
    return list(found.values()), [_same_person(party) for party in found.values() if len(party.sources) > 1]


# --- MeSH -----------------------------------------------------------------------------------------

# HL7 terminology's CodeSystem "MeSH" (OID 2.16.840.1.113883.6.177) has this canonical URL.
MESH_SYSTEM = "https://www.nlm.nih.gov/mesh"
# MeSH unique identifiers were seven characters (D + 6 digits) until NLM lengthened new ones to
# ten (D + 9 digits) in 2014, continuing the same numbering and leaving existing ids unchanged
# (NLM Technical Bulletin 2013 Mar-Apr, "MeSH Unique Identifiers: Length Expanding to Ten
# Characters"). ClinicalTrials.gov's API v2 writes every id in ten (D001943 as D000001943), so a
# ten-character id is the seven-character one when its number is one MeSH gave in seven. The
# last numbers MeSH gave in seven characters, as far as observed: descriptors up to D066329
# (Protein Aggregates), supplementary concepts up to C582435 (pembrolizumab); the first observed
# in ten are D000066908 (Simulation Training) and C000606551 (remdesivir). A padded number above
# these limits is written as the registry gives it: in the few hundred numbers between the
# observations it cannot be told which form MeSH uses.
_MESH_SEVEN_CHARACTER_LAST = {"D": 66_329, "C": 582_435}
_PADDED_MESH_ID = re.compile(r"([CD])000(\d{6})")


@lru_cache(maxsize=8192)
def mesh_code(registry_id: str | None) -> str | None:
    """The MeSH unique identifier of an id as ClinicalTrials.gov writes it: D000001943 -> D001943
    (padded seven-character ids unpadded), D000068818 unchanged (a ten-character id)."""
    if not registry_id or not registry_id.strip():
        return None
    code = registry_id.strip().upper()
    padded = _PADDED_MESH_ID.fullmatch(code)
    if padded and int(padded[2]) <= _MESH_SEVEN_CHARACTER_LAST[padded[1]]:
        return padded[1] + padded[2]
    return code


@dataclass(frozen=True)
class MeshHeading:
    """A MeSH heading as a Coding carries it: ``code`` the MeSH id (None where the source has the
    term only: legacy XML), ``display`` the heading."""

    display: str
    code: str | None


@dataclass(frozen=True)
class Coded:
    """A source text and the MeSH heading it is, word for word (None when it is none)."""

    text: str
    mesh: MeshHeading | None


@dataclass(frozen=True)
class MeshIndex:
    """The registry's MeSH indexing of a study (``Study.condition_browse`` /
    ``intervention_browse``) laid over the source's own texts.

    ``conditions`` and ``interventions`` follow the source's lists (an intervention is its
    heading when its name or one of its other names is); ``condition_headings`` and
    ``intervention_headings`` are the headings no source text is; ``ancestors`` the headings above
    them in the MeSH tree (conditions' first), each once."""

    conditions: list[Coded]
    interventions: list[Coded]
    condition_headings: list[MeshHeading]
    intervention_headings: list[MeshHeading]
    ancestors: list[MeshHeading]


def _match_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _heading(term: MeshTerm) -> MeshHeading:
    return MeshHeading(display=term.term, code=mesh_code(term.id))


def _distinct(terms: list[MeshTerm]) -> dict[tuple[str, str], MeshHeading]:
    """The distinct headings of ``terms``, keyed by (code, match key of the text), first-seen
    first: the key is kept, so a caller asking about the text does not fold it again."""
    seen: dict[tuple[str, str], MeshHeading] = {}
    for term in terms:
        code = mesh_code(term.id)
        key = (code or "", _match_key(term.term))
        if key not in seen:
            seen[key] = MeshHeading(display=term.term, code=code)
    return seen


def mesh_index(study: Study) -> MeshIndex:
    """Which condition and intervention is which registry heading (MeshIndex); an intervention
    without a name is written nowhere on its own, so it claims no heading."""

    def headings(browse: Browse | None) -> dict[str, MeshHeading]:
        found: dict[str, MeshHeading] = {}
        for term in browse.meshes if browse else []:
            key = _match_key(term.term)
            if key not in found:
                found[key] = _heading(term)
        return found

    by_condition = headings(study.condition_browse)
    by_intervention = headings(study.intervention_browse)
    conditions = [Coded(text, by_condition.get(_match_key(text))) for text in study.conditions]
    interventions = []
    for intervention in study.interventions:
        names = [n for n in (intervention.name, *intervention.other_names) if n] if intervention.name else []
        mesh = next((by_intervention[_match_key(n)] for n in names if _match_key(n) in by_intervention), None)
        interventions.append(Coded(intervention.name or "", mesh))
    used = {id(c.mesh) for c in conditions + interventions if c.mesh is not None}
    headed = by_condition.keys() | by_intervention.keys()
    ancestors = [
        *(study.condition_browse.ancestors if study.condition_browse else []),
        *(study.intervention_browse.ancestors if study.intervention_browse else []),
    ]
    return MeshIndex(
        conditions=conditions,
        interventions=interventions,
        condition_headings=[h for h in by_condition.values() if id(h) not in used],
        intervention_headings=[h for h in by_intervention.values() if id(h) not in used],
        # a heading that is also another's ancestor is written once, as a heading
        ancestors=[a for (_, text), a in _distinct(ancestors).items() if text not in headed],
    )


# --- provenance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What the resources were transformed from, and with what (cited in relatedArtifact)."""

    url: str | None  # the registry record, for a study with an NCT id
    name: str  # the input as given to the run (relative path or file name)
    tool: str
    version: str


def source_of(study: Study) -> Source:
    nct = study.nct_id
    return Source(
        url=REGISTRY_RECORD_URL.format(nct_id=nct) if nct else None,
        name=study.provenance.source,
        tool="trialexport",
        version=trialexport_version(),
    )


def build_context(study: Study, settings: MappingSettings) -> dict:
    ident = business_identifier(study, settings)
    links, link_issues = arm_links(study)
    people, people_issues = parties(study)
    return {
        "study": study,
        "identifier": ident,
        "identifiers": identifier_views(study, ident, settings),
        "ids": ResourceIds.of(ident),
        "settings": settings,
        "nct_system": settings.nct_identifier_system,
        "countries": countries(study),
        "country_code": country_code,
        # numbered loops over many items (a registry record's thousand sites): a plain Python loop,
        # where Jinja's `loop.index` builds a loop object each item
        "enumerate": enumerate,
        "links": links,
        "parties": people,
        "mesh": mesh_index(study),
        "source": source_of(study),
        "assumptions": link_issues + people_issues,
    }
