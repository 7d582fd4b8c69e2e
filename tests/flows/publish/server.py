"""Starting, stopping and steering the test FHIR server (tests/fhir_server/server.mjs).

The server is a child process on 127.0.0.1; it picks a free port and says which on stdout. It
is stopped by its process id. A test that needs it and cannot start it fails: a skipped publish
test would let a broken setup pass unnoticed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

SERVER_DIR = ROOT / "tests" / "fhir_server"
START_TIMEOUT = 90


def node_command() -> list[str]:
    """Node >= 22.4 has a WebSocket global, which Medplum's core reads when imported; older Node
    (20 here) has it behind ``--experimental-websocket``."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the publish tests need Node.js >= 20 for their FHIR server")
    if not (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail(
            "the test FHIR server is not installed: run `npm ci --prefix tests/fhir_server` (make test)"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = (int(part) for part in version.strip().lstrip("v").split(".")[:2])
    return [node, "--experimental-websocket"] if (major, minor) < (22, 4) else [node]


class FhirServer:
    """One launcher process; ``restart`` brings it back on the same port (and data file)."""

    def __init__(self, data_file: Path | None = None):
        self.data_file = data_file
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/admin"

    def start(self) -> FhirServer:
        command = [*node_command(), "server.mjs", "--port", str(self.port)]
        if self.data_file:
            command += ["--data", str(self.data_file)]
        self.process = subprocess.Popen(
            command,
            cwd=SERVER_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(self.process, ready), daemon=True).start()
        if not ready.wait(START_TIMEOUT) or self.process.poll() is not None:
            self.stop()
            pytest.fail("the test FHIR server did not start:\n" + "\n".join(self.output[-40:]))
        return self

    def _read(self, process: subprocess.Popen, ready: threading.Event) -> None:
        for line in process.stdout:
            self.output.append(line.rstrip())
            if line.startswith("listening http://127.0.0.1:") and not ready.is_set():
                self.port = int(line.split(":")[2].split("/")[0])
                ready.set()
        ready.set()  # exited: let start() see it

    def stop(self) -> None:
        """SIGTERM by pid, then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def wait_exit(self, timeout: float = 30) -> int:
        return self.process.wait(timeout)

    def restart(self) -> FhirServer:
        self.stop()
        return self.start()

    def faults(self, **faults) -> dict:
        return httpx.post(f"{self.admin_url}/faults", json=faults, timeout=10).raise_for_status().json()

    def stats(self) -> dict:
        return httpx.get(f"{self.admin_url}/stats", timeout=10).raise_for_status().json()

    def reset(self) -> None:
        httpx.post(f"{self.admin_url}/reset", timeout=10).raise_for_status()
        self.faults(
            status500=0,
            status429=0,
            drop=0,
            dropAfterWrite=0,
            status413=0,
            exitAfterWrites=-1,
            retryAfter="1",
            maxBodyBytes=0,
            maxEntries=0,
            fhirVersion="4.0.1",
        )

    def search(self, resource_type: str, **params) -> list[dict]:
        params.setdefault("_count", "1000")
        bundle = httpx.get(f"{self.base_url}/{resource_type}", params=params, timeout=30)
        bundle.raise_for_status()
        return [e["resource"] for e in bundle.json().get("entry", [])]

    def history(self, resource_type: str, rid: str) -> list[dict]:
        bundle = httpx.get(f"{self.base_url}/{resource_type}/{rid}/_history", timeout=30).raise_for_status()
        return [e["resource"] for e in bundle.json().get("entry", [])]


@contextlib.contextmanager
def running(data_file: Path | None = None):
    server = FhirServer(data_file).start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(condition, timeout: float = 30, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(step)
