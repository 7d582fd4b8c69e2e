"""Layout A: a ClinicalTrials.gov CSV export row written one field a line.

Line 1 title, 2 brief summary, 3 conditions (``|``-joined), 4 interventions (``TYPE: name``,
``|``-joined), 5 primary outcomes, 6 secondary outcomes, then the detailed description (which
may span several lines and paragraphs). An empty line is an empty field.
"""

from __future__ import annotations

import re

from mappers.model import Intervention
from mappers.readers.base import Draft, Reader
from mappers.readers.fields import (
    looks_like_interventions,
    parse_intervention_item,
    record_outcomes,
    split_list,
)
from mappers.readers.free_text import arms_from_dose_groups, local_identifier
from mappers.readers.outcome_cell import reads_as_time, split_outcome

# What the first lines of a code file, markup or a list look like; a title does not open so.
_NOT_A_TITLE = re.compile(
    r"^(?:[#/*<>{}\[\]=$@%`|\\-]|(?:import|from|def|class|return|package|use|var|let|const)\b)"
    r"|^[^A-Za-z]*$"
)
# What an outcome cell does not hold: links, markup, code.
_NOT_AN_OUTCOME = re.compile(r"https?://|\]\(|`|[{}<>]|;\s*$")
# Characters that do not occur in the name of a condition.
_NOT_A_CONDITION = re.compile(r"[{}<>=;#$`\\\t]|^\W|\.\s|\.$")


def _field_lines(lines: list[str]) -> list[str]:
    return [(lines[n] if n < len(lines) else "") for n in range(6)]


def _evidence(lines: list[str]) -> str | None:
    """None when the text (its first seven lines are enough) is a CSV row written one field a
    line, else what is missing.

    Only positive evidence counts: an intervention line of ``TYPE: name`` items with
    ClinicalTrials.gov intervention types, or outcome cells ending in a time frame, or (a study
    with neither, as registry records without interventions and outcomes are) all six field
    lines, with a title of three words or more, a summary of fifteen or more, and a conditions
    line of capitalised names before the empty fields. A field that is
    there must be what it is: a title first, interventions on line 4."""
    title, summary, conditions, interventions, primary, secondary = _field_lines(lines)
    if not title.strip() or len(title) > 300 or title != title.strip() or _NOT_A_TITLE.match(title):
        return "line 1 is not a title"
    if interventions.strip() and not looks_like_interventions(interventions):
        return "line 4 is not an intervention list ('TYPE: name' with a ClinicalTrials.gov intervention type)"
    if not summary.strip():
        return "line 2 (the brief summary) is empty"
    if interventions.strip() or _has_timed_outcomes(primary) or _has_timed_outcomes(secondary):
        return None
    if (
        len(lines) >= 6
        and not primary.strip()
        and not secondary.strip()
        and _looks_like_conditions(conditions)
        and len(title.split()) >= 3
        and len(summary.split()) >= 15
    ):
        return None
    return (
        "no intervention line ('TYPE: name'), no outcome cells ending in a time frame, and no "
        "conditions line among the six field lines of a CSV row"
    )


def _has_timed_outcomes(cell: str) -> bool:
    """An outcome cell of the row: an item ``measure[, description], time frame`` whose time
    frame reads as a time, in a line that is not indented code."""
    if not cell.strip() or cell != cell.lstrip():
        return False
    for item in split_list(cell):
        parts = split_outcome(item)
        if (
            parts.time_frame
            and parts.measure
            and len(parts.time_frame.split()) <= 20
            and reads_as_time(parts.time_frame)
            and not _NOT_AN_OUTCOME.search(item)
        ):
            return True
    return False


def _looks_like_conditions(cell: str) -> bool:
    """Conditions as the registry names them: short capitalised names, ``|``-joined."""
    items = [i.strip() for i in cell.split("|")]
    return (
        cell == cell.strip()
        and all(
            0 < len(i) <= 150 and len(i.split()) <= 12 and (i[0].isupper() or i[0].isdigit()) for i in items
        )
        and not any(_NOT_A_CONDITION.search(i) for i in items)
    )


class TextA(Reader):
    layout = "text-a"

    def recognises(self, text: str) -> bool:
        return _evidence(text.split("\n", 6)) is None

    def missing(self, text: str) -> str:
        return f"{self.layout} (CSV row, a field a line): {_evidence(text.split(chr(10), 6))}"

    def read(self, text: str, source: str) -> list[Draft]:
        lines = text.split("\n")
        line = lambda n: lines[n - 1].strip() if len(lines) >= n else ""  # noqa: E731
        draft = Draft()
        local_identifier(draft, source)
        draft.put("brief_title", line(1), "line 1")
        draft.put("brief_summary", line(2), "line 2")
        draft.put("conditions", split_list(line(3)), "line 3")
        interventions = []
        for item in split_list(line(4)):
            parsed = parse_intervention_item(item)
            if parsed:
                interventions.append(Intervention(type=parsed[0], name=parsed[1]))
            else:  # recognises() accepted the line, so this is a single odd item: keep its text
                interventions.append(Intervention(name=item))
                draft.note(
                    "warning",
                    "intervention-type-unknown",
                    f"no known type in '{item}'",
                    field="interventions",
                    where="line 4",
                )
        draft.put("interventions", interventions, "line 4")
        outcomes = record_outcomes([(line(5), "primary"), (line(6), "secondary")])
        draft.put("outcomes", outcomes, "lines 5-6")
        description = "\n".join(lines[6:]).strip()
        draft.put("detailed_description", description, f"lines 7-{len(lines)}")
        if not draft.values.get("brief_title"):
            draft.note("warning", "missing-title", "the source has no title", field="brief_title")
        arms_from_dose_groups(draft)
        return [draft]
