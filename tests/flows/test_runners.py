"""Worker processes and Dask clusters must not change a single output byte.

Outputs are deterministic (ids are UUIDv5 of the identifier; batches are collected in submission
order), so the only run-specific content is run-report.json's ``run`` block and the output path
it records; everything else is compared byte for byte.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows import cli
from flows.export import export_trials
from flows.records import RunInfo, RunReport, Totals
from flows.runners import QuoteSafeDaskTaskRunner, task_runner, with_runner
from tests.conftest import ROOT, SEEDS
from tests.flows.reports import comparable_bytes

pytestmark = pytest.mark.prefect

INPUTS = [str(SEEDS), str(ROOT / "tests" / "fixtures" / "ctgov" / "json")]  # both kinds of reader
BATCH = 3  # several batches for each of the two workers


def run_report(path: Path) -> dict:
    report = json.loads(path.read_bytes())
    del report["run"]
    del report["settings"]["output"]
    return report


def assert_same_outputs(expected: Path, actual: Path) -> None:
    files = sorted(p.relative_to(expected) for p in expected.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(actual) for p in actual.rglob("*") if p.is_file())
    for relative in files:
        if relative == Path("run-report.json"):
            assert run_report(actual / relative) == run_report(expected / relative)
        else:
            same = comparable_bytes(actual, str(relative)) == comparable_bytes(expected, str(relative))
            assert same, relative


@pytest.fixture(scope="module")
def default_output(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("default") / "out"
    export_trials(inputs=INPUTS, output=str(output), batch_size=BATCH)
    return output


def test_two_worker_processes_write_the_default_runners_bytes(default_output, tmp_path):
    runner = task_runner(workers=2)
    assert runner.cluster_kwargs["n_workers"] == 2 and runner.cluster_kwargs["processes"]
    output = tmp_path / "out"
    report = with_runner(export_trials, workers=2)(inputs=INPUTS, output=str(output), batch_size=BATCH)
    assert report["totals"]["exported"] > 2 * BATCH
    assert_same_outputs(default_output, output)


def test_an_existing_scheduler_gets_the_batches(default_output, tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    output = tmp_path / "out"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as stream,
    ):
        flow = with_runner(export_trials, dask_address=cluster.scheduler_address)
        flow(inputs=INPUTS, output=str(output), batch_size=BATCH)
    workers = {t["worker"] for t in stream.data if "export" in t["key"]}
    assert len(workers) == 2, stream.data
    assert_same_outputs(default_output, output)


def test_without_options_the_flow_keeps_its_default_runner():
    assert task_runner() is None
    assert with_runner(export_trials) is export_trials
    remote = task_runner(dask_address="tcp://10.0.0.1:8786", workers=3)
    assert isinstance(remote, QuoteSafeDaskTaskRunner) and remote.address == "tcp://10.0.0.1:8786"


def test_the_cli_reads_the_dask_address_from_the_environment(monkeypatch, tmp_path):
    chosen = {}

    def fake_flow(dask_address, workers):
        chosen.update(dask_address=dask_address, workers=workers)
        run = RunInfo(started="s", finished="f", trialexport_version="0")
        return lambda **_: RunReport(run=run, settings={}, totals=Totals()).to_json_without_studies()

    monkeypatch.setattr(cli, "_export_flow", fake_flow)
    result = CliRunner().invoke(
        cli.app,
        ["run", str(SEEDS), "--output", str(tmp_path), "--workers", "2"],
        env={"TRIALEXPORT_DASK_ADDRESS": "tcp://127.0.0.1:8786"},
    )
    assert result.exit_code == 0, result.output
    assert chosen == {"dask_address": "tcp://127.0.0.1:8786", "workers": 2}
