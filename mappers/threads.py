"""State that batch threads must not share, and the one way this package keeps it apart.

The export maps its batches in threads (Prefect's default task runner), so every module-level
object that a study's export touches is shared by all of them. Immutable values, ``re`` patterns,
Jinja templates (documented thread-safe once loaded) and ``functools`` caches of pure functions
are fine. lxml parsers and compiled XML schemas are not: lxml's FAQ allows concurrent parsing
only with "the default parser (which is replicated for each thread) or a parser for each thread",
and libxml2 keeps a schema's error log and a parser's name dictionary on the object. Sharing them
made valid documents fail now and then under load (a schema import losing its namespace, a
rendered PRS element name cut short), so each thread gets its own, built on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerThread(Generic[T]):
    """``factory()`` once per thread: call the object to get this thread's value."""

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._local = threading.local()

    def __call__(self) -> T:
        try:
            return self._local.value
        except AttributeError:
            value = self._local.value = self._factory()
            return value
