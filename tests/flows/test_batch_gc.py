"""flows.batch: a process that maps batches freezes what it loaded for good after its first one,
and only once, and spaces young collections out (flows.collector; in a subprocess: both are
for the life of a process)."""

from __future__ import annotations

import subprocess
import sys

from flows.collector import YOUNG_THRESHOLD
from tests.conftest import ROOT, SEEDS

SCRIPT = f"""
import gc, logging, tempfile
from flows.batch import map_batch
from flows.settings import ExportSettings

paths = sorted(str(p) for p in __import__("pathlib").Path({str(SEEDS)!r}).glob("*.txt"))
with tempfile.TemporaryDirectory() as out:
    settings = ExportSettings(output=out)
    assert gc.get_freeze_count() == 0
    default = gc.get_threshold()
    map_batch(paths[:1], settings, logging.getLogger("test"))
    frozen = gc.get_freeze_count()
    map_batch(paths[1:], settings, logging.getLogger("test"))
    print(frozen, gc.get_freeze_count())
    print(*default)
    print(*gc.get_threshold())
"""


def test_the_first_batch_freezes_what_the_process_loaded_once():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    counts, default, settled = (line.split() for line in done.stdout.splitlines())
    first, after = map(int, counts)
    assert first > 50_000  # without Prefect, still ~90,000 objects: models, validators, templates
    assert after <= first  # the second batch froze nothing more (some frozen ones were freed)
    assert int(settled[0]) == YOUNG_THRESHOLD > int(default[0])
    assert settled[1:] == default[1:]  # the older generations as the interpreter has them
