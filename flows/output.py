"""Writing the output directory so that a crash never leaves a half-written file.

Every file is written to a temporary name in its own directory and renamed over the target
(``os.replace`` is atomic on POSIX). NDJSON files grow batch by batch under a ``.partial`` name
and take their final name only when the run completes. A run killed mid-write (SIGKILL, power)
leaves its temporary files behind; hidden, they are never taken for outputs, and the next run
removes them (``remove_temporaries``, ``NdjsonWriter.start``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

import orjson

from mappers.finish import dump_json, dump_json_line

_TEMPORARY_SUFFIX = ".tmp"
# what write_atomic's mkstemp names look like: ".<name>.<8 random characters>.tmp"
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def write_atomic(path: Path, data: bytes, durable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX)
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


def remove_temporaries(root: Path) -> int:
    """Delete what writes cut short by a killed run left in ``root``; returns how many.

    Only names ``write_atomic`` makes are touched, so a user's own ``.notes.tmp`` survives; hidden
    directories (``.git``) are not entered. A walk of the tree costs about what the run's check
    that every recorded output is still on disk costs, once per run. Call it only while no
    other writer uses ``root``: a temporary file in use would be pulled from under its rename.
    """
    removed = 0
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        for name in names:
            if _TEMPORARY.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, name))
                    removed += 1
    return removed


class NdjsonWriter:
    """One ``<ResourceType>.ndjson`` per resource type, ready for a bulk ``$import``."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.types: set[str] = set()
        self._handles: dict[str, BinaryIO] = {}  # open for the run: one open per type, not per study

    def _partial(self, resource_type: str) -> Path:
        return self.directory / f".{resource_type}.ndjson.partial"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(".*.ndjson.partial"):
            stale.unlink()

    def append(self, resources: dict[str, list[dict | bytes]]) -> None:
        for resource_type, items in resources.items():
            handle = self._handles.get(resource_type)
            if handle is None:
                self.types.add(resource_type)
                handle = self._handles[resource_type] = self._partial(resource_type).open("ab")
            # bytes: a line already serialised in the batch's worker, off the flow process
            handle.writelines(item if isinstance(item, bytes) else dump_json_line(item) for item in items)

    def finish(self) -> list[Path]:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
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
