"""Prefect's temporary server for a command run without ``PREFECT_API_URL``, started by us, early.

Left to Prefect, the temporary server starts when the flow first calls the API: after this
process has imported the flow, the mappers and Prefect's whole server package (~1.7 s of imports
for a process that only launches it), and it takes ~10 s to boot. Started here, right after
Prefect's settings are read, it boots while this process imports the rest: the run's first study
comes that much sooner. Started by us, its address is known before the flow starts, so processes
started from here — the Dask workers of ``--workers`` — report to it through ``PREFECT_API_URL``
instead of each booting a temporary server of its own (~10 s of CPU each, which made a local
Dask cluster cost ~15 s before its first task).

The server is Prefect's own, launched the way Prefect 3.9's ``SubprocessASGIServer`` launches it
(uvicorn running ``prefect.server.api.server:create_app``, the UI off, the ephemeral flags on,
this process's settings in its environment), and stopped when the command ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger("prefect")
_PORT_IN_USE = 3  # uvicorn's exit code when it cannot bind
_DRAIN_TIMEOUT = 5  # seconds each of Prefect's queues may take to send what it holds


class ServerStartError(RuntimeError):
    """The temporary server did not answer in time."""


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryServer:
    """A Prefect server subprocess: ``start()`` launches it and returns at once, ``wait()`` until
    it answers, ``stop()`` ends it."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        import prefect
        import prefect.main
        from prefect.settings import get_current_settings

        self.port = _free_port()
        logger.info("Starting temporary server on http://127.0.0.1:%s", self.port)
        environment = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **get_current_settings().to_environment_variables(exclude_unset=True),
        }
        app_dir = str(Path(prefect.__file__).resolve().parent.parent)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                app_dir,
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=environment,
        )

    def wait(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                code = self.process.poll()
                if code == _PORT_IN_USE:  # taken between our look and uvicorn's bind: again
                    self.start()
                elif code is not None:
                    raise ServerStartError(f"Prefect's temporary server exited with code {code}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                time.sleep(0.1)
        raise ServerStartError(f"Prefect's temporary server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        drain_prefect_queues()
        logger.info("Stopping temporary server on http://127.0.0.1:%s", self.port)
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _queue_services() -> list[Any]:
    """Prefect's services that queue work for the API in this process, of those it has loaded."""
    services: list[Any] = []
    if "prefect.logging.handlers" in sys.modules:
        from prefect.logging.handlers import APILogWorker

        services.append(APILogWorker)
    if "prefect.events.worker" in sys.modules:
        from prefect.events.worker import EventsWorker

        services.append(EventsWorker)
    return services


def drain_prefect_queues() -> None:
    """Send this process's logs and events still queued for the API while the server answers.

    Prefect drains them when the process exits, by which time the server would be gone: a log
    sent then is lost and its handler prints "Error logging to API". Called in this process before
    the temporary server stops; a Dask worker runs :func:`drain_prefect_queues_in_loop`."""
    for service in _queue_services():
        service.drain_all(timeout=_DRAIN_TIMEOUT)


async def drain_prefect_queues_in_loop() -> None:
    """:func:`drain_prefect_queues` for a thread that runs an event loop, as a Dask worker's
    ``Client.run`` calls do: there Prefect's ``drain_all`` returns an awaitable, which a plain
    call would drop unawaited (nothing drained, and a RuntimeWarning printed)."""
    for service in _queue_services():
        await service.drain_all(timeout=_DRAIN_TIMEOUT)


def needs_temporary_server() -> bool:
    """No API URL in Prefect's settings (environment or profile), and temporary servers allowed."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    return not settings.api.url and settings.server.ephemeral.enabled


@contextlib.contextmanager
def early_temporary_server() -> Iterator[TemporaryServer | None]:
    """Start the temporary server now if the run needs one; the caller imports what it needs,
    then calls :func:`use` before the flow starts. Stopped on the way out, whatever happens."""
    if not needs_temporary_server():
        yield None
        return
    server = TemporaryServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def use(server: TemporaryServer | None) -> Iterator[None]:
    """Wait for ``server`` and point this process (Prefect's settings) and the processes it
    starts (``PREFECT_API_URL``) at it; nothing for ``None``."""
    if server is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, get_current_settings, temporary_settings

    server.wait(get_current_settings().server.ephemeral.startup_timeout_seconds)
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        # no UI link in the logs: the temporary server serves no UI
        with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_UI_URL: ""}):
            yield
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
