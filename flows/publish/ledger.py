"""What has been published where: a small JSON file in the output directory.

Keyed by server, then study key; a record holds the SHA-256 of the bundle bytes that were
accepted, the source's content hash, and the server ids and versions. A study counts as
unchanged only when the bundle about to be sent has the same SHA-256 as the one recorded: the
source's content hash alone would miss a template change, which alters the bundle but not the
source.

The file is replaced atomically (temporary file + rename), so a crash leaves the previous or the
new ledger, never a torn one. It is flushed every few records and at the end of each batch, not
after every study: a study published but not yet flushed when a crash happens is simply sent
again, which the conditional PUTs make harmless.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from flows.errors import LedgerFormatError
from flows.output import write_atomic
from flows.records import ServerResource
from mappers.finish import dump_json
from mappers.output_layout import PUBLISH_LEDGER

LEDGER_NAME = PUBLISH_LEDGER
FORMAT = 1


class PublishRecord(BaseModel):
    """One study on one server, as last accepted."""

    model_config = ConfigDict(extra="forbid")

    bundle_sha256: str
    content_hash: str | None
    resources: list[ServerResource]
    published: str


def _read(path: Path) -> dict[str, dict[str, PublishRecord]]:
    """Server -> study key -> record; empty when there is no ledger yet. A ledger of another
    format is refused rather than guessed at: its records decide what is not sent again."""
    if not path.is_file():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise LedgerFormatError(f"{path}: not a publish ledger ({exc}); {_WHAT_TO_DO}") from None
    found = data.get("format") if isinstance(data, dict) else None
    if found != FORMAT:
        raise LedgerFormatError(
            f"{path}: publish ledger format {found}, this trialexport reads format {FORMAT}; {_WHAT_TO_DO}"
        )
    try:
        return {
            server: {key: PublishRecord.model_validate(record) for key, record in studies.items()}
            for server, studies in data.get("servers", {}).items()
        }
    except (ValidationError, AttributeError) as exc:
        raise LedgerFormatError(f"{path}: not a publish ledger ({exc}); {_WHAT_TO_DO}") from None


_WHAT_TO_DO = "move it aside (the next publish sends every bundle again) or choose another output"


def check_ledger(output: Path) -> None:
    """Raise LedgerFormatError when ``output`` holds a publish ledger this version cannot use."""
    _read(Path(output) / LEDGER_NAME)


class Ledger:
    """Thread-safe: the studies of a batch are published from a thread pool."""

    def __init__(self, path: Path, flush_every: int = 50, flush_seconds: float = 2.0):
        self.path = path
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._dirty = 0
        self._last_flush = time.monotonic()
        self._servers = _read(path)

    @classmethod
    def in_output(cls, output: str | Path) -> Ledger:
        return cls(Path(output) / LEDGER_NAME)

    def get(self, server: str, key: str) -> PublishRecord | None:
        with self._lock:
            return self._servers.get(server, {}).get(key)

    def is_current(self, server: str, key: str, bundle_sha256: str) -> bool:
        record = self.get(server, key)
        return record is not None and record.bundle_sha256 == bundle_sha256

    def record(
        self,
        server: str,
        key: str,
        bundle_sha256: str,
        content_hash: str | None,
        resources: list[ServerResource],
    ) -> PublishRecord:
        record = PublishRecord(
            bundle_sha256=bundle_sha256,
            content_hash=content_hash,
            resources=resources,
            published=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._lock:
            self._servers.setdefault(server, {})[key] = record
            self._dirty += 1
            due = self._dirty >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds
        if due:
            self.flush()
        return record

    def flush(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            servers: dict[str, Any] = {
                server: {key: _record_json(record) for key, record in studies.items()}
                for server, studies in self._servers.items()
            }
            write_atomic(self.path, dump_json({"format": FORMAT, "servers": servers}), durable=True)
            self._dirty = 0
            self._last_flush = time.monotonic()


def _record_json(record: PublishRecord) -> dict[str, Any]:
    return {
        "bundle_sha256": record.bundle_sha256,
        "content_hash": record.content_hash,
        "resources": [r.to_json() for r in record.resources],
        "published": record.published,
    }
