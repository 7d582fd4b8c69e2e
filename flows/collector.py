"""The cyclic garbage collector as a process that maps batches wants it: one place, so that the
workers, the flow process that settles their windows, and the benchmark that measures them
(``benchmarks.bench``) do the same.

A mapping process loads for good what the whole run needs (Prefect, fhir.resources' models and
their pydantic-core validators, templates, schemas, compiled FHIRPath): tens of thousands of
objects that every full collection would traverse again. After its first batch they are moved
where the collector no longer looks (``gc.freeze``); garbage is collected first, so none is
kept, and what is frozen is still freed by reference counting.

A study then allocates tens of thousands of containers (dicts and lists of its model, outputs
and trees), nearly all freed by reference counting when the study is done: the interpreter's
default of a young collection every 700 allocations traverses them many times over for
nothing. A larger young threshold (the older generations' unchanged) still lets a cycle of
garbage wait at most a few studies' allocations. What either costs or saves is measured by
``make bench`` (its ``--python-gc`` keeps the interpreter's settings) and stated in the README.
"""

from __future__ import annotations

import gc
import threading

YOUNG_THRESHOLD = 10_000  # allocations between young collections (the interpreter's default: 700)

_SETTLED = threading.Event()


def settle() -> None:
    """Freeze what the process holds and space young collections out; once per process (a
    second call does nothing, so per-batch callers may call it every time)."""
    if _SETTLED.is_set():
        return
    _SETTLED.set()
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
