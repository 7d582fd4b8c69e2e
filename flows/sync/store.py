"""What a sync keeps between runs, inside the output directory (the names are
``mappers.output_layout``'s).

- ``sources/ctgov/<NCT id>.json``: each study as the API gave it (its object from the page,
  keys in the API's order, compact), the export's input. Written atomically, and only when the
  bytes differ, so a rerun without network reproduces the outputs and the export's ledger skips
  every study whose record did not change.
- ``sources/ctgov-superseded/<old NCT id>.json``: the record of a study whose NCT id changed,
  moved out of the export's input once the record is stored under its current id (kept, never
  deleted: what was published under the old id is the user's to remove).
- ``sync-state.json``: the watermark. It names the API and the query it belongs to, and moves
  only when a sync has exported (and published) everything it fetched; ``started`` is set while
  a sync runs, so the next one can say that the last was cut short.
- ``sync-report.json``: what the last sync did (``flows.sync.report``).
"""

from __future__ import annotations

import contextlib
import os
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from flows.errors import LedgerFormatError
from flows.output import remove_temporaries, write_atomic
from mappers.output_layout import SOURCES, SUPERSEDED_SOURCES, SYNC_STATE, source_record, superseded_record

Stored = Literal["new", "changed", "unchanged"]


class SourceStore:
    """One file per study under ``sources/ctgov/``, named by its current NCT id."""

    def __init__(self, output: Path):
        self.root = Path(output)
        self.directory = self.root / SOURCES
        self.superseded = self.root / SUPERSEDED_SOURCES

    def path(self, nct: str) -> Path:
        return self.root / source_record(nct)

    def nct_of(self, source: str) -> str | None:
        """The NCT id of a stored record, from its path as the export's report names it (None for
        any other input)."""
        path = Path(source)
        if path.suffix != ".json" or path.parent.resolve() != self.directory.resolve():
            return None
        return path.stem

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def ids(self) -> set[str]:
        """The studies stored (hidden temporaries of a killed write are not studies)."""
        if not self.directory.is_dir():
            return set()
        return {p.stem for p in self.directory.glob("NCT*.json")}

    def has(self, nct: str) -> bool:
        return self.path(nct).is_file()

    def put(self, nct: str, data: bytes) -> Stored:
        """Store a study's bytes; an unchanged record is not written again (its file keeps its
        time, and the export's ledger sees the same bytes)."""
        path = self.path(nct)
        try:
            before = path.read_bytes()
        except FileNotFoundError:
            before = None
        if before == data:
            return "unchanged"
        write_atomic(path, data)
        return "new" if before is None else "changed"

    def supersede(self, old: str) -> str | None:
        """Move ``old``'s record out of the export's input; returns where it went (None when
        there was nothing to move)."""
        target = self.root / superseded_record(old)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self.path(old), target)
        except FileNotFoundError:
            return None
        return self.relative(target)


class SyncState(BaseModel):
    """``sync-state.json``. ``watermark`` is the registry date up to which every study of
    ``query`` on ``api_url`` has been fetched, exported and published; the next sync asks for
    what was posted from the day before it on."""

    format: Literal[1] = 1
    api_url: str
    query: dict[str, str]
    watermark: date | None = None
    data_timestamp: str | None = None  # the API's /version when the watermark was taken
    committed: datetime | None = None  # when the watermark last moved
    started: datetime | None = None  # a sync under way (or killed: nothing cleared it)

    def same_search(self, api_url: str, query: dict[str, str]) -> bool:
        return self.api_url.rstrip("/") == api_url.rstrip("/") and self.query == query


_WHAT_TO_DO = "move it aside (the next sync fetches everything again) or choose another --output"


def load_state(output: Path) -> SyncState | None:
    """The watermark of the last sync into ``output`` (None before the first). A file this
    version cannot read is refused rather than guessed at (LedgerFormatError, a usage error):
    the watermark decides what is not fetched again."""
    path = Path(output) / SYNC_STATE
    if not path.is_file():
        return None
    try:
        return SyncState.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the file"
        raise LedgerFormatError(
            f"{path}: not a sync state this trialexport reads ({where}: {problem['msg']}); {_WHAT_TO_DO}"
        ) from None


def save_state(output: Path, state: SyncState) -> None:
    """Durable: the watermark is what the next run trusts."""
    write_atomic(Path(output) / SYNC_STATE, state.model_dump_json(indent=2).encode() + b"\n", durable=True)


def remove_stale_temporaries(store: SourceStore) -> None:
    """A killed write leaves ``.<name>.<random>.tmp`` beside the records; the export's walk skips
    hidden files, and this clears them so they do not pile up."""
    for directory in (store.directory, store.superseded):
        if directory.is_dir():
            with contextlib.suppress(OSError):
                remove_temporaries(directory)
