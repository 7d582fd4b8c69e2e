"""Settling a run: which entry keeps each identifier, and what that means on disk. Pure: no
Prefect, no I/O; the flow applies what it returns (``flows.writer``).

Batches come back in input order, a window of inputs at a time. Each study claims its
identifier (its ``key``, the name of its folder under ``studies/``), and the claim has one of
these outcomes (:class:`Claim`):

- **kept**: the first claim, or one that displaces the holder;
- **superseded**: another input holds a record of the *same registry study* (an NCT id) that is
  newer (its last update, posted or submitted: :class:`Rank`), or as new and in a richer format
  (API v2 JSON, classic JSON and legacy XML, then a CSV export, then free text), or as new and
  as rich and read first. It is
  a warning naming the kept source, not a rejection. A later, newer record displaces an earlier
  holder: the holder's entry is superseded after the fact, its NDJSON lines are dropped and its
  files overwritten;
- **duplicate**: two different documents with one identifier that is not a registry id (an org
  study id, a file name): the first keeps it, the later one is rejected;
- **none**: an entry that was not exported (unreadable, invalid outputs) claims nothing.

Reruns reuse unchanged inputs from the export ledger. A reused study's files on disk are its own
unless it did not hold its identifier when the ledger recorded it (``InputResult.lost``) or
another study of this run has written that folder since; a reused holder whose files are not
its own is *pending*: at the end of the run, still holding, it is exported again
(:meth:`Settler.pending`, :meth:`Settler.resolve`). So an unchanged rerun writes nothing, and
whatever the order of the inputs the files on disk are the holder's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from flows.records import InputResult, Lines, MappedStudy, ReportEntry, Status, Totals
from mappers.ctgov_xml import PRS_INCOMPLETE
from mappers.model import Issue
from mappers.output_layout import page, safe_name

# Richer formats carry more of a record: the CT.gov structured formats, then a CSV export row
# (no time frames, no contacts), then a free-text page.
FORMAT_TIERS = {
    "ctgov-json-v2": 3,
    "ctgov-json-v1": 3,
    "ctgov-public-xml": 3,
    "ctgov-csv": 2,
    "text-a": 1,
    "text-b": 1,
}
_FORMAT_NAMES = {
    3: "a structured CT.gov record",
    2: "a CSV export row",
    1: "free text",
    0: "an unknown format",
}
_REGISTRY_ID = re.compile(r"^NCT\d{8}$")  # one study, wherever its records come from


class Claim(StrEnum):
    KEPT = "kept"
    SUPERSEDED = "superseded"
    DUPLICATE = "duplicate"
    NONE = "none"


@dataclass(frozen=True)
class Rank:
    """How a record compares with another of the same study: newer first, then richer.

    A record's version is its last update, but formats date it differently: posted (a CSV
    export), submitted (a 2016-era public XML), or both (API v2). Dates of one kind compare; a
    submission after the other record's posting is a later version; anything else (the same
    version seen through two formats, or no date) leaves newness undecided, and the richer
    format wins. Not a total order: the settler only asks whether a claimant beats the holder."""

    posted: str  # "" when the source does not say
    submitted: str
    tier: int

    @classmethod
    def of(cls, entry: ReportEntry) -> Rank:
        return cls(
            entry.last_update or "",
            entry.last_update_submitted or "",
            FORMAT_TIERS.get(entry.layout or "", 0),
        )

    def newer(self, other: Rank) -> bool | None:
        """Whether this record is a later version than ``other`` (None: undecided)."""
        for mine, theirs in ((self.posted, other.posted), (self.submitted, other.submitted)):
            if mine and theirs and mine != theirs:
                return mine > theirs
        if self.submitted and other.posted and self.submitted > other.posted:
            return True
        if other.submitted and self.posted and other.submitted > self.posted:
            return False
        return None

    def __gt__(self, other: Rank) -> bool:
        newer = self.newer(other)
        return self.tier > other.tier if newer is None else newer

    def why_better_than(self, other: Rank) -> str:
        if self.newer(other):
            mine = self.posted if self.posted and other.posted else self.submitted or self.posted
            theirs = (
                other.posted if self.posted and other.posted else other.submitted or other.posted
            ) or "no date"
            return f"its last update ({mine}) is newer than this record's ({theirs})"
        if self.tier != other.tier:
            return f"it is {_FORMAT_NAMES[self.tier]}, this one {_FORMAT_NAMES[other.tier]}"
        return "it is as recent and as rich, and was read first"


# --- what the flow is to do ------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """A staged file into its place (``target``, relative to the output directory)."""

    target: str
    staged: str


@dataclass(frozen=True)
class Page:
    """A report page: the staged one, or rendered from the entry (and its ``study.json`` when
    among its outputs); ``force`` False keeps the file when it is already there."""

    page: str
    staged: str | None = None
    entry: ReportEntry | None = None
    force: bool = True


@dataclass(frozen=True)
class Append:
    """A study's NDJSON lines (staged, or the lines); becomes NDJSON block ``block``."""

    block: int
    lines: Lines


@dataclass(frozen=True)
class Fill:
    """The lines of block ``block``, reserved (appended empty) when its study was settled."""

    block: int
    lines: Lines


@dataclass(frozen=True)
class Drop:
    block: int


@dataclass(frozen=True)
class Spool:
    """The next run-report entry (number ``number`` in run order)."""

    number: int
    entry: ReportEntry


@dataclass(frozen=True)
class Demote:
    """Entry ``number``, already spooled, lost its identifier after the fact: it becomes
    ``demoted(entry, Claim.SUPERSEDED, message)`` and its page says so."""

    number: int
    message: str


@dataclass(frozen=True)
class Record:
    """The input's ledger record: its entries as it gave them, and which lost."""

    source: str
    sha256: str
    entries: list[ReportEntry]
    lost: list[int]


@dataclass(frozen=True)
class SetLost:
    """An input recorded in an earlier window has other entries lost now."""

    source: str
    lost: list[int]


@dataclass(frozen=True)
class Forget:
    source: str


@dataclass(frozen=True)
class Prune:
    """Folder ``studies/<key>`` keeps only the outputs of entry ``holder`` (files another record
    of the study wrote there this run)."""

    key: str
    holder: int


@dataclass
class Settlement:
    """What to do for one window (or the end of the run), each list in order."""

    moves: list[Move] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    ndjson: list[Append | Fill | Drop] = field(default_factory=list)
    spool: list[Spool | Demote] = field(default_factory=list)
    ledger: list[Record | SetLost | Forget] = field(default_factory=list)
    prunes: list[Prune] = field(default_factory=list)


def demoted(entry: ReportEntry, claim: Claim, message: str) -> ReportEntry:
    """``entry`` once it has lost its identifier: not exported, no outputs, and why."""
    if claim is Claim.SUPERSEDED:
        issue = Issue(severity="warning", code="superseded", message=message)
        status = Status.SUPERSEDED
    else:
        issue = Issue(severity="error", code="duplicate-identifier", message=message)
        status = Status.REJECTED
    return entry.model_copy(
        update={"status": status, "outputs": [], "bundle": None, "issues": [*entry.issues, issue]}
    )


def _where(source: str, record: int | None) -> str:
    return source + (f" (record {record})" if record else "")


def _superseded(key: str, kept: str, why: str) -> str:
    return f"{key} is exported from {kept}, not from this record: {why}"


# --- the settler ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Holder:
    source: str
    number: int  # the entry's position in its input
    record: int | None
    rank: Rank
    spool: int
    page: str
    block: int | None  # its NDJSON block, once its lines are appended
    pending: bool  # reused, and its files on disk are not its own yet
    prs_incomplete: bool = False  # counted in the totals while it holds


@dataclass
class _Window:
    """The inputs being settled, and the entries of each that hold no identifier."""

    lost: dict[str, set[int]] = field(default_factory=dict)
    renamed: set[str] = field(default_factory=set)


class Settler:
    def __init__(self) -> None:
        self.totals = Totals()
        self._holders: dict[str, _Holder] = {}
        self._written: set[str] = set()  # keys whose folder this run wrote
        self._contested: set[str] = set()  # keys claimed more than once this run
        self._lost: dict[str, set[int]] = {}  # per recorded input, when any
        self._pages: set[str] = set()
        self._spooled = 0
        self._blocks = 0
        self._out = Settlement()
        self._window = _Window()

    # -- one window ---------------------------------------------------------------------------

    def settle(self, results: list[InputResult]) -> Settlement:
        """The window's inputs, in input order."""
        self._out, self._window = Settlement(), _Window()
        for result in results:
            self._window.lost[result.source] = set()
            for number, mapped in enumerate(result.studies):
                self._settle_entry(result, number, mapped)
        for result in results:
            self._record(result)
        return self._out

    def _settle_entry(self, result: InputResult, number: int, mapped: MappedStudy) -> None:
        entry = mapped.entry
        name = self._page_for(entry)
        if entry.page != name:
            self._window.renamed.add(result.source)
        entry = entry.model_copy(update={"page": name})  # recorded so: a rerun finds it by name
        mapped.entry = entry
        if entry.status is not Status.EXPORTED or entry.key is None:
            self._spool(entry)
            self._place(mapped)
            self._page(result, mapped)
            return
        key = entry.key
        holder = self._holders.get(key)
        rank = Rank.of(entry)
        if holder is not None:
            self._contested.add(key)
        if holder is None:
            self._hold(result, number, mapped, rank)
        elif self._supersedable(key) and rank > holder.rank:
            self._displace(key, holder, rank.why_better_than(holder.rank), result.source, entry.record)
            self._hold(result, number, mapped, rank)
        else:
            self._lose(result, number, entry, holder, rank)

    def _hold(self, result: InputResult, number: int, mapped: MappedStudy, rank: Rank) -> None:
        entry = mapped.entry
        key = entry.key or ""
        own = not result.skipped or (number not in result.lost and key not in self._written)
        spooled = self._spool(entry)
        holder = _Holder(
            result.source,
            number,
            entry.record,
            rank,
            spooled,
            entry.page or "",
            None,
            not own,
            _prs_incomplete(entry),
        )
        self._holders[key] = holder
        if not own:  # written at the end, if it still holds: until then its files are another's
            self._window.lost[result.source].add(number)
            holder.block = self._append({})  # its lines' place, in run order
            return
        if not result.skipped:
            self._written.add(key)
            self._place(mapped)
        holder.block = self._append(mapped.lines)
        self._page(result, mapped)

    def _lose(
        self, result: InputResult, number: int, entry: ReportEntry, holder: _Holder, rank: Rank
    ) -> None:
        key = entry.key or ""
        where = _where(holder.source, holder.record)
        if self._supersedable(key):
            claim = Claim.SUPERSEDED
            message = _superseded(key, where, holder.rank.why_better_than(rank))
        else:
            claim = Claim.DUPLICATE
            message = f"identifier '{key}' was already exported from {where}"
        lost = demoted(entry, claim, message)
        self._spool(lost)
        self._window.lost[result.source].add(number)
        self._out.pages.append(Page(lost.page or "", entry=lost))

    def _displace(self, key: str, holder: _Holder, why: str, source: str, record: int | None) -> None:
        where = source + (f" (record {record})" if record else "")
        self._out.spool.append(
            Demote(holder.spool, f"{key} is exported from {where}, not from this record: {why}")
        )
        self.totals.exported -= 1
        self.totals.superseded += 1
        self.totals.prs_incomplete -= holder.prs_incomplete
        if holder.block is not None:
            self._out.ndjson.append(Drop(holder.block))
        if holder.source in self._window.lost:  # its input is in this window: recorded below
            self._window.lost[holder.source].add(holder.number)
        else:
            lost = self._lost.setdefault(holder.source, set())
            lost.add(holder.number)
            self._out.ledger.append(SetLost(holder.source, sorted(lost)))

    # -- the end of the run -------------------------------------------------------------------

    def pending(self) -> dict[str, list[int]]:
        """Inputs to export again, with their entries that hold an identifier while their files
        on disk are another's."""
        found: dict[str, list[int]] = {}
        for holder in self._holders.values():
            if holder.pending:
                found.setdefault(holder.source, []).append(holder.number)
        return {source: sorted(numbers) for source, numbers in sorted(found.items())}

    def resolve(self, result: InputResult, numbers: list[int]) -> Settlement:
        """A pending input exported again: the files, lines and pages of its holding entries."""
        self._out = Settlement()
        resolved = []
        for number in numbers:
            if number >= len(result.studies):
                continue  # the input changed during the run: it stays on record as not its own
            mapped = result.studies[number]
            key = mapped.entry.key or ""
            holder = self._holders.get(key)
            if holder is None or (holder.source, holder.number) != (result.source, number):
                continue
            if mapped.entry.status is not Status.EXPORTED:
                continue
            resolved.append(number)
            self._written.add(key)
            holder.pending = False
            self._place(mapped)
            if holder.block is not None:
                self._out.ndjson.append(Fill(holder.block, mapped.lines))
            if mapped.page is not None:
                self._out.pages.append(Page(holder.page, staged=mapped.page))
        lost = self._lost.get(result.source, set()) - set(resolved)
        self._lost[result.source] = lost
        self._out.ledger.append(SetLost(result.source, sorted(lost)))
        return self._out

    def finish(self) -> Settlement:
        """Folders that more than one record of a study wrote keep the holder's outputs only."""
        self._out = Settlement()
        for key in sorted(self._contested & self._written):
            self._out.prunes.append(Prune(key, self._holders[key].spool))
        return self._out

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _supersedable(key: str) -> bool:
        return _REGISTRY_ID.match(key) is not None

    def _page_for(self, entry: ReportEntry) -> str:
        """``report/<slug>.html``, in run order: the first of two entries that would share a slug
        keeps it, so the same inputs always give the same page names."""
        base = safe_name(entry.key or entry.source.rsplit("/", 1)[-1], "input")
        slug, n = base, 1
        while slug in self._pages:
            n += 1
            slug = f"{base}-{n}"
        self._pages.add(slug)
        return page(slug)

    @property
    def pages(self) -> set[str]:
        """Every page slug this run named (the others in ``report/`` are stale)."""
        return self._pages

    def _spool(self, entry: ReportEntry) -> int:
        number = self._spooled
        self._out.spool.append(Spool(number, entry))
        self._spooled += 1
        self.totals.studies += entry.is_study
        if entry.status is Status.EXPORTED:
            self.totals.exported += 1
            self.totals.prs_incomplete += _prs_incomplete(entry)
        elif entry.status is Status.REJECTED:
            self.totals.rejected += 1
        else:
            self.totals.superseded += 1
        return number

    def _place(self, mapped: MappedStudy) -> None:
        self._out.moves.extend(Move(target, staged) for target, staged in mapped.files.items())

    def _append(self, lines: Lines) -> int:
        """The next NDJSON block; empty ``lines`` reserve it."""
        block = self._blocks
        self._out.ndjson.append(Append(block, lines))
        self._blocks += 1
        return block

    def _page(self, result: InputResult, mapped: MappedStudy) -> None:
        entry = mapped.entry
        if mapped.page is not None:  # rendered with the export
            self._out.pages.append(Page(entry.page or "", staged=mapped.page))
        else:  # reused: the page an earlier run wrote stands, unless the name is new
            renamed = result.source in self._window.renamed
            self._out.pages.append(Page(entry.page or "", entry=entry, force=renamed))

    def _record(self, result: InputResult) -> None:
        lost = self._window.lost.pop(result.source)
        if lost:
            self._lost[result.source] = lost
        if result.sha256 is None:
            self._out.ledger.append(Forget(result.source))
        elif (
            not result.skipped or sorted(lost) != sorted(result.lost) or result.source in self._window.renamed
        ):
            self._out.ledger.append(Record(result.source, result.sha256, result.entries, sorted(lost)))


def _prs_incomplete(entry: ReportEntry) -> bool:
    """Whether the entry's PRS XML lacks elements PRS requires for a registration (its
    ``prs-incomplete`` warning, ``mappers.ctgov_xml.prs_readiness``)."""
    return any(issue.code == PRS_INCOMPLETE for issue in entry.issues)
