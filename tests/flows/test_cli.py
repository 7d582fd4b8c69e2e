"""The command a user types, in a subprocess: exit codes, the summary line, a clean console."""

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.prefect

TRIALEXPORT = Path(sys.executable).with_name("trialexport")


def cli(
    *args: str, cwd: Path, prefect_home: Path, api_url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the command; without ``api_url`` it starts Prefect's embedded server, as a user's would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | (env or {})
    env["PREFECT_HOME"] = str(prefect_home)  # its own database and profile
    env["COLUMNS"] = "200"
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return subprocess.run(
        [str(TRIALEXPORT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_run_on_the_seeds_is_clean(tmp_path):
    result = cli(
        "run", str(SEEDS), "--output", str(tmp_path / "out"), cwd=tmp_path, prefect_home=tmp_path / "ph"
    )
    console = result.stdout + result.stderr
    assert result.returncode == 0, console
    assert "2 studies read from 2 inputs: 2 exported (2 with PRS XML incomplete), 0 rejected" in console
    assert "Traceback" not in console and "analytics" not in console.lower()
    assert (tmp_path / "out" / "run-report.json").is_file()


def api_url() -> str:
    """The test session's Prefect server: what a user's PREFECT_API_URL points at."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def test_rejects_exit_3_with_a_one_line_summary(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SEEDS / "004_8c3e1bb58083379b.txt", inputs)
    (inputs / "empty.txt").write_bytes(b"")
    result = cli(
        "run",
        str(inputs),
        "-o",
        str(tmp_path / "out"),
        cwd=ROOT,
        prefect_home=tmp_path / "ph",
        api_url=api_url(),
    )
    console = result.stdout + result.stderr
    assert result.returncode == 3, console
    [line] = [ln for ln in console.splitlines() if ln.startswith("rejected:")]
    assert "empty.txt (empty file)" in line
    assert "Traceback" not in console


def test_missing_input_is_a_usage_error(tmp_path):
    result = cli("run", str(tmp_path / "nope"), cwd=tmp_path, prefect_home=tmp_path / "ph")
    assert result.returncode == 2
    assert "does not exist" in result.stdout + result.stderr


def test_prefect_api_url_reports_to_that_server(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    result = cli(
        "run",
        str(SEEDS),
        "-o",
        str(tmp_path / "out"),
        cwd=tmp_path,
        prefect_home=tmp_path / "ph",
        api_url=api_url(),
    )
    assert result.returncode == 0, result.stderr
    assert "Starting temporary server" not in result.stdout + result.stderr
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["export-trials"])))
    assert any(run.state and run.state.is_completed() for run in runs)


def test_large_runs_map_in_a_process_per_cpu_unless_told_otherwise(monkeypatch):
    from flows import cli

    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cli, "AUTO_WORKERS_INPUTS", 2)
    assert cli._auto_workers([SEEDS], None, None) == 2  # two seed documents: a large run here
    assert cli._auto_workers([SEEDS], 0, None) == 0  # --workers 0: threads
    assert cli._auto_workers([SEEDS], 3, None) == 3
    assert cli._auto_workers([SEEDS], None, "tcp://scheduler:8786") is None  # the cluster's size rules
    monkeypatch.setattr(cli, "AUTO_WORKERS_INPUTS", 3)
    assert cli._auto_workers([SEEDS], None, None) is None
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 1)
    monkeypatch.setattr(cli, "AUTO_WORKERS_INPUTS", 1)
    assert cli._auto_workers([SEEDS], None, None) is None


def test_formats_and_deep_validation_options_reach_the_run(tmp_path):
    """`--formats fhir`: bundles and study.json only, no PRS warning (there is no PRS XML);
    `--deep-validation`: the run reads every resource with fhir.resources, recorded in its report."""
    output = tmp_path / "out"
    result = cli(
        "run",
        str(SEEDS),
        "-o",
        str(output),
        "--formats",
        "fhir",
        "--deep-validation",
        "--json",
        cwd=ROOT,
        prefect_home=tmp_path / "ph",
        api_url=api_url(),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((output / "run-report.json").read_bytes())
    assert report["settings"]["formats"] == ["fhir"] and report["settings"]["deep_validation"] is True
    assert report["totals"]["exported"] == 2 and not report.get("warnings")
    written = {p.name for p in (output / "studies").rglob("*") if p.is_file()}
    assert written == {"fhir-r4-bundle.json", "study.json"}
    assert "prs_org_name" not in result.stderr


def test_a_run_without_a_server_starts_one_its_dask_workers_share(tmp_path):
    """flows.server: without PREFECT_API_URL the command starts Prefect's temporary server itself
    and its Dask workers report to it, instead of each booting one of its own (~10 s each); the
    run's logs reach the server before it stops."""
    result = cli(
        "run",
        str(SEEDS),
        "-o",
        str(tmp_path / "out"),
        "--workers",
        "1",
        cwd=tmp_path,
        prefect_home=tmp_path / "ph",
    )
    console = result.stdout + result.stderr
    assert result.returncode == 0, console
    assert console.count("Starting temporary server") == 1, console
    assert "Stopping temporary server" in console
    assert "Error logging to API" not in console and "Traceback" not in console
    assert "never awaited" not in console  # the workers' queues were drained, not dropped
    assert "View at" not in console  # the temporary server serves no UI to link to
    # the worker's own task log reached the server's database (PREFECT_HOME's) before it stopped
    with contextlib.closing(sqlite3.connect(tmp_path / "ph" / "prefect.db")) as database:
        task_logs = [m for (m,) in database.execute("SELECT message FROM log WHERE task_run_id IS NOT NULL")]
    assert any(m.startswith("mapped 2 inputs: 2 studies, 2 exported") for m in task_logs), task_logs


def test_quiet_without_a_server_prints_nothing(tmp_path):
    """The temporary server the command starts itself says nothing under --quiet either."""
    result = cli(
        "run", str(SEEDS), "-o", str(tmp_path / "out"), "--quiet", cwd=tmp_path, prefect_home=tmp_path / "ph"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
