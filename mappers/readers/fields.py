"""Field parsers shared by every reader of ClinicalTrials.gov-shaped text.

Seed layout A writes a CSV export row one field a line, so its outcome, intervention and
condition fields are exactly the CSV's cells: these parsers serve both.

The hard one is the outcome cell: ``measure, description, time frame`` joined by ``, `` with no
escaping, although all three parts may themselves contain commas, and the description may be
absent (``measure, time frame``). The split is made on commas outside brackets and decided by
what the pieces look like: the time frame is the longest run of trailing pieces that read as
time expressions; the measure is the first piece plus any Title-Case or numeric continuations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mappers.model import InterventionType, Outcome, OutcomeKind
from mappers.readers.places import is_country, is_subdivision

_TIME_WORD = re.compile(
    r"\b(second|minute|hour|day|week|month|year|wk|mo|yr|hr|cycle|visit|baseline|follow[- ]?up|"
    r"completion|discharge|infusion|dose|dosing|screening|enrol?lment|randomi[sz]ation|admission|"
    r"surgery|treatment|period|phase|end|time|date|months?|daily|annual(ly)?|pre|post)s?\b",
    re.IGNORECASE,
)
# Openings that make a piece a time expression on their own ("From baseline to …", "Week 12")…
_TIME_START = re.compile(
    r"^(up to|through|thru|from|baseline|pre|post|prior to|before|after|during|until|till|within|"
    r"at (the )?(end|start|time|day|week|month|year|baseline|visit|cycle)|on day|by (day|week|month)|"
    r"day|days|week|weeks|wk|month|months|year|years|hour|hours|cycle|visit|screening|"
    r"end of|the (first|last|end)|"
    r"\d+(\.\d+)?[- ]?(second|minute|hour|day|week|month|year|wk|mo|yr|hr|cycle)s?)\b",
    re.IGNORECASE,
)
# …and openings that only continue one ("and 12 months", "approximately 5 years").
_TIME_CONTINUATION = re.compile(
    r"^(and|or|then|approximately|approx|about|each|every|one|two|three|four|five|six|seven|eight|"
    r"nine|ten|twelve|\d)\b",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"^(and |or )?[\d.,;:%\-–x ]+$", re.IGNORECASE)


def split_top_level(text: str, sep: str = ", ") -> list[str]:
    """Split on ``sep`` outside (), [] and {}; unbalanced brackets never swallow the rest.

    Jumps from bracket to separator with one regex instead of walking every character: CSV
    exports hold thousands of outcome cells, and this split is most of their parsing."""
    parts, depth, start = [], 0, 0
    for match in re.finditer(r"[(\[{]|[)\]}]|" + re.escape(sep), text):
        token = match.group()
        if token in "([{" and len(token) == 1:
            depth += 1
        elif token in ")]}" and len(token) == 1:
            depth = max(0, depth - 1)
        elif depth == 0 and match.start() >= start:
            parts.append(text[start : match.start()])
            start = match.end()
    parts.append(text[start:])
    if depth and len(parts) == 1 and sep in text:  # an unclosed bracket: fall back to plain split
        return text.split(sep)
    return parts


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'\-]*", text)


def _is_title_case(text: str) -> bool:
    long_words = [w for w in _words(text) if len(w) > 3]
    if not long_words:
        return False
    return sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.7


def _is_title_heading(piece: str) -> bool:
    """A Title-Case piece that is a heading, not a sentence (sentences have verbs like "is")."""
    return (
        _is_title_case(piece)
        and len(piece.split()) <= 12
        and not re.search(r"\b(is|are|was|were|will|be|been|has|have)\b", piece)
    )


def _is_time_piece(piece: str) -> bool:
    piece = piece.strip()
    if _NUMERIC.match(piece):
        return True
    if piece.endswith(".") and not re.search(r"\b(approx|e\.g|i\.e|etc|wk|mo|yr|vs)\.$", piece, re.I):
        return False
    words = len(piece.split())
    has_time_word = bool(_TIME_WORD.search(piece))
    if _TIME_START.match(piece):
        return words <= 25
    if _TIME_CONTINUATION.match(piece):
        return has_time_word and words <= 12
    return has_time_word and words <= 6


def _is_continuation(piece: str) -> bool:
    return bool(_NUMERIC.match(piece.strip()))


@dataclass(frozen=True)
class OutcomeParts:
    measure: str
    description: str | None
    time_frame: str | None


def split_outcome(cell: str) -> OutcomeParts:
    pieces = [p for p in split_top_level(cell.strip()) if p.strip()]
    if len(pieces) == 1:
        return OutcomeParts(pieces[0].strip(), None, None)
    # time frame: the last piece, extended leftwards while the pieces read as time expressions,
    # always leaving the first piece for the measure.
    cut = len(pieces) - 1
    while cut > 1 and _is_time_piece(pieces[cut - 1]):
        cut -= 1
    head, time_frame = pieces[:cut], ", ".join(pieces[cut:])
    # measure: first piece plus Title-Case or numeric continuations, leaving one for the description.
    end = 1
    while end < len(head) - 1 and (
        _is_continuation(head[end]) or (_is_title_case(head[0]) and _is_title_heading(head[end]))
    ):
        end += 1
    measure = ", ".join(head[:end])
    description = ", ".join(head[end:]) or None
    return OutcomeParts(measure.strip(), description and description.strip(), time_frame.strip())


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
