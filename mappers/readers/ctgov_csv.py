"""ClinicalTrials.gov CSV exports: one row is one study.

Three shapes are in use, told apart by their header (never by file name):

- the current export (2023-): ``NCT Number, Study Title, …, Study Status, …`` with API v2 codes,
  all 30 default columns or any selection of them;
- the legacy export (classic site, pre-2023): ``Rank, NCT Number, Title, …, Status, …`` with
  display strings, ``Month D, YYYY`` dates, the word ``null`` for an empty cell, ages as
  ``18 Years to 70 Years (Adult, Older Adult)``, and all outcomes in one cell.

Cells hold newlines inside quotes, so the csv module reads them; rows are read one at a time
from the decoded text and each row is parsed on its own (per-row work is bounded by the row).
Outcome, intervention, design and location cells use the parsers shared with layout A
(``fields``). Assumptions (outcome kinds of the legacy export, the org study id being the first
Other ID) are issues on the study.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

from mappers.model import OutcomeKind
from mappers.readers.base import Draft, Reader, RejectedInput, RejectedRecord
from mappers.readers.ctgov_values import (
    agency_class,
    coded,
    iso_date,
    known_code,
    large_document,
    phases,
    results_not_mapped,
)
from mappers.readers.fields import (
    parse_design,
    parse_intervention_item,
    parse_location,
    record_outcomes,
    split_list,
)
from mappers.text import parse_count

# model field -> (current header, legacy header); None where that export has no such column
COLUMNS = {
    "nct": ("NCT Number", "NCT Number"),
    "brief_title": ("Study Title", "Title"),
    "acronym": ("Acronym", "Acronym"),
    "status": ("Study Status", "Status"),
    "brief_summary": ("Brief Summary", None),
    "results": ("Study Results", "Study Results"),
    "conditions": ("Conditions", "Conditions"),
    "interventions": ("Interventions", "Interventions"),
    "primary": ("Primary Outcome Measures", None),
    "secondary": ("Secondary Outcome Measures", None),
    "other": ("Other Outcome Measures", None),
    "outcomes": (None, "Outcome Measures"),
    "sponsor": ("Sponsor", None),
    "collaborators": ("Collaborators", None),
    "sponsors": (None, "Sponsor/Collaborators"),
    "funder": ("Funder Type", None),
    "sex": ("Sex", "Gender"),
    "age": (None, "Age"),
    "phases": ("Phases", "Phases"),
    "enrollment": ("Enrollment", "Enrollment"),
    "study_type": ("Study Type", "Study Type"),
    "design": ("Study Design", "Study Designs"),
    "other_ids": ("Other IDs", "Other IDs"),
    "start_date": ("Start Date", "Start Date"),
    "primary_completion_date": ("Primary Completion Date", "Primary Completion Date"),
    "completion_date": ("Completion Date", "Completion Date"),
    "study_first_post_date": ("First Posted", "First Posted"),
    "results_first_post_date": ("Results First Posted", "Results First Posted"),
    "last_update_post_date": ("Last Update Posted", "Last Update Posted"),
    "std_ages": ("Age", None),  # the current export's Age holds the standard age groups only
    "locations": ("Locations", "Locations"),
    "documents": ("Study Documents", "Study Documents"),
}
REQUIRED = ("nct", "brief_title", "status")
# Columns that, beside "NCT Number", make a header an export's (either export's title or status).
_RECOGNISED = {head for name in ("brief_title", "status") for head in COLUMNS[name] if head}
_DESIGN = ("allocation", "intervention_model", "primary_purpose", "masking")
_AGES = re.compile(r"^(?:(\d+ \w+) and older|up to (\d+ \w+)|(\d+ \w+) to (\d+ \w+))\b", re.I)


class CtgovCsv(Reader):
    layout = "ctgov-csv"

    def recognises(self, text: str) -> bool:
        """By the export's header: an ``NCT Number`` column and a title or status column of
        either export (a CSV that merely mentions NCT numbers is not an export)."""
        line = text[: text.find("\n")] if "\n" in text else text[:4096]
        if "NCT Number" not in line:
            return False
        try:
            header = {cell.strip() for cell in next(csv.reader([line]))}
        except csv.Error:
            return False
        return "NCT Number" in header and bool(header & _RECOGNISED)

    def missing(self, text: str) -> str:
        return f"{self.layout}: no export header (an 'NCT Number' column beside a title or status column)"

    def read(self, text: str, source: str) -> Iterable[Draft | RejectedRecord]:
        rows = csv.reader(io.StringIO(text))
        try:
            header = [h.strip() for h in next(rows)]
        except (StopIteration, csv.Error) as exc:
            raise RejectedInput(f"unreadable CSV header: {exc}") from exc
        legacy = 0 if {"Study Title", "Study Status", "Study URL"} & set(header) else 1
        columns = {
            name: header.index(head)
            for name, heads in COLUMNS.items()
            if (head := heads[legacy]) is not None and head in header
        }
        # every required column has a header in both exports
        missing = [head for name in REQUIRED if name not in columns and (head := COLUMNS[name][legacy])]
        if missing:
            kind = "legacy" if legacy else "current"
            raise RejectedInput(f"CSV export ({kind} layout) lacks required column(s): {', '.join(missing)}")
        return self._rows(rows, columns, bool(legacy))

    def _rows(self, rows, columns: dict[str, int], legacy: bool) -> Iterator[Draft | RejectedRecord]:
        """One draft per row, read as the rows come: a large export is never held whole."""
        count = 0
        try:
            for number, row in enumerate(rows, 2):
                if not any(cell.strip() for cell in row):
                    continue
                cells = {
                    name: cell
                    for name, index in columns.items()
                    if index < len(row) and (cell := row[index].strip()) and cell != "null"
                }
                count += 1
                yield read_row(cells, number, legacy)
        except csv.Error as exc:
            raise RejectedInput(f"malformed CSV at line {rows.line_num}: {exc}") from exc
        if not count:
            raise RejectedInput("the CSV export has a header but no rows")


def read_row(cells: dict[str, str], number: int, legacy: bool) -> Draft:
    draft = Draft()

    def at(name: str) -> str:
        """Where a value was read: the row and its column (the row alone for absent columns)."""
        return f"row {number}, {COLUMNS[name][legacy]}" if name in cells else f"row {number}"

    _identifiers(draft, cells, at)
    for name in ("brief_title", "acronym", "brief_summary"):
        draft.put(name, cells.get(name), at(name))
    draft.put("conditions", split_list(cells.get("conditions", "")), at("conditions"))
    interventions = []
    for item in split_list(cells.get("interventions", "")):
        parsed = parse_intervention_item(item)
        interventions.append({"type": parsed[0], "name": parsed[1]} if parsed else {"name": item})
    draft.put("interventions", interventions, at("interventions"))
    _outcomes(draft, cells, at, legacy)
    _status(draft, cells, at)
    _design(draft, cells, at)
    _organisations(draft, cells, at)
    _eligibility(draft, cells, at)
    sites = []
    for item in split_list(cells.get("locations", "")):
        sites.append(vars(parse_location(item)))
    draft.put("sites", sites, at("locations"))
    documents = []  # the registry's uploaded documents: "label, address" (ctgov_values.large_document)
    for item in split_list(cells.get("documents", "")):
        label, _, url = item.rpartition(", ")
        if url.startswith("http"):
            documents.append(large_document(label.strip('" '), url))
    draft.put("large_docs", documents, at("documents"))
    if cells.get("results", "").upper() in ("YES", "HAS RESULTS"):
        results_not_mapped(draft, at("results"))
    return draft


def _identifiers(draft: Draft, cells: dict, at) -> None:
    ids = [{"kind": "nct", "value": cells["nct"]}] if "nct" in cells else []
    others = split_list(cells.get("other_ids", ""))
    if others:
        ids.append({"kind": "org_study_id", "value": others[0]})
        ids += [{"kind": "secondary", "value": v} for v in others[1:]]
        draft.note(
            "information",
            "assumed-org-study-id",
            "the first of the export's Other IDs is read as the org study id, the rest as secondary ids",
            "identifiers",
            at("other_ids"),
        )
    draft.put("identifiers", ids, at("nct"))


def _outcomes(draft: Draft, cells: dict, at, legacy: bool) -> None:
    if not legacy:
        kinds: tuple[OutcomeKind, ...] = ("primary", "secondary", "other")
        outcomes = record_outcomes((cells.get(kind, ""), kind) for kind in kinds)
        draft.put("outcomes", outcomes, at("primary"))
        return
    measures = split_list(cells.get("outcomes", ""))
    listed = [{"kind": "primary" if i == 0 else "secondary", "measure": m} for i, m in enumerate(measures)]
    draft.put("outcomes", listed, at("outcomes"))
    if len(measures) > 1:
        draft.note(
            "warning",
            "assumed-outcome-kind",
            "the legacy export lists all outcome measures in one cell without their kind: the first "
            "is read as primary (the registry lists primary outcomes first), the rest as secondary",
            "outcomes",
            at("outcomes"),
        )


def _status(draft: Draft, cells: dict, at) -> None:
    status = {"overall_status": known_code(draft, "status", cells.get("status"), "status", at("status"))}
    for name in (
        "start_date",
        "primary_completion_date",
        "completion_date",
        "study_first_post_date",
        "results_first_post_date",
        "last_update_post_date",
    ):
        if name in cells:
            status[name] = iso_date(cells[name])
            if status[name] is None:
                draft.note(
                    "warning", "unreadable-date", f"'{cells[name]}' is not a date", f"status.{name}", at(name)
                )
    draft.put("status", {k: v for k, v in status.items() if v}, at("status"))


def _design(draft: Draft, cells: dict, at) -> None:
    design = {
        "study_type": known_code(draft, "study_type", cells.get("study_type"), "design", at("study_type")),
        "phases": phases(cells.get("phases")),
    }
    parts = parse_design(cells.get("design", ""))
    for name in _DESIGN:
        design[name] = known_code(draft, name, parts.get(name), f"design.{name}", at("design"))
    draft.put("design", {k: v for k, v in design.items() if v}, at("study_type"))
    count = parse_count(cells.get("enrollment"))
    if count is not None:
        draft.put("enrollment", {"count": count}, at("enrollment"))


def _organisations(draft: Draft, cells: dict, at) -> None:
    if "sponsors" in cells:  # legacy: sponsor first, then collaborators
        names = split_list(cells["sponsors"])
        sponsor, collaborators, where = names[:1], names[1:], at("sponsors")
    else:
        sponsor = [cells["sponsor"]] if "sponsor" in cells else []
        collaborators = split_list(cells.get("collaborators", ""))
        where = at("sponsor")
    if sponsor:
        draft.put("sponsor", {"name": sponsor[0], "agency_class": agency_class(cells.get("funder"))}, where)
    draft.put("collaborators", [{"name": n} for n in collaborators], where)


def _eligibility(draft: Draft, cells: dict, at) -> None:
    eligibility: dict[str, str | list[str] | None] = {
        "sex": known_code(draft, "sex", cells.get("sex"), "eligibility.sex", at("sex"))
    }
    match = _AGES.match(cells.get("age", "").replace("\xa0", " ").strip())
    if match:  # "18 Years and older": no maximum, which the registry writes N/A
        older, upto, low, high = match.groups()
        eligibility["minimum_age"] = older or low or "N/A"
        eligibility["maximum_age"] = upto or high or "N/A"
    groups = re.search(r"\(([^)]*)\)", cells.get("age", "")) if "std_ages" not in cells else None
    ages = (cells.get("std_ages") or (groups.group(1) if groups else "")).split(",")
    eligibility["std_ages"] = [a for a in (coded("std_age", x) for x in ages) if a]
    eligibility = {k: v for k, v in eligibility.items() if v}
    draft.put("eligibility", eligibility, at("sex" if "sex" in cells else "age"))
