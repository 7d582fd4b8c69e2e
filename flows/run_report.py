"""``run-report.json`` written from a spool on disk and read back as a stream, so that neither a
registry-sized run nor the commands that read its report hold the entries.

A run of 100,000 studies has about 200 MB of report entries (~1 GB as Python objects): the flow
appends each settled entry to a spool file as one JSON line and, at the end, streams the spool
into ``run-report.json``. The file's bytes are exactly what ``dump_json`` gives for the same
report held in memory (two-space indent, newline at the end), which a test checks.

Because the file is always written so, it is read back the same way: :func:`read_report` gives
the report without its studies and an iterator over the entries, one parsed at a time
(``publish`` and the CLI read 10,000 entries in a fraction of the time and memory a whole parse
takes). A file laid out otherwise (edited by hand, say) is read whole instead.
"""

from __future__ import annotations

import contextlib
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from flows.output import atomic_stream
from flows.records import ReportEntry, RunReport
from mappers.finish import dump_json, dump_json_line
from mappers.output_layout import REPORT_SPOOL

_STUDIES_MARK = "\x00studies\x00"  # cannot occur in a report: every string in it is from JSON
_OPEN = b'  "studies": ['
_ENTRY_OPEN = b"    {"
_ENTRY_CLOSE = (b"    }", b"    },")
_LIST_CLOSE = (b"  ]", b"  ],")


class StudySpool:
    """The run's settled entries, in run order, as JSON lines in the output directory.

    A spool left by a killed run is discarded by the next one: entries are settled afresh each
    run (which study keeps an identifier depends on every input), so an old spool means nothing.
    Entries settled again later in the run (a study displaced by a newer record of itself) are
    replaced as the spool is read (``overrides``), so the spool is only ever appended to.
    """

    def __init__(self, directory: Path):
        self.path = Path(directory) / REPORT_SPOOL
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("wb")
        self._offsets = array("Q")  # where each entry's line starts: 8 bytes an entry
        self.count = 0
        self.overrides: dict[int, ReportEntry] = {}

    def append(self, entry: ReportEntry) -> int:
        self._offsets.append(self._handle.tell())
        self._handle.write(dump_json_line(entry.to_json()))
        self.count += 1
        return self.count - 1

    def read(self, number: int) -> ReportEntry:
        """Entry ``number`` as it stands now."""
        if number in self.overrides:
            return self.overrides[number]
        self._handle.flush()
        with self.path.open("rb") as handle:
            handle.seek(self._offsets[number])
            return ReportEntry.from_json(orjson.loads(handle.readline()))

    def replace(self, number: int, entry: ReportEntry) -> None:
        self.overrides[number] = entry

    def __iter__(self) -> Iterator[ReportEntry]:
        self._handle.flush()
        with self.path.open("rb") as handle:
            for number, line in enumerate(handle):
                found = self.overrides.get(number)
                yield found if found is not None else ReportEntry.from_json(orjson.loads(line))

    def close(self) -> None:
        self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _indented(entry: dict) -> bytes:
    return b"\n".join(b"    " + line for line in orjson.dumps(entry, option=orjson.OPT_INDENT_2).split(b"\n"))


def write_run_report(path: Path, report: RunReport, studies: Iterable[ReportEntry]) -> None:
    """``report`` with ``studies`` in its ``"studies"`` slot, streamed to ``path`` atomically."""
    head, tail = dump_json(report.to_json(_STUDIES_MARK)).split(orjson.dumps(_STUDIES_MARK), 1)
    with atomic_stream(path) as handle:
        handle.write(head)
        first = True
        for entry in studies:
            handle.write(b"[\n" if first else b",\n")
            handle.write(_indented(entry.to_json()))
            first = False
        handle.write(b"[]" if first else b"\n  ]")
        handle.write(tail)


class _Layout(Exception):
    """The file is not laid out as ``write_run_report`` writes it."""


def read_report(path: Path) -> tuple[RunReport, Iterator[ReportEntry]]:
    """The report without its studies, and its entries one at a time (read as they are asked
    for; the file is read twice, the second time only as far as the entries are wanted)."""
    head, entries = read_report_json(path)
    return RunReport.from_json(head), (ReportEntry.from_json(entry) for entry in entries)


def read_report_json(path: Path) -> tuple[dict, Iterator[dict]]:
    """:func:`read_report` before typing, for a reader that looks at a few keys of each entry and
    types only the entries it keeps (an entry's issues are most of the cost of typing it)."""
    try:
        head = _head(path)
    except _Layout:
        whole = orjson.loads(Path(path).read_bytes())
        return whole, iter(whole.get("studies") or [])
    return head, _entries(path)


def read_studies(path: Path) -> list[ReportEntry]:
    """Every entry at once, for callers that want them all (tests, small runs)."""
    return list(read_report(path)[1])


def _head(path: Path) -> dict:
    """The report with ``"studies": null``, from every line but the entries'."""
    kept: list[bytes] = []
    inside = found = False
    with Path(path).open("rb") as handle:
        for line in handle:
            bare = line.rstrip(b"\n")
            if inside:
                if bare in _LIST_CLOSE:
                    inside = False
                    kept.append(b'  "studies": null' + bare[3:] + b"\n")
            elif bare.startswith(_OPEN):
                found = True
                rest = bare[len(_OPEN) :]
                if rest in (b"]", b"],"):  # an empty list, on one line
                    kept.append(b'  "studies": null' + rest[1:] + b"\n")
                elif rest:
                    raise _Layout
                else:
                    inside = True
            else:
                kept.append(line)
    if inside or not found:
        raise _Layout
    try:
        return orjson.loads(b"".join(kept))
    except orjson.JSONDecodeError:
        raise _Layout from None


def _entries(path: Path) -> Iterator[dict]:
    with Path(path).open("rb") as handle:
        for line in handle:
            if line.startswith(_OPEN):
                break
        lines: list[bytes] = []
        for line in handle:
            bare = line.rstrip(b"\n")
            if bare in _LIST_CLOSE:
                return
            if bare.startswith(_ENTRY_OPEN) and not lines:
                lines.append(b"{")
            elif bare in _ENTRY_CLOSE:
                lines.append(b"}")
                yield orjson.loads(b"\n".join(lines))
                lines = []
            else:
                lines.append(bare)
