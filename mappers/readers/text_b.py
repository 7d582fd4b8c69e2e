"""Layout B: the text of a registry web page, as copied from a browser.

It opens with the brief summary and the detailed description (no title), then a labelled design
block (``Study Type`` / value, ``Allocation`` / value, … ``Enrollment`` / value), then unlabelled
lines: intervention descriptions, the overall official, sites as ``City, Country``, and finally
outcomes as ``measure`` / ``description`` / ``Time frame: …`` triples, closed by the site's
disclaimer. Values carry markdown escapes (``NON\\_RANDOMIZED``), removed here.

Which unlabelled line is what is decided by its shape (a place, a name); which outcomes are
primary is not stated at all: see ``_OUTCOME_RULE``. Both are recorded on the study.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import get_args

from mappers.model import Allocation, Intervention, Masking, Outcome, Person, PrimaryPurpose, Site, StudyType
from mappers.readers.base import Draft, Reader
from mappers.readers.free_text import arms_from_dose_groups, local_identifier
from mappers.readers.outcome_cell import reads_as_time
from mappers.readers.places import looks_like_person, split_place
from mappers.text import parse_count, unescape_markdown

# label on the page -> (model path, the registry codes it allows; None: a count, not a code)
_LABELS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "Study Type": ("study_type", get_args(StudyType)),
    "Allocation": ("allocation", get_args(Allocation)),
    "Purpose": ("primary_purpose", get_args(PrimaryPurpose)),
    "Primary Purpose": ("primary_purpose", get_args(PrimaryPurpose)),
    "Masking": ("masking", get_args(Masking)),
    "Enrollment": ("enrollment", None),
}
_TIME_FRAME = re.compile(r"^Time frame:\s*(.*)$", re.I)
_DISCLAIMER = re.compile(r"informational purposes only|does not constitute medical advice", re.I)
_OUTCOME_RULE = (
    "the page does not say which outcomes are primary: the first listed is read as primary and "
    "the rest as secondary (the registry lists primary outcomes first)"
)


def _design_labels(lines: list[str]) -> set[str]:
    """The design labels that stand on a line of their own with a registry value under them."""
    found = set()
    for label, value in pairwise(lines):
        if label not in _LABELS:
            continue
        allowed, value = _LABELS[label][1], unescape_markdown(value)
        if allowed is None:
            valid = parse_count(value) is not None
        else:
            valid = value.upper().replace(" ", "_").replace("-", "_") in allowed
        if valid:
            found.add(label)
    return found


def _has_time_frame_lines(lines: list[str]) -> bool:
    for previous, line in pairwise(lines):
        match = _TIME_FRAME.match(line)
        if match and previous and not _TIME_FRAME.match(previous) and reads_as_time(match.group(1)):
            return True
    return False


class TextB(Reader):
    layout = "text-b"

    def recognises(self, text: str) -> bool:
        """Only on the page's own evidence: a labelled design block whose values are registry
        codes (a study type, or two of its labels), or ``Time frame:`` lines that hold a time
        under an outcome line. A stray "Purpose" heading or "Time frame: TBD" is not one."""
        lines = [ln.strip() for ln in text.split("\n")]
        design = _design_labels(lines)
        return "Study Type" in design or len(design) >= 2 or _has_time_frame_lines(lines)

    def missing(self, text: str) -> str:
        return (
            f"{self.layout} (registry page): no labelled design block (Study Type, Allocation, "
            "Purpose, Masking, Enrollment with registry values), no 'Time frame:' lines under outcomes"
        )

    def read(self, text: str, source: str) -> list[Draft]:
        lines = [unescape_markdown(ln).strip() for ln in text.split("\n")]
        draft = Draft()
        local_identifier(draft, source)
        end = len(lines)
        while end and not lines[end - 1]:
            end -= 1
        if end and _DISCLAIMER.search(lines[end - 1]):
            end -= 1
            draft.note(
                "information",
                "disclaimer-dropped",
                "the page's disclaimer line is not study data",
                where=f"line {end + 1}",
            )
        block = [i for i, ln in enumerate(lines[:end]) if ln in _LABELS and i + 1 < end]
        head_end = block[0] if block else 0
        body_start = self._read_design(draft, lines, block)
        self._read_head(draft, lines[:head_end])
        first_outcome = self._read_outcomes(draft, lines, body_start, end)
        self._read_middle(draft, lines, body_start, first_outcome)
        draft.note("warning", "missing-title", "the source has no title", field="brief_title")
        arms_from_dose_groups(draft)
        return [draft]

    def _read_head(self, draft: Draft, head: list[str]) -> None:
        if head:
            draft.put("brief_summary", head[0], "line 1")
        description = "\n\n".join(ln for ln in head[1:] if ln)
        draft.put("detailed_description", description, f"lines 2-{len(head)}" if len(head) > 2 else "line 2")

    def _read_design(self, draft: Draft, lines: list[str], block: list[int]) -> int:
        design: dict = {}
        body_start = 0
        for i in block:
            if i < body_start:
                continue  # a value that happens to equal a label
            label, value, where = lines[i], lines[i + 1], f"line {i + 2}"
            body_start = i + 2
            field, allowed = _LABELS[label]
            if allowed is None:
                if parse_count(value) is not None:
                    draft.put("enrollment", {"count": parse_count(value)}, where)
                else:
                    draft.note(
                        "warning",
                        "value-unreadable",
                        f"enrollment '{value}' is not a number",
                        field="enrollment",
                        where=where,
                    )
                continue
            code = value.upper().replace(" ", "_").replace("-", "_")
            if code in allowed:
                design[field] = code
                draft.sources[f"design.{field}"] = where
            else:
                draft.note(
                    "warning",
                    "value-unknown",
                    f"{label} '{value}' is not a registry code",
                    field=f"design.{field}",
                    where=where,
                )
        draft.put("design", design, "design block")
        return body_start

    def _read_outcomes(self, draft: Draft, lines: list[str], start: int, end: int) -> int:
        frames = [(i, match) for i in range(start, end) if (match := _TIME_FRAME.match(lines[i]))]
        outcomes: list[Outcome] = []
        first, previous = end, start - 1  # previous: the last time-frame line
        for k, (i, time_frame) in enumerate(frames):
            measure_at = max(i - 2, previous + 1)
            if k == 0:
                first = measure_at
            measure = lines[measure_at]
            description = lines[i - 1] if i - 1 > measure_at else None
            if description == measure:  # the page repeats the measure where there is no description
                description = None
            outcomes.append(
                Outcome(
                    kind="primary" if k == 0 else "secondary",
                    measure=measure,
                    description=description or None,
                    time_frame=time_frame.group(1).strip() or None,
                )
            )
            previous = i
        if outcomes:
            draft.put("outcomes", outcomes, f"lines {first + 1}-{frames[-1][0] + 1}")
            draft.note("warning", "assumed-outcome-kind", _OUTCOME_RULE, field="outcomes")
        return first

    def _read_middle(self, draft: Draft, lines: list[str], start: int, end: int) -> None:
        middle = [(i, ln) for i, ln in enumerate(lines[start:end], start) if ln]
        sites: list[Site] = []
        while middle and (place := split_place(middle[-1][1])):
            city, state, country = place
            sites.insert(0, Site(city=city, state=state, country=country))
            middle.pop()
        if sites:
            draft.put("sites", sites, f"lines {middle[-1][0] + 2 if middle else start + 1}-{end}")
        if middle and looks_like_person(middle[-1][1]):
            i, name = middle.pop()
            draft.put("officials", [Person(name=name)], f"line {i + 1}")
            draft.note(
                "information",
                "assumed-official",
                f"'{name}' read as the overall official: it has the shape of a name; its role is not stated",
                field="officials",
                where=f"line {i + 1}",
            )
        if middle:
            draft.put(
                "interventions",
                [Intervention(description=ln) for _, ln in middle],
                f"lines {middle[0][0] + 1}-{middle[-1][0] + 1}",
            )
