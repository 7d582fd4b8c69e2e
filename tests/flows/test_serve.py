"""Scheduled runs: ``trialexport serve`` as a user starts it, a run triggered through the API, and
the ``prefect.yaml`` that ``prefect deploy`` reads."""

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from tests.conftest import ROOT, SEEDS
from tests.flows.test_cli import TRIALEXPORT, api_url

pytestmark = pytest.mark.prefect

NAME = "served-in-a-test"
DEPLOYMENT = f"export-trials/{NAME}"
CRON = "0 2 * * *"


def prefect_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "ph"), "PREFECT_API_URL": api_url(), "COLUMNS": "200"}
    return env


def wait_for_deployment(name: str, process: subprocess.Popen, log, timeout: float = 120):
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                return client.read_deployment_by_name(name)
            except Exception:  # not registered yet
                time.sleep(1)
    pytest.fail(f"no deployment {name} after {timeout} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C, as a user stops it (Prefect then pauses the schedule); killed if it will not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_a_served_deployment_runs_when_triggered_through_the_api(tmp_path):
    from prefect.deployments import run_deployment

    output = tmp_path / "out"
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(TRIALEXPORT), "serve", str(SEEDS), "-o", str(output), "--cron", CRON, "--name", NAME],
            cwd=tmp_path,
            env=prefect_env(tmp_path),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deployment = wait_for_deployment(DEPLOYMENT, process, log)
        [schedule] = deployment.schedules
        assert schedule.schedule.cron == CRON and schedule.active
        assert deployment.parameters["inputs"] == [str(SEEDS)]
        assert deployment.parameters["output"] == str(output)

        flow_run = run_deployment(DEPLOYMENT, timeout=240, poll_interval=1)
        assert flow_run.state.is_completed(), (flow_run.state, log.read_text())
    finally:
        stop(process)
    assert "Traceback" not in log.read_text(), log.read_text()
    report = json.loads((output / "run-report.json").read_bytes())
    assert {k: report["totals"][k] for k in ("inputs", "exported", "rejected")} == {
        "inputs": 2,
        "exported": 2,
        "rejected": 0,
    }
    assert all((output / path).is_file() for study in report["studies"] for path in study["outputs"])


def test_a_bad_cron_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [str(TRIALEXPORT), "serve", str(SEEDS), "--cron", "at two", "--output", str(tmp_path)],
        env=prefect_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "invalid --cron" in result.stderr


def test_prefect_yaml_deploys_the_export_flow_on_a_cron_schedule():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [deployment] = [d for d in config["deployments"] if d["entrypoint"].startswith("flows/export.py")]
    assert deployment["entrypoint"] == "flows/export.py:export_trials"
    assert set(deployment["parameters"]) >= {"inputs", "output", "templates", "fhir_version", "fhir_url"}
    assert [s["cron"] for s in deployment["schedules"]] == [CRON]
    assert deployment["work_pool"]["name"]
    path, name = deployment["entrypoint"].split(":")
    assert f"def {name}(" in (ROOT / path).read_text()


def prefect_cli(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    prefect = TRIALEXPORT.with_name("prefect")
    result = subprocess.run(
        [str(prefect), "--no-prompt", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_prefect_deploy_registers_the_nightly_deployment_and_a_worker_runs_it(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    env = prefect_env(tmp_path) | {"PWD": str(ROOT)}  # the yaml's pull step: `cd {{ $PWD }}`
    prefect_cli("work-pool", "create", "trialexport", "--type", "process", "--overwrite", env=env)
    prefect_cli("deploy", "--all", env=env)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("export-trials/nightly")
    assert deployment.work_pool_name == "trialexport"
    assert [s.schedule.cron for s in deployment.schedules] == [CRON]
    assert deployment.parameters["inputs"] == ["seeds/"]

    output = tmp_path / "out"  # not the yaml's output/: the test must not write into the checkout
    flow_run = run_deployment(
        "export-trials/nightly", parameters={"output": str(output)}, timeout=0, as_subflow=False
    )
    prefect_cli("worker", "start", "--pool", "trialexport", "--run-once", env=env, timeout=300)
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run.id).state
    assert state.is_completed(), state
    assert json.loads((output / "run-report.json").read_bytes())["totals"]["exported"] == 2
