"""``run-report.json`` written from a spool on disk, so a registry-sized run never holds its entries.

A run of 100,000 studies has about 200 MB of report entries (~1 GB as Python objects): the flow
appends each settled entry to a spool file as one JSON line and, at the end, streams the spool
into ``run-report.json``. The file's bytes are exactly what ``dump_json`` gives for the same
report held in memory (two-space indent, newline at the end), which a test checks, so readers
of the report see no difference.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from mappers.finish import dump_json, dump_json_line

_STUDIES_MARK = "\x00studies\x00"  # cannot occur in a report: every string in it is from JSON
SPOOL_NAME = ".run-report.studies.partial"


@contextlib.contextmanager
def atomic_stream(path: Path) -> Iterator[BinaryIO]:
    """A file written in pieces that appears under ``path`` whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class StudySpool:
    """The run's settled entries, in run order, as JSON lines in the output directory.

    A spool left by a killed run is discarded by the next one: entries are settled afresh each
    run (duplicate identifiers depend on every input), so an old spool means nothing.
    """

    def __init__(self, directory: Path):
        self.path = Path(directory) / SPOOL_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("wb")
        self.count = 0

    def append(self, entry: dict) -> None:
        self._handle.write(dump_json_line(entry))
        self.count += 1

    def __iter__(self) -> Iterator[dict]:
        self._handle.flush()
        with self.path.open("rb") as handle:
            for line in handle:
                yield orjson.loads(line)

    def close(self) -> None:
        self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _indented(entry: dict) -> bytes:
    return b"\n".join(b"    " + line for line in orjson.dumps(entry, option=orjson.OPT_INDENT_2).split(b"\n"))


def write_run_report(path: Path, report: dict, studies: Iterator[dict]) -> None:
    """``report`` with ``studies`` in its ``"studies"`` slot, streamed to ``path`` atomically."""
    head, tail = dump_json({**report, "studies": _STUDIES_MARK}).split(orjson.dumps(_STUDIES_MARK), 1)
    with atomic_stream(path) as handle:
        handle.write(head)
        first = True
        for entry in studies:
            handle.write(b"[\n" if first else b",\n")
            handle.write(_indented(entry))
            first = False
        handle.write(b"[]" if first else b"\n  ]")
        handle.write(tail)


def read_studies(path: Path) -> list[dict]:
    """The entries of a written ``run-report.json`` (for callers that want them all at once)."""
    return orjson.loads(Path(path).read_bytes())["studies"]
