"""What the last runs exported from each input, so that an unchanged input is not exported again.

An input is unchanged when the SHA-256 of its bytes and the run's *fingerprint* are both what the
ledger recorded, and the outputs it recorded are still on disk. The fingerprint covers everything
else an output depends on: the effective template set (each file the Jinja loaders would pick,
shipped templates overlaid by ``--templates``), the mapping settings and the trialexport version.
Hashing the template files instead of trusting the overlay directory's name means an edited
template re-exports everything, which is the point: a template change alters every bundle.

The ledger is one JSON file in the output directory, replaced atomically (temporary file +
rename) like ``publish-ledger.json``: a crash leaves the previous or the new ledger, never a torn
one. Rewriting it after every batch would cost O(studies²) over a registry-sized run, so it is
flushed when a few seconds have passed and once more when the run ends or fails; an input
exported but not yet flushed at a hard kill is simply exported again next time.
"""

from __future__ import annotations

import hashlib
import json
import time
from importlib.metadata import version
from pathlib import Path

from flows.output import read_ledger, write_atomic
from mappers.context import MappingSettings
from mappers.finish import dump_json
from mappers.render import SHIPPED_TEMPLATES

LEDGER_NAME = "export-ledger.json"
FORMAT = 1
# Report pages are rendered afresh every run from run-report.json: they never change an export.
_NOT_MAPPING = ("report",)


def _template_files(directory: Path) -> dict[str, Path]:
    found = {}
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        hidden = any(part.startswith(".") for part in relative.parts)
        if path.is_file() and not hidden and relative.parts[0] not in _NOT_MAPPING:
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
    """Input source -> ``{"sha256", "fingerprint", "entries", "outputs", "lost"}``.

    ``entries`` are the run-report entries the input produced *before* duplicate identifiers were
    settled across the run: whether a study is a duplicate depends on the other inputs, so it is
    decided again every run, from these. ``lost`` numbers the entries that were duplicates: their
    ``outputs`` on disk are the files of the input that kept the identifier, so the input can be
    reused only while the same entries lose again.
    """

    def __init__(self, path: Path, flush_seconds: float = 5.0):
        self.path = path
        self.flush_seconds = flush_seconds
        self._inputs: dict[str, dict] = read_ledger(path, FORMAT, "inputs")
        self._dirty = False
        self._last_flush = time.monotonic()

    @classmethod
    def in_output(cls, output: str | Path) -> ExportLedger:
        return cls(Path(output) / LEDGER_NAME)

    def get(self, source: str) -> dict | None:
        return self._inputs.get(source)

    def sources(self) -> list[str]:
        return sorted(self._inputs)

    def record(self, source: str, sha256: str, fp: str, entries: list[dict], lost: list[int]) -> None:
        outputs = sorted({o for entry in entries for o in entry["outputs"]})
        self._inputs[source] = {
            "sha256": sha256,
            "fingerprint": fp,
            "entries": entries,
            "outputs": outputs,
            "lost": lost,
        }
        self._dirty = True

    def forget(self, source: str) -> None:
        if self._inputs.pop(source, None) is not None:
            self._dirty = True

    def flush(self, force: bool = False) -> None:
        if not self._dirty or (not force and time.monotonic() - self._last_flush < self.flush_seconds):
            return
        write_atomic(self.path, dump_json({"format": FORMAT, "inputs": self._inputs}), durable=True)
        self._dirty = False
        self._last_flush = time.monotonic()


def unchanged(previous: dict | None, sha256: str, fp: str, output: Path) -> bool:
    """Whether an input's recorded outputs can stand for a fresh export of it."""
    return (
        previous is not None
        and previous["sha256"] == sha256
        and previous["fingerprint"] == fp
        and all((output / relative).is_file() for relative in previous["outputs"])
    )
