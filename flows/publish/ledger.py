"""What has been published where: a small JSON file in the output directory.

Keyed by server, then study key; an entry holds the SHA-256 of the bundle bytes that were
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

from flows.output import read_ledger, write_atomic
from mappers.finish import dump_json

LEDGER_NAME = "publish-ledger.json"
FORMAT = 1


class Ledger:
    """Thread-safe: the studies of a batch are published from a thread pool."""

    def __init__(self, path: Path, flush_every: int = 50, flush_seconds: float = 2.0):
        self.path = path
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._dirty = 0
        self._last_flush = time.monotonic()
        self._servers: dict[str, dict[str, dict]] = read_ledger(path, FORMAT, "servers")

    @classmethod
    def in_output(cls, output: str | Path) -> Ledger:
        return cls(Path(output) / LEDGER_NAME)

    def get(self, server: str, key: str) -> dict | None:
        with self._lock:
            return self._servers.get(server, {}).get(key)

    def is_current(self, server: str, key: str, bundle_sha256: str) -> bool:
        entry = self.get(server, key)
        return entry is not None and entry.get("bundle_sha256") == bundle_sha256

    def record(
        self, server: str, key: str, bundle_sha256: str, content_hash: str | None, resources: list[dict]
    ) -> dict:
        entry = {
            "bundle_sha256": bundle_sha256,
            "content_hash": content_hash,
            "resources": resources,
            "published": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with self._lock:
            self._servers.setdefault(server, {})[key] = entry
            self._dirty += 1
            due = self._dirty >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds
        if due:
            self.flush()
        return entry

    def flush(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            data = dump_json({"format": FORMAT, "servers": self._servers})
            write_atomic(self.path, data, durable=True)
            self._dirty = 0
            self._last_flush = time.monotonic()
