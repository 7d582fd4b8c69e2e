"""The settler, table by table: which record keeps an identifier, what the others become, and
what that means for files, NDJSON blocks, the report and the ledger. No Prefect, no disk."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flows.records import Counts, InputResult, Lines, MappedStudy, ReportEntry, StagedLines, Status
from flows.settle import (
    Append,
    Demote,
    Drop,
    Fill,
    Forget,
    Move,
    Prune,
    Rank,
    Record,
    SetLost,
    Settler,
    Spool,
)
from mappers.model import Issue

V2, V1, XML, CSV, TEXT = "ctgov-json-v2", "ctgov-json-v1", "ctgov-public-xml", "ctgov-csv", "text-a"


@dataclass
class In:
    """One input of a table row: its studies as (key, layout, last update)."""

    source: str
    studies: list[tuple[str, str, str | None]]
    reused: bool = False
    lost: tuple[int, ...] = ()
    status: Status = Status.EXPORTED
    pages: tuple[str, ...] = ()  # a reused input's pages, as the last run named them

    def result(self) -> InputResult:
        mapped = []
        for number, (key, layout, updated) in enumerate(self.studies):
            entry = ReportEntry(
                source=self.source,
                record=number + 1 if len(self.studies) > 1 else None,
                key=key,
                identifier=key,
                counts=Counts(arms=1, outcomes=1, sites=0),
                layout=layout,
                content_hash="0",
                last_update=updated,
                status=self.status,
                outputs=[f"studies/{key}/fhir-r4-bundle.json", f"studies/{key}/prs.xml"],
                bundle=f"studies/{key}/fhir-r4-bundle.json",
                page=self.pages[number] if self.reused else None,
            )
            if self.reused:
                mapped.append(MappedStudy(entry, lines={"ResearchStudy": b"{}\n"}))
            else:
                files = {o: f"stage/{self.source}/{number}/{o}" for o in entry.outputs}
                lines: Lines = {"ResearchStudy": StagedLines(f"stage/{self.source}/lines", number, 1)}
                mapped.append(MappedStudy(entry, files, lines, page=f"stage/{self.source}/{number}/page"))
        sha = "sha-" + self.source
        return InputResult(self.source, sha, mapped, skipped=self.reused, lost=list(self.lost))


def settle(*windows: list[In]) -> tuple[Settler, list[ReportEntry], list]:
    """Every window through one settler; the report entries as they end up, and every op."""
    settler = Settler()
    spool: list[ReportEntry] = []
    ops: list = []
    demote: dict[int, str] = {}
    for window in windows:
        out = settler.settle([i.result() for i in window])
        ops += [*out.moves, *out.ndjson, *out.spool, *out.ledger]
        for op in out.spool:
            if isinstance(op, Spool):
                assert op.number == len(spool)
                spool.append(op.entry)
            elif isinstance(op, Demote):
                demote[op.number] = op.message
    for number, message in demote.items():
        entry = spool[number]
        spool[number] = entry.model_copy(update={"status": Status.SUPERSEDED, "outputs": []})
        ops.append(("demoted", number, message))
    return settler, spool, ops


def statuses(spool: list[ReportEntry]) -> list[tuple[str, str]]:
    return [(e.source, e.status.value) for e in spool]


NCT = "NCT01234567"

# (inputs in run order, in one window) -> the status of each entry, in run order
OUTCOMES = {
    "first-claim-keeps": ([In("a", [(NCT, V2, None)])], [("a", "exported")]),
    "richer-format-later-displaces": (
        [In("a", [(NCT, CSV, "2024-01-02")]), In("b", [(NCT, XML, "2024-01-02")])],
        [("a", "superseded"), ("b", "exported")],
    ),
    "newer-beats-richer": (
        [In("a", [(NCT, V2, "2023-05-01")]), In("b", [(NCT, CSV, "2024-01-02")])],
        [("a", "superseded"), ("b", "exported")],
    ),
    "older-loses-to-earlier": (
        [In("a", [(NCT, CSV, "2024-01-02")]), In("b", [(NCT, V2, "2023-05-01")])],
        [("a", "exported"), ("b", "superseded")],
    ),
    "no-date-to-compare-first-read-keeps": (
        [In("a", [(NCT, TEXT, None)]), In("b", [(NCT, TEXT, "2020-01-01")])],
        [("a", "exported"), ("b", "superseded")],
    ),
    "no-date-to-compare-richer-displaces": (
        [In("a", [(NCT, CSV, "2020-01-01")]), In("b", [(NCT, V2, None)])],
        [("a", "superseded"), ("b", "exported")],
    ),
    "same-tier-and-date-first-read-keeps": (
        [In("a", [(NCT, V1, "2024-01-02")]), In("b", [(NCT, V2, "2024-01-02")])],
        [("a", "exported"), ("b", "superseded")],
    ),
    "within-one-list-page": (
        [In("page", [(NCT, V2, "2020-01-01"), (NCT, V2, "2021-01-01"), ("NCT07654321", V2, None)])],
        [("page", "superseded"), ("page", "exported"), ("page", "exported")],
    ),
    "not-a-registry-id-is-a-duplicate": (
        [In("a", [("doc", TEXT, None)]), In("b", [("doc", XML, "2024-01-02")])],
        [("a", "exported"), ("b", "rejected")],
    ),
    "rejected-outputs-claim-nothing": (
        [In("a", [(NCT, V2, None)], status=Status.REJECTED), In("b", [(NCT, CSV, None)])],
        [("a", "rejected"), ("b", "exported")],
    ),
    "three-records-newest-wins": (
        [In("a", [(NCT, V2, "2022")]), In("b", [(NCT, CSV, "2024")]), In("c", [(NCT, XML, "2023")])],
        [("a", "superseded"), ("b", "exported"), ("c", "superseded")],
    ),
}


@pytest.mark.parametrize(("inputs", "expected"), OUTCOMES.values(), ids=OUTCOMES.keys())
def test_who_keeps_an_identifier(inputs, expected):
    settler, spool, _ = settle(inputs)
    assert statuses(spool) == expected
    totals = settler.totals
    assert (totals.exported, totals.superseded, totals.rejected) == tuple(
        sum(status == s for _, status in expected) for s in ("exported", "superseded", "rejected")
    )


def test_the_same_outcome_across_windows():
    """A later window displaces an earlier one's holder after the fact."""
    for inputs, expected in OUTCOMES.values():
        _, spool, _ = settle(*[[i] for i in inputs])
        assert statuses(spool) == expected


def test_a_superseded_record_says_which_source_was_kept_and_why():
    _, spool, _ = settle(
        [In("in/row.csv", [(NCT, CSV, "2024-01-02")])], [In("in/v2.json", [(NCT, V2, "2023-05-01")])]
    )
    [entry] = [e for e in spool if e.source == "in/v2.json"]
    [issue] = [i for i in entry.issues if i.code == "superseded"]
    assert issue.severity == "warning" and entry.outputs == [] and entry.bundle is None
    assert issue.message == (
        f"{NCT} is exported from in/row.csv, not from this record: "
        "its last update (2024-01-02) is newer than this record's (2023-05-01)"
    )
    displaced = settle([In("in/row.csv", [(NCT, CSV, None)])], [In("in/v2.json", [(NCT, V2, None)])])[2]
    [(_, number, message)] = [op for op in displaced if isinstance(op, tuple)]
    assert number == 0 and message == (
        f"{NCT} is exported from in/v2.json, not from this record: "
        "it is a structured CT.gov record, this one a CSV export row"
    )


def test_a_displaced_holder_loses_its_lines_and_files_and_its_input_is_recorded_again():
    settler, _, ops = settle([In("a", [(NCT, CSV, None)])], [In("b", [(NCT, XML, None)])])
    appends = [op for op in ops if isinstance(op, Append)]
    assert [a.block for a in appends] == [0, 1]
    assert Drop(0) in ops  # a's lines leave the NDJSON
    assert SetLost("a", [0]) in ops  # a was recorded in the first window
    assert [m.target for m in ops if isinstance(m, Move)].count(
        f"studies/{NCT}/prs.xml"
    ) == 2  # b's overwrite
    assert settler.finish().prunes == [Prune(NCT, 1)]  # b's files only in the folder both wrote


def test_an_unchanged_rerun_writes_nothing():
    """Both inputs reused from the ledger, the loser first: nothing is exported again."""
    loser = In("a", [(NCT, CSV, None)], reused=True, lost=(0,), pages=(f"report/{NCT}.html",))
    holder = In("b", [(NCT, XML, None)], reused=True, pages=(f"report/{NCT}-2.html",))
    settler, spool, ops = settle([loser, holder])
    assert statuses(spool) == [("a", "superseded"), ("b", "exported")]
    assert not [op for op in ops if isinstance(op, Move | Record | SetLost)]
    assert settler.pending() == {}
    assert settler.finish().prunes == []


def test_a_reused_holder_whose_files_are_another_inputs_is_exported_again_at_the_end():
    """The input that held the identifier is gone: the one that lost it last time holds it now."""
    reused = In("b", [(NCT, CSV, None)], reused=True, lost=(0,), pages=(f"report/{NCT}.html",))
    settler, spool, ops = settle([reused])
    assert statuses(spool) == [("b", "exported")]
    [reserved] = [op for op in ops if isinstance(op, Append)]
    assert reserved.lines == {}  # its place in the NDJSON, in run order
    assert not [op for op in ops if isinstance(op, Move | Record | SetLost)]  # on record: not its own
    assert settler.pending() == {"b": [0]}
    again = In("b", [(NCT, CSV, None)]).result()
    out = settler.resolve(again, [0])
    assert Fill(reserved.block, again.studies[0].lines) in out.ndjson
    assert {m.target for m in out.moves} == set(again.studies[0].files)
    assert out.ledger == [SetLost("b", [])]
    assert settler.pending() == {}


def test_a_reused_holder_displaced_before_the_end_is_not_exported_again():
    stale = In("a", [(NCT, CSV, None)], reused=True, lost=(0,), pages=(f"report/{NCT}.html",))
    fresh = In("c", [(NCT, V2, None)])
    settler, spool, _ = settle([stale], [fresh])
    assert statuses(spool) == [("a", "superseded"), ("c", "exported")]
    assert settler.pending() == {}


def test_a_reused_owner_after_a_fresh_writer_of_its_folder_is_exported_again():
    """The folder was written by a record it displaced: its own files are gone."""
    fresh_loser = In("a", [(NCT, CSV, None)])
    owner = In("b", [(NCT, XML, None)], reused=True, pages=(f"report/{NCT}-2.html",))
    settler, spool, _ = settle([fresh_loser, owner])
    assert statuses(spool) == [("a", "superseded"), ("b", "exported")]
    assert settler.pending() == {"b": [0]}


def test_unreadable_inputs_are_forgotten_and_pages_are_named_in_run_order():
    bad = InputResult(
        "x.bin", None, [MappedStudy(ReportEntry(source="x.bin", status=Status.REJECTED), page="stage/p")]
    )
    settler = Settler()
    out = settler.settle(
        [bad, In("a", [("doc", TEXT, None)]).result(), In("b", [("doc", TEXT, None)]).result()]
    )
    assert Forget("x.bin") in out.ledger
    pages = [op.entry.page for op in out.spool if isinstance(op, Spool)]
    assert pages == ["report/x.bin.html", "report/doc.html", "report/doc-2.html"]
    assert settler.pages == {"x.bin", "doc", "doc-2"}


@pytest.mark.parametrize(
    ("better", "worse"),
    [
        (Rank("2024-01-02", "", 1), Rank("2024-01-01", "", 3)),
        (Rank("2024-01", "", 1), Rank("2023-12-31", "", 3)),
        (Rank("2024-01-01", "", 3), Rank("2024-01-01", "", 2)),
        (Rank("", "2024-01-02", 1), Rank("2024-01-05", "2024-01-01", 3)),  # submitted dates decide
        (Rank("", "2024-02-01", 1), Rank("2024-01-05", "", 3)),  # submitted after the other was posted
        # the same version seen through two formats: submitted 03-26, posted 04-02 -> the richer wins
        (Rank("", "2013-03-26", 3), Rank("2013-04-02", "", 2)),
        (Rank("2013-04-02", "", 3), Rank("", "2013-03-26", 2)),
        (Rank("", "", 3), Rank("2000", "", 1)),  # no date to compare: the richer wins
    ],
)
def test_rank_orders_by_date_then_format(better, worse):
    assert better > worse
    assert not worse > better


def test_an_input_that_changed_before_it_was_exported_again_stays_on_record_as_not_its_own():
    reused = In("b", [(NCT, CSV, None)], reused=True, lost=(0,), pages=(f"report/{NCT}.html",))
    settler, _, _ = settle([reused])
    emptied = InputResult("b", "sha-other", [])  # the file lost its study meanwhile
    out = settler.resolve(emptied, [0])
    assert out.moves == [] and out.ndjson == [] and out.ledger == [SetLost("b", [0])]


def test_studies_whose_prs_xml_is_incomplete_are_counted_while_they_hold():
    """The run report counts exported studies with a ``prs-incomplete`` warning; a holder that a
    richer record displaces stops counting."""
    incomplete = Issue(severity="warning", code="prs-incomplete", message="lacks 3 elements")
    row, record = In("a", [(NCT, CSV, None)]).result(), In("b", [(NCT, XML, None)]).result()
    row.studies[0].entry = row.studies[0].entry.model_copy(update={"issues": [incomplete]})
    settler = Settler()
    settler.settle([row])
    assert settler.totals.prs_incomplete == 1
    settler.settle([record])
    assert (settler.totals.exported, settler.totals.prs_incomplete) == (1, 0)
