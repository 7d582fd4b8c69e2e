"""A corpus of a few hundred inputs made from the fixtures, for tests that need a long run.

Copies get new NCT ids (every occurrence of the original replaced), so each is a study of its
own rather than a duplicate; free-text documents carry no NCT id and are keyed by file name.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
_NCT = re.compile(rb"NCT\d{8}")


def _sources() -> list[Path]:
    """The small legacy XML records, two API v2 records and the free-text documents: every
    layout but CSV (one CSV would be hundreds of studies in one input), at ~8 ms a study."""
    ctgov = FIXTURES / "ctgov"
    xml = [p for p in sorted((ctgov / "xml").glob("*.xml")) if p.stat().st_size < 10_000]
    json = [ctgov / "json" / "v2" / name for name in ("NCT03418623.json", "NCT06171568.json")]
    return [*xml, *json, *sorted((FIXTURES / "samples" / "docs").glob("*.txt"))]


def build_corpus(directory: Path, count: int, seed: int = 7) -> list[Path]:
    """``count`` inputs in ``directory`` (in subdirectories of 50, as a registry dump would be)."""
    rng = random.Random(seed)
    sources = _sources()
    written = []
    for number in range(count):
        source = sources[number % len(sources)]
        data = source.read_bytes()
        new_id = f"NCT9{number:07d}".encode()
        data = _NCT.sub(new_id, data) if source.suffix != ".txt" else data
        if source.suffix == ".txt" and rng.random() < 0.5:
            data = data.replace(b"\n", b"\r\n")  # a copy from another machine: same study
        target = directory / f"part{number // 50:02d}" / f"{number:04d}_{source.stem}{source.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written
