"""Writing the output directory so that a crash never leaves a half-written file.

Every file is written to a temporary name in its own directory and renamed over the target
(``os.replace`` is atomic on POSIX). NDJSON files grow batch by batch under a ``.partial`` name
and take their final name only when the run completes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import orjson

from mappers.finish import dump_json, dump_json_line


def write_atomic(path: Path, data: bytes, durable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class NdjsonWriter:
    """One ``<ResourceType>.ndjson`` per resource type, ready for a bulk ``$import``."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.types: set[str] = set()

    def _partial(self, resource_type: str) -> Path:
        return self.directory / f".{resource_type}.ndjson.partial"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(".*.ndjson.partial"):
            stale.unlink()

    def append(self, resources: dict[str, list[dict]]) -> None:
        for resource_type, items in resources.items():
            self.types.add(resource_type)
            with self._partial(resource_type).open("ab") as handle:
                handle.writelines(dump_json_line(item) for item in items)

    def finish(self) -> list[Path]:
        written = []
        for resource_type in sorted(self.types):
            final = self.directory / f"{resource_type}.ndjson"
            os.replace(self._partial(resource_type), final)
            written.append(final)
        for old in self.directory.glob("*.ndjson"):  # types no study produced this run
            if old.stem not in self.types:
                old.unlink()
        return written


def write_report(path: Path, report: dict) -> None:
    write_atomic(path, dump_json(report), durable=True)


def read_ledger(path: Path, fmt: int, section: str) -> dict:
    """One section of a versioned JSON ledger (export or publish), empty when there is none yet.

    A ledger of another format is refused rather than guessed at: its records decide what is
    skipped or not re-sent."""
    if not path.is_file():
        return {}
    data = orjson.loads(path.read_bytes())
    if data.get("format") != fmt:
        raise ValueError(f"{path}: unknown ledger format {data.get('format')!r}")
    return data.get(section, {})
