"""Field parsers shared by every reader of ClinicalTrials.gov-shaped text.

Seed layout A writes a CSV export row one field a line, so its outcome, intervention and
condition fields are exactly the CSV's cells: these parsers serve both.

The hard one is the outcome cell (``measure, description, time frame`` joined by ``, `` with no
escaping): ``outcome_cell`` splits it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mappers.model import InterventionType, Outcome, OutcomeKind
from mappers.readers.outcome_cell import OutcomeParts, one_piece, split_outcome, split_top_level
from mappers.readers.places import PlaceParts, parse_location  # noqa: F401 (the CSV cells' parsers, in one place)


def parse_outcomes(cell: str, kind: OutcomeKind, whole: bool = False) -> list[Outcome]:
    """A ``|``-joined outcome cell -> outcomes of one kind; ``whole``: each item is its measure,
    not split (``record_outcomes`` says when)."""
    outcomes = []
    for item in cell.split("|"):
        if not item.strip():
            continue
        parts = read_outcome(item, whole)
        outcomes.append(
            Outcome(
                kind=kind, measure=parts.measure, description=parts.description, time_frame=parts.time_frame
            )
        )
    return outcomes


def read_outcome(item: str, whole: bool = False) -> OutcomeParts:
    """One outcome of a cell: split into its parts, or, ``whole``, its measure alone."""
    return OutcomeParts(item.strip(), None, None) if whole else split_outcome(item)


def untimed_record(cells: Iterable[str]) -> bool:
    """Whether a record's outcome cells (``|``-joined) hold an outcome of one piece, a measure
    alone: a registration older than ClinicalTrials.gov's time-frame field (2007) never
    restructured, whose outcomes are each one text (``outcome_cell.one_piece``). In the
    evaluation set's development part, 32 of the 33 outcomes of such records have neither time
    frame nor description; split, their commas were taken for parts."""
    return any(one_piece(item) for cell in cells for item in cell.split("|") if item.strip())


def record_outcomes(cells: Iterable[tuple[str, OutcomeKind]]) -> list[Outcome]:
    """A record's outcome cells, one per kind: each split (``parse_outcomes``), or, in an
    ``untimed_record``, each outcome kept whole as its measure."""
    cells = list(cells)
    whole = untimed_record(cell for cell, _ in cells)
    return [outcome for cell, kind in cells for outcome in parse_outcomes(cell, kind, whole)]


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
