"""Layout A: a ClinicalTrials.gov CSV export row written one field a line.

Line 1 title, 2 brief summary, 3 conditions (``|``-joined), 4 interventions (``TYPE: name``,
``|``-joined), 5 primary outcomes, 6 secondary outcomes, then the detailed description (which
may span several lines and paragraphs). An empty line is an empty field.
"""

from __future__ import annotations

from mappers.model import Intervention
from mappers.readers.base import Draft, Reader
from mappers.readers.fields import (
    looks_like_interventions,
    parse_intervention_item,
    parse_outcomes,
    split_list,
)
from mappers.readers.free_text import arms_from_dose_groups, local_identifier
from mappers.readers.text_b import TextB


class TextA(Reader):
    layout = "text-a"

    def recognises(self, text: str) -> bool:
        lines = text.split("\n")
        if len([ln for ln in lines if ln.strip()]) < 2 or TextB().recognises(text):
            return False
        if len(lines[0]) > 500 or not lines[0].strip():
            return False  # line 1 is a title: present and short
        return len(lines) < 4 or not lines[3].strip() or looks_like_interventions(lines[3])

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
        outcomes = parse_outcomes(line(5), "primary") + parse_outcomes(line(6), "secondary")
        draft.put("outcomes", outcomes, "lines 5-6")
        description = "\n".join(lines[6:]).strip()
        draft.put("detailed_description", description, f"lines 7-{len(lines)}")
        if not draft.values.get("brief_title"):
            draft.note("warning", "missing-title", "the source has no title", field="brief_title")
        arms_from_dose_groups(draft)
        return [draft]
