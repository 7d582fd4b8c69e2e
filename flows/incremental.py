"""What the last runs exported from each input, so that an unchanged input is not exported again.

An input is unchanged when the SHA-256 of its bytes and the run's *fingerprint* are both what the
ledger recorded, and the outputs it recorded are still on disk. The fingerprint covers everything
else an output depends on: the effective template set (each file the Jinja loaders would pick,
shipped templates overlaid by ``--templates``), the mapping settings and the trialexport version.
Hashing the template files instead of trusting the overlay directory's name means an edited
template re-exports everything, which is the point: a template change alters every bundle.

The ledger is an SQLite database in the output directory (``export-ledger.sqlite``), committed
once per window of inputs (a batch of a full run) after the window's files are on disk: a run
killed at any point leaves the ledger of the windows it finished, and an input exported but not
yet committed is simply exported again next time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from flows.errors import LedgerFormatError
from flows.output import remove_temporaries
from flows.records import LedgerRecord, ReportEntry

if TYPE_CHECKING:
    from mappers.context import MappingSettings
from mappers.output_layout import EXPORT_LEDGER

LEDGER_NAME = EXPORT_LEDGER
FORMAT = 2  # 1 was a JSON file
_TABLES = (
    "meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "inputs (source TEXT PRIMARY KEY, record BLOB NOT NULL)",  # record: LedgerRecord JSON
)


def _template_files(directory: Path) -> dict[str, Path]:
    found = {}
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        hidden = any(part.startswith(".") for part in relative.parts)
        if path.is_file() and not hidden:  # report templates too: pages are kept like outputs
            found[relative.as_posix()] = path
    return found


def fingerprint(mapping: MappingSettings, templates: str | None) -> str:
    """One hash of everything besides an input's own bytes that its outputs depend on."""
    from mappers.render import SHIPPED_TEMPLATES  # Jinja: not needed to check a ledger

    effective = _template_files(SHIPPED_TEMPLATES)
    if templates:
        effective |= _template_files(Path(templates))  # the overlay wins, as in mappers.render
    digest = hashlib.sha256()
    digest.update(f"trialexport {version('trialexport')}\n".encode())
    digest.update(json.dumps(vars(mapping), sort_keys=True).encode() + b"\n")
    for relative in sorted(effective):
        content = hashlib.sha256(effective[relative].read_bytes()).hexdigest()
        digest.update(f"{relative} {content}\n".encode())
    return digest.hexdigest()


class ExportLedger:
    """Input source -> :class:`LedgerRecord` (JSON), in SQLite.

    SQLite rather than a JSON file: a registry's ledger (~2.5 KB an input, a gigabyte as Python
    objects at 100,000 inputs) is read one batch's records at a time and never held whole, and
    each window's records are committed in one transaction, so a killed run keeps every window
    it finished and the file is never torn.
    """

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a crash of the run
            for table in _TABLES:
                self._db.execute(f"CREATE TABLE IF NOT EXISTS {table}")
            found = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT),))
            elif found[0] != str(FORMAT):  # its records decide what is skipped: never guess at them
                raise LedgerFormatError(_wrong_format(path, found[0]))
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise LedgerFormatError(f"{path}: not an export ledger ({exc}); {_WHAT_TO_DO}") from None
        except LedgerFormatError:
            self._db.close()
            raise
        self._db.execute("BEGIN")

    @classmethod
    def in_output(cls, output: str | Path) -> ExportLedger:
        """The ledger of the run taking ``output`` over, which first clears the temporary files a
        killed run left there: nothing else would, since the files they were meant to become
        may never be written again (an input deleted since, say)."""
        remove_temporaries(Path(output))
        return cls(Path(output) / LEDGER_NAME)

    def get(self, source: str) -> LedgerRecord | None:
        row = self._db.execute("SELECT record FROM inputs WHERE source = ?", (source,)).fetchone()
        return None if row is None else LedgerRecord.model_validate_json(row[0])

    def get_many(self, sources: list[str]) -> dict[str, LedgerRecord]:
        """The records of one batch's inputs, in one query."""
        found: dict[str, LedgerRecord] = {}
        for start in range(0, len(sources), 500):  # within SQLite's limit on bound parameters
            chunk = sources[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT source, record FROM inputs WHERE source IN ({marks})"
            found |= {s: LedgerRecord.model_validate_json(r) for s, r in self._db.execute(query, chunk)}
        return found

    def sources(self) -> Iterator[str]:
        for (source,) in self._db.execute("SELECT source FROM inputs ORDER BY source").fetchall():
            yield source

    def outputs(self, source: str) -> list[str]:
        row = self._db.execute(
            "SELECT json_extract(record, '$.outputs') FROM inputs WHERE source = ?", (source,)
        ).fetchone()
        return [] if row is None or row[0] is None else orjson.loads(row[0])

    def record(self, source: str, sha256: str, fp: str, entries: list[ReportEntry], lost: list[int]) -> None:
        outputs = sorted({o for entry in entries for o in entry.outputs})
        record = LedgerRecord(sha256=sha256, fingerprint=fp, entries=entries, outputs=outputs, lost=lost)
        self._db.execute(
            "INSERT OR REPLACE INTO inputs VALUES (?, ?)", (source, orjson.dumps(record.to_json()))
        )

    def set_lost(self, source: str, lost: list[int]) -> None:
        """Which of an input's entries lost their identifier, settled after its own window (a
        later input held a newer record of the same study)."""
        self._db.execute(
            "UPDATE inputs SET record = json_set(record, '$.lost', json(?)) WHERE source = ?",
            (orjson.dumps(sorted(lost)), source),
        )

    def forget(self, source: str) -> None:
        self._db.execute("DELETE FROM inputs WHERE source = ?", (source,))

    def flush(self) -> None:
        """Commit what was recorded since the last flush (called once a window is on disk)."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    def close(self) -> None:
        self._db.execute("COMMIT")
        self._db.close()


_WHAT_TO_DO = "move it aside (the next run exports everything again) or choose another --output"


def _wrong_format(path: Path, found: object) -> str:
    return f"{path}: export ledger format {found}, this trialexport reads format {FORMAT}; {_WHAT_TO_DO}"


def check_ledger(output: Path) -> None:
    """Raise LedgerFormatError when ``output`` holds an export ledger this version cannot use;
    reads it without changing it, before anything starts."""
    path = Path(output) / LEDGER_NAME
    if not path.is_file():
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            found = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise LedgerFormatError(f"{path}: not an export ledger ({exc}); {_WHAT_TO_DO}") from None
    if found is not None and found[0] != str(FORMAT):
        raise LedgerFormatError(_wrong_format(path, found[0]))


def unchanged(previous: LedgerRecord | None, sha256: str, fp: str, output: Path) -> bool:
    """Whether an input's recorded outputs can stand for a fresh export of it."""
    return (
        previous is not None
        and previous.sha256 == sha256
        and previous.fingerprint == fp
        and all((output / relative).is_file() for relative in previous.outputs)
    )
