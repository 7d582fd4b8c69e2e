"""``trialexport sync`` as a user types it, its served form, and the nightly deployment of
``prefect.yaml`` run by a worker: all against the stand-in API."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
import yaml

from mappers.output_layout import REPORT, SYNC_REPORT
from tests.conftest import ROOT
from tests.flows.test_cli import TRIALEXPORT, api_url, cli
from tests.flows.test_serve import prefect_cli, prefect_env, stop, wait_for_deployment

pytestmark = pytest.mark.prefect

FAST = {"TRIALEXPORT_SYNC_BASE_DELAY": "0.01", "TRIALEXPORT_SYNC_MAX_DELAY": "1"}
CRON = "0 3 * * *"
SERVED = ["--rate-limit", "50", "--check-removed", "--cron", CRON]


def sync_cli(tmp_path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return cli(
        "sync", *args, cwd=tmp_path, prefect_home=tmp_path / "ph", api_url=api_url(), env=FAST | (env or {})
    )


def test_sync_on_the_command_line_then_again_with_nothing_new(registry, tmp_path):
    out = tmp_path / "out"
    first = sync_cli(
        tmp_path, "-o", str(out), "--api-url", registry.url, "--rate-limit", "100", "--page-size", "6"
    )
    console = first.stdout + first.stderr
    assert first.returncode == 0, console
    assert (
        f"22 of 22 studies fetched (22 new, 0 changed, 0 unchanged) in 4 pages from {registry.url}" in console
    )
    assert "(data of 2025-11-21T09:00:05)" in console and "watermark 2025-11-21: " in console
    assert "22 studies read: 22 exported (0 unchanged), 0 rejected" in console
    assert "Traceback" not in console

    registry.update(
        "NCT06171568",
        "2025-11-24",
        lambda s: s["protocolSection"]["statusModule"].update(overallStatus="RECRUITING"),
    )
    registry.data_timestamp = "2025-11-24T09:00:03"
    second = sync_cli(tmp_path, "-o", str(out), "--api-url", registry.url, "--rate-limit", "100")
    console = second.stdout + second.stderr
    assert second.returncode == 0, console
    assert "1 of 1 studies fetched (0 new, 1 changed, 0 unchanged) in 1 page" in console
    assert "watermark 2025-11-24 (was 2025-11-21)" in console
    assert "22 exported (21 unchanged)" in console
    [asked] = registry.pages(pageSize="1000")
    assert asked.params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2025-11-20,MAX]"


def test_json_puts_the_sync_report_on_stdout(registry, tmp_path):
    out = tmp_path / "out"
    result = sync_cli(
        tmp_path,
        "-o",
        str(out),
        "--api-url",
        registry.url,
        "--rate-limit",
        "100",
        "--condition",
        "KRAS",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["fetch"]["fetched"] == 9 and summary["query"] == {"query.cond": "KRAS"}
    assert summary["report"] == str(out / SYNC_REPORT)
    saved = json.loads((out / SYNC_REPORT).read_bytes())
    assert summary["fetch"] == saved["fetch"] and summary["watermark"] == saved["watermark"]
    assert summary["run_report"] == str(out / REPORT)  # and what `run --json` says of the export:
    assert summary["run"]["totals"]["exported"] == 9 and summary["run"]["rejected"] == []


def test_an_api_out_of_reach_exits_5_and_holds_the_watermark(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"TRIALEXPORT_SYNC_ATTEMPTS": "2", "TRIALEXPORT_SYNC_TASK_RETRIES": "0"}
    result = sync_cli(
        tmp_path, "-o", str(tmp_path / "out"), "--api-url", f"http://127.0.0.1:{port}/api/v2", env=env
    )
    console = result.stdout + result.stderr
    assert result.returncode == 5, console
    assert "fetch stopped: GET http://127.0.0.1:" in console and "ConnectError" in console
    assert "watermark held at none" in console
    assert "Traceback" not in console


def test_the_served_sync_runs_when_triggered(registry, tmp_path):
    from prefect.deployments import run_deployment

    name = "sync-served-in-a-test"
    output = tmp_path / "out"
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(TRIALEXPORT), "sync", "-o", str(output), "--api-url", registry.url, *SERVED, "--name", name],
            cwd=tmp_path,
            env=prefect_env(tmp_path) | FAST,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deployment = wait_for_deployment(f"sync-trials/{name}", process, log)
        [schedule] = deployment.schedules
        assert schedule.schedule.cron == CRON and schedule.active
        assert deployment.parameters["output"] == str(output) and deployment.parameters["check_removed"]
        flow_run = run_deployment(f"sync-trials/{name}", timeout=240, poll_interval=1)
        assert flow_run.state.is_completed(), (flow_run.state, log.read_text())
    finally:
        stop(process)
    assert "Traceback" not in log.read_text(), log.read_text()
    report = json.loads((output / SYNC_REPORT).read_bytes())
    assert report["fetch"]["fetched"] == 22 and report["removed"]["checked"]


def test_prefect_yaml_schedules_the_nightly_sync():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [deployment] = [d for d in config["deployments"] if d["entrypoint"] == "flows/sync/flow.py:sync_trials"]
    assert deployment["name"] == "nightly" and [s["cron"] for s in deployment["schedules"]] == [CRON]
    assert deployment["concurrency_limit"] == 1 and deployment["work_pool"]["name"] == "trialexport"
    from flows.sync.flow import sync_trials

    assert set(deployment["parameters"]) <= set(sync_trials.parameters.properties)


def test_the_nightly_sync_deployment_runs_on_a_worker(registry, tmp_path):
    """The README's end-to-end: `prefect deploy --all`, a run of sync-trials/nightly, a worker."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    env = prefect_env(tmp_path) | {"PWD": str(ROOT)} | FAST
    prefect_cli("work-pool", "create", "trialexport", "--type", "process", "--overwrite", env=env)
    prefect_cli("deploy", "--all", env=env)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("sync-trials/nightly")
    assert deployment.work_pool_name == "trialexport"
    assert deployment.parameters["condition"] == "KRAS"

    output = tmp_path / "out"  # not the yaml's output/: the test must not write into the checkout
    parameters = {"output": str(output), "api_url": registry.url, "rate_limit": 50}
    flow_run = run_deployment("sync-trials/nightly", parameters=parameters, timeout=0, as_subflow=False)
    prefect_cli("worker", "start", "--pool", "trialexport", "--run-once", env=env, timeout=300)
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run.id).state
    assert state.is_completed(), state
    report = json.loads((output / SYNC_REPORT).read_bytes())
    assert report["query"] == {"query.cond": "KRAS"} and len(report["fetch"]["new"]) == 9
    assert report["removed"]["checked"] and report["watermark"]["advanced"]
    assert json.loads((output / REPORT).read_bytes())["totals"]["exported"] == 9
