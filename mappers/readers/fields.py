"""Field parsers shared by every reader of ClinicalTrials.gov-shaped text.

Seed layout A writes a CSV export row one field a line, so its outcome, intervention and
condition fields are exactly the CSV's cells: these parsers serve both.

The hard one is the outcome cell (``measure, description, time frame`` joined by ``, `` with no
escaping): ``outcome_cell`` splits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mappers.model import InterventionType, Outcome, OutcomeKind
from mappers.readers.outcome_cell import split_outcome, split_top_level
from mappers.readers.places import is_country, is_subdivision


def parse_outcomes(cell: str, kind: OutcomeKind) -> list[Outcome]:
    """A ``|``-joined outcome cell -> outcomes of one kind."""
    outcomes = []
    for item in cell.split("|"):
        if not item.strip():
            continue
        parts = split_outcome(item)
        outcomes.append(
            Outcome(
                kind=kind, measure=parts.measure, description=parts.description, time_frame=parts.time_frame
            )
        )
    return outcomes


_INTERVENTION_TYPES: dict[str, InterventionType] = {
    "BEHAVIORAL": "BEHAVIORAL",
    "BIOLOGICAL": "BIOLOGICAL",
    "COMBINATION_PRODUCT": "COMBINATION_PRODUCT",
    "DEVICE": "DEVICE",
    "DIAGNOSTIC_TEST": "DIAGNOSTIC_TEST",
    "DIETARY_SUPPLEMENT": "DIETARY_SUPPLEMENT",
    "DRUG": "DRUG",
    "GENETIC": "GENETIC",
    "PROCEDURE": "PROCEDURE",
    "RADIATION": "RADIATION",
    "OTHER": "OTHER",
    # the legacy export's spellings
    "BIOLOGICAL/VACCINE": "BIOLOGICAL",
    "PROCEDURE/SURGERY": "PROCEDURE",
    "RADIATION THERAPY": "RADIATION",
    "COMBINATION PRODUCT": "COMBINATION_PRODUCT",
    "DIAGNOSTIC TEST": "DIAGNOSTIC_TEST",
    "DIETARY SUPPLEMENT": "DIETARY_SUPPLEMENT",
}
_INTERVENTION_ITEM = re.compile(r"^\s*([A-Za-z][A-Za-z_/ ]*?)\s*:\s*(.+)$")


def intervention_type(word: str) -> InterventionType | None:
    return _INTERVENTION_TYPES.get(word.strip().upper().replace("-", "_"))


def parse_intervention_item(item: str) -> tuple[InterventionType, str] | None:
    """``DRUG: aspirin`` -> ("DRUG", "aspirin"); None when the item has no known type prefix."""
    match = _INTERVENTION_ITEM.match(item)
    if not match:
        return None
    itype = intervention_type(match.group(1))
    return (itype, match.group(2).strip()) if itype else None


def looks_like_interventions(cell: str) -> bool:
    items = [i for i in cell.split("|") if i.strip()]
    return bool(items) and all(parse_intervention_item(i) for i in items)


def split_list(cell: str) -> list[str]:
    return [item.strip() for item in cell.split("|") if item.strip()]


def parse_design(cell: str) -> dict[str, str]:
    """``Allocation: X | Intervention Model: Y | Masking: Z (…)`` -> {"allocation": "X", …}.

    The CSV exports join the items with ``|`` (current) or ``|`` without spaces (legacy); the
    2016-era XML ``study_design`` joins them with ``, `` and has commas inside the masking's
    brackets, hence the bracket-aware split when there is no ``|``."""
    items = cell.split("|") if "|" in cell else split_top_level(cell)
    design = {}
    for item in items:
        key, sep, value = item.partition(":")
        if sep and value.strip():
            design[re.sub(r"\s+", "_", key.strip().lower())] = value.strip()
    return design


@dataclass(frozen=True)
class PlaceParts:
    facility: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None


def parse_location(item: str) -> PlaceParts:
    """``Facility, City, State, Zip, Country`` (state and zip optional; facility may hold
    commas) -> parts, read from the right: the country (a known name, commas allowed), a zip
    (has a digit), a state when the piece is a subdivision of that country, then the city; what
    is left is the facility."""
    pieces = [p.strip() for p in item.split(",") if p.strip()]
    country = None
    for width in (2, 1):
        if len(pieces) > width and is_country(", ".join(pieces[-width:])):
            country, pieces = ", ".join(pieces[-width:]), pieces[:-width]
            break
    if country is None and len(pieces) > 1:
        country, pieces = pieces[-1], pieces[:-1]
    zip_code = pieces.pop() if len(pieces) > 1 and re.search(r"\d", pieces[-1]) else None
    state = pieces.pop() if len(pieces) > 1 and country and is_subdivision(pieces[-1], country) else None
    city = pieces.pop() if pieces else None
    facility = ", ".join(pieces) or None
    return PlaceParts(facility, city, state, zip_code, country)
