"""How far a run has got, for whoever in this process wants to know (the CLI's progress bar).

The flow reports into module-level functions rather than taking a callback parameter: a
parameter would show in the Prefect UI and in deployments, and a callable cannot be one. With
nobody listening (a deployment, a worker, ``export_trials`` from Python) the calls cost a lookup.
A listener that fails is dropped, never allowed to fail the run it watches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Listener(Protocol):
    def start(self, total_inputs: int) -> None: ...

    def advance(self, inputs: int, studies: int) -> None: ...


class FetchListener(Listener, Protocol):
    """A listener that also shows a registry sync's fetch (``flows.sync``); one without these
    methods is simply not told about fetching."""

    def fetch_started(self, expected: int | None) -> None: ...

    def fetched(self, studies: int) -> None: ...


_listener: Listener | None = None
_lock = threading.Lock()  # collect() runs in the flow's thread, not necessarily the caller's


@contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Send this process's run progress to ``listener`` for the duration of the block."""
    global _listener
    with _lock:
        previous, _listener = _listener, listener
    try:
        yield listener
    finally:
        with _lock:
            _listener = previous


def _tell(method: str, *args: int | None) -> None:
    global _listener
    with _lock:
        listener = _listener
        call = getattr(listener, method, None)
        if call is None:
            return
        try:
            call(*args)
        except Exception:  # a display must not cost the export
            logging.getLogger(__name__).warning(
                "progress display failed; continuing without it", exc_info=True
            )
            _listener = None


def start(total_inputs: int) -> None:
    """The run has found its inputs."""
    _tell("start", total_inputs)


def advance(inputs: int, studies: int) -> None:
    """``inputs`` more inputs are done (written or rejected), holding ``studies`` studies."""
    _tell("advance", inputs, studies)


def fetch_started(expected: int | None) -> None:
    """A sync has asked the registry: ``expected`` studies match (None: the API did not say)."""
    _tell("fetch_started", expected)


def fetched(studies: int) -> None:
    """``studies`` more studies have been fetched and stored."""
    _tell("fetched", studies)
