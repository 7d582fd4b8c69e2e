"""What the last runs exported from each input, so that an unchanged input is not exported again.

An input is unchanged when the SHA-256 of its bytes and the run's *fingerprint* are both what the
ledger recorded, and the outputs it recorded are still on disk. The fingerprint covers everything
else an output depends on: the effective template set (each file the Jinja loaders would pick,
shipped templates overlaid by ``--templates``), the mapping settings and the trialexport version.
Hashing the template files instead of trusting the overlay directory's name means an edited
template re-exports everything, which is the point: a template change alters every bundle.

The ledger is an SQLite database in the output directory (``export-ledger.sqlite``), committed
once per batch after the batch's files are on disk: a run killed at any point leaves the ledger
of the batches it finished, and an input exported but not yet committed is simply exported again
next time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import orjson

from flows.output import remove_temporaries
from mappers.context import MappingSettings
from mappers.render import SHIPPED_TEMPLATES

LEDGER_NAME = "export-ledger.sqlite"
FORMAT = 2  # 1 was a JSON file


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
    """Input source -> ``{"sha256", "fingerprint", "entries", "outputs", "lost"}``, in SQLite.

    ``entries`` are the run-report entries the input produced *before* duplicate identifiers were
    settled across the run: whether a study is a duplicate depends on the other inputs, so it is
    decided again every run, from these. ``lost`` numbers the entries that were duplicates: their
    ``outputs`` on disk are the files of the input that kept the identifier, so the input can be
    reused only while the same entries lose again.

    SQLite rather than a JSON file: a registry's ledger (~2.5 KB an input, a gigabyte as Python
    objects at 100,000 inputs) is read one batch's records at a time and never held whole, and
    each batch's records are committed in one transaction, so a killed run keeps every batch it
    finished and the file is never torn.
    """

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a crash of the run
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS inputs (source TEXT PRIMARY KEY, record BLOB NOT NULL)")
        found = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if found is None:
            self._db.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT),))
        elif found[0] != str(FORMAT):  # its records decide what is skipped: never guess at them
            raise ValueError(f"{path}: unknown ledger format {found[0]!r}")
        self._db.execute("BEGIN")

    @classmethod
    def in_output(cls, output: str | Path) -> ExportLedger:
        """The ledger of the run taking ``output`` over, which first clears the temporary files a
        killed run left there: nothing else would, since the files they were meant to become
        may never be written again (an input deleted since, say)."""
        remove_temporaries(Path(output))
        return cls(Path(output) / LEDGER_NAME)

    def get(self, source: str) -> dict | None:
        row = self._db.execute("SELECT record FROM inputs WHERE source = ?", (source,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def get_many(self, sources: list[str]) -> dict[str, dict]:
        """The records of one batch's inputs, in one query."""
        found = {}
        for start in range(0, len(sources), 500):  # within SQLite's limit on bound parameters
            chunk = sources[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT source, record FROM inputs WHERE source IN ({marks})"
            found |= {source: orjson.loads(record) for source, record in self._db.execute(query, chunk)}
        return found

    def sources(self) -> Iterator[str]:
        for (source,) in self._db.execute("SELECT source FROM inputs ORDER BY source").fetchall():
            yield source

    def record(self, source: str, sha256: str, fp: str, entries: list[dict], lost: list[int]) -> None:
        outputs = sorted({o for entry in entries for o in entry["outputs"]})
        record = {"sha256": sha256, "fingerprint": fp, "entries": entries, "outputs": outputs, "lost": lost}
        self._db.execute("INSERT OR REPLACE INTO inputs VALUES (?, ?)", (source, orjson.dumps(record)))

    def forget(self, source: str) -> None:
        self._db.execute("DELETE FROM inputs WHERE source = ?", (source,))

    def flush(self, force: bool = False) -> None:
        """Commit what was recorded since the last flush (called once a batch is on disk)."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    def close(self) -> None:
        self._db.execute("COMMIT")
        self._db.close()


def unchanged(previous: dict | None, sha256: str, fp: str, output: Path) -> bool:
    """Whether an input's recorded outputs can stand for a fresh export of it."""
    return (
        previous is not None
        and previous["sha256"] == sha256
        and previous["fingerprint"] == fp
        and all((output / relative).is_file() for relative in previous["outputs"])
    )
