"""Syncs that publish to the real test FHIR server (Medplum): what changed is all that is sent, and
a sync killed mid-way, then run again, leaves the outputs and the server as one never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest

from flows.sync.flow import sync_trials
from mappers.output_layout import PUBLISH_LEDGER, REPORT, SOURCES, SYNC_REPORT, SYNC_STATE
from tests.flows.publish.test_publish import assert_each_study_once, identifier_of
from tests.flows.reports import comparable_bytes
from tests.flows.sync.registry import fixture_studies, nct_of
from tests.flows.test_cli import TRIALEXPORT
from tests.flows.test_crash import environment, is_temporary, ledger_content

pytestmark = pytest.mark.server

ALL = sorted(nct_of(s) for s in fixture_studies())
CHANGED = ["NCT03475563", "NCT06171568"]
FAST = {
    "TRIALEXPORT_SYNC_BASE_DELAY": "0.01",
    "TRIALEXPORT_SYNC_MAX_DELAY": "1",
    "TRIALEXPORT_FHIR_BASE_DELAY": "0.01",
    "TRIALEXPORT_FHIR_MAX_DELAY": "1",
}


@pytest.fixture
def fast(monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)


def server_state(fhir) -> dict[tuple[str, str], dict]:
    """Every ResearchStudy and PlanDefinition on the server by identifier, without what the server
    makes up (ids, meta), references written as the identifier they point at. Fails on a second
    resource with one identifier."""
    resources = fhir.search("ResearchStudy") + fhir.search("PlanDefinition")
    names = {
        f"{r['resourceType']}/{r['id']}": f"{r['resourceType']}?identifier={identifier_of(r)}"
        for r in resources
    }
    state = {}
    for resource in resources:
        text = json.dumps({k: v for k, v in resource.items() if k not in ("id", "meta")}, sort_keys=True)
        for reference, name in names.items():
            text = text.replace(f'"{reference}"', f'"{name}"')
        key = (resource["resourceType"], identifier_of(resource))
        assert key not in state, f"{key} twice on the server"
        state[key] = json.loads(text)
    return state


def test_syncs_publish_everything_then_only_the_two_changed_studies(registry, server, tmp_path, fast):
    out = tmp_path / "out"
    first = sync_trials(output=str(out), api_url=registry.url, rate_limit=1000.0, fhir_url=server.base_url)
    assert first["publish"]["totals"]["sent"] == len(ALL) and first["publish"]["totals"]["failed"] == 0
    assert first["watermark"]["advanced"]
    assert_each_study_once(server, out)

    for nct in CHANGED:
        registry.update(
            nct,
            "2025-11-24",
            lambda s: s["protocolSection"]["statusModule"].update(overallStatus="COMPLETED"),
        )
    registry.data_timestamp = "2025-11-24T09:00:03"
    second = sync_trials(output=str(out), api_url=registry.url, rate_limit=1000.0, fhir_url=server.base_url)
    assert second["fetch"]["changed"] == CHANGED and second["fetch"]["fetched"] == 2
    totals = second["publish"]["totals"]
    assert (totals["published"], totals["sent"], totals["unchanged"]) == (len(ALL), 2, len(ALL) - 2)
    assert second["watermark"] == {
        "previous": "2025-11-21",
        "current": "2025-11-24",
        "advanced": True,
        "held_because": [],
    }
    assert_each_study_once(server, out)
    versions = {
        s["identifier"][0]["value"]: len(server.history("ResearchStudy", s["id"]))
        for s in server.search("ResearchStudy")
    }
    assert sorted(k for k, v in versions.items() if v > 1) == CHANGED  # updated in place, not duplicated
    statuses = {s["identifier"][0]["value"]: s.get("status") for s in server.search("ResearchStudy")}
    assert all(statuses[n] == "completed" for n in CHANGED)


def test_a_publish_failure_holds_the_watermark_and_the_next_sync_sends_the_rest(
    registry, server, tmp_path, fast, monkeypatch
):
    monkeypatch.setenv("TRIALEXPORT_FHIR_ATTEMPTS", "1")
    monkeypatch.setenv("TRIALEXPORT_FHIR_TASK_RETRIES", "0")
    monkeypatch.setenv("TRIALEXPORT_FHIR_PREFLIGHT_ATTEMPTS", "0")
    out = tmp_path / "out"
    server.faults(status500=3)
    first = sync_trials(output=str(out), api_url=registry.url, rate_limit=1000.0, fhir_url=server.base_url)
    assert first["publish"]["totals"]["failed"] == 3
    assert first["watermark"]["held_because"] == [f"3 studies not confirmed on {server.base_url}"]
    assert first["watermark"]["current"] is None
    second = sync_trials(output=str(out), api_url=registry.url, rate_limit=1000.0, fhir_url=server.base_url)
    assert second["fetch"]["unchanged"] == len(ALL)  # asked again from where the watermark was
    assert second["publish"]["totals"]["sent"] == 3 and second["watermark"]["advanced"]
    assert_each_study_once(server, out)


# -- killed and rerun ------------------------------------------------------------------------


def comparable(root: Path) -> dict[str, object]:
    """An output directory as far as it must not depend on whether its sync was interrupted:
    every file byte for byte, but what records a run's history (timestamps, the NDJSON
    manifest's transaction time, which run sent a study, server ids after a reset, how much a
    rerun was spared)."""
    found: dict[str, object] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if is_temporary(relative):
            continue
        if relative == REPORT:
            report = orjson.loads(path.read_bytes())
            report.pop("run")
            report["totals"].pop("skipped")
            publish = report.pop("publish")
            report["published"] = {k: publish["totals"][k] for k in ("studies", "published", "failed")}
            for entry in report["studies"]:
                section = entry.pop("publish")
                entry["publish"] = (
                    section["status"],
                    [r["resourceType"] for r in section.get("resources", [])],
                )
            found[relative] = report
        elif relative == PUBLISH_LEDGER:
            servers = orjson.loads(path.read_bytes())["servers"]
            found[relative] = {
                url: {k: (e["bundle_sha256"], e["content_hash"]) for k, e in studies.items()}
                for url, studies in servers.items()
            }
        elif relative.startswith("export-ledger.sqlite"):
            found[relative] = ledger_content(path)
        elif relative == SYNC_STATE:
            state = orjson.loads(path.read_bytes())
            found[relative] = (state["watermark"], state["query"], state["started"])
        elif relative == SYNC_REPORT:
            report = orjson.loads(path.read_bytes())
            found[relative] = (
                report["watermark"]["current"],
                report["fetch"]["fetched"],
                report["fetch"]["complete"],
            )
        else:
            found[relative] = comparable_bytes(root, relative)
    return found


def start_sync(cwd: Path, registry, fhir, env: dict[str, str]) -> subprocess.Popen:
    cwd.mkdir(exist_ok=True)
    command = [str(TRIALEXPORT), "sync", "-o", "out", "--api-url", registry.url, "--fhir-url", fhir.base_url]
    command += ["--rate-limit", "5", "--page-size", "4", "--quiet"]
    env = environment(cwd / "ph") | FAST | env
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


def kill_when(process: subprocess.Popen, ready, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"the sync ended before {what}: {process.communicate()[0]}"
        assert time.monotonic() < deadline, f"not {what} after {timeout} s"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)


@pytest.mark.crash
def test_a_sync_killed_while_fetching_and_while_publishing_then_rerun_equals_one_never_interrupted(
    registry, server, tmp_path
):
    reference = tmp_path / "reference"
    finish(start_sync(reference, registry, server, {}))
    expected_server = server_state(server)
    assert len(expected_server) == 2 * len(ALL)
    server.reset()

    interrupted = tmp_path / "interrupted"  # the same relative output path: the reports name it
    paged = threading.Event()

    def on_a_later_page(logged) -> None:
        if "pageToken" in logged.params:
            paged.set()

    registry.on_request = on_a_later_page
    first = start_sync(interrupted, registry, server, {})
    kill_when(first, paged.is_set, "the second page was asked for")
    registry.on_request = None
    stored = {p.name for p in (interrupted / "out" / SOURCES).glob("*.json")}
    assert 4 <= len(stored) < len(ALL)  # killed mid-fetch: some records on disk, whole
    for name in stored:
        orjson.loads((interrupted / "out" / SOURCES / name).read_bytes())
    state = orjson.loads((interrupted / "out" / SYNC_STATE).read_bytes())
    assert state["watermark"] is None and state["started"]

    second = start_sync(interrupted, registry, server, {"TRIALEXPORT_FHIR_RATE_LIMIT": "4"})
    kill_when(second, lambda: server.stats()["transactions"] >= 6, "6 bundles were stored")
    assert 6 <= server.stats()["transactions"] < len(ALL)  # killed mid-publish

    output = finish(start_sync(interrupted, registry, server, {}))
    assert "Traceback" not in output
    report = orjson.loads((interrupted / "out" / SYNC_REPORT).read_bytes())
    assert "did not finish" in report["window"]["notes"][0] and report["watermark"]["advanced"]
    assert comparable(interrupted / "out") == comparable(reference / "out")
    assert server_state(server) == expected_server
    assert_each_study_once(server, interrupted / "out")
