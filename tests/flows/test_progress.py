"""Progress for people (a bar on long runs) and quiet, parseable output for scripts."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from flows import progress
from flows.export import export_trials
from tests.conftest import ROOT, SEED_A, SEED_B, SEEDS
from tests.flows.corpus import build_corpus
from tests.flows.test_cli import api_url, cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Recorder:
    def __init__(self):
        self.calls: list[tuple] = []

    def start(self, total_inputs: int) -> None:
        self.calls.append(("start", total_inputs))

    def advance(self, inputs: int, studies: int) -> None:
        self.calls.append(("advance", inputs, studies))


def test_without_a_listener_the_calls_do_nothing():
    progress.start(3)
    progress.advance(1, 1)  # no error, nothing to see


def test_a_listener_hears_only_while_it_listens():
    recorder = Recorder()
    with progress.listening(recorder):
        progress.start(2)
        progress.advance(2, 5)
    progress.advance(1, 1)
    assert recorder.calls == [("start", 2), ("advance", 2, 5)]


def test_a_failing_listener_is_dropped_not_raised(caplog):
    class Broken(Recorder):
        def advance(self, inputs, studies):
            raise RuntimeError("terminal gone")

    broken = Broken()
    with progress.listening(broken):
        progress.start(2)
        progress.advance(1, 1)
        progress.advance(1, 1)
    assert broken.calls == [("start", 2)]
    assert "progress display failed" in caplog.text


@pytest.mark.prefect
def test_the_flow_reports_its_progress(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for source in (SEED_A, SEED_B):
        shutil.copy(source, inputs)
    (inputs / "empty.txt").write_bytes(b"")
    recorder = Recorder()
    with progress.listening(recorder):
        export_trials(inputs=[str(inputs)], output=str(tmp_path / "out"), batch_size=2)
    assert recorder.calls[0] == ("start", 3)
    advances = recorder.calls[1:]
    assert [c[0] for c in advances] == ["advance", "advance"]  # one per batch
    assert sum(c[1] for c in advances) == 3 and sum(c[2] for c in advances) == 2


def run_cli(tmp_path, *args, env=None):
    return cli(*args, cwd=tmp_path, prefect_home=tmp_path / "ph", api_url=api_url(), env=env)


@pytest.mark.prefect
def test_json_prints_the_summary_and_nothing_else_on_stdout(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SEED_A, inputs / "a.txt")
    shutil.copy(SEED_B, inputs / "big.txt")
    (inputs / "empty.txt").write_bytes(b"")
    out = tmp_path / "out"
    limit = str(SEED_B.stat().st_size - 1)  # the limits reach the flow from the environment
    result = run_cli(
        tmp_path, "run", str(inputs), "-o", str(out), "--json", env={"TRIALEXPORT_MAX_FILE_BYTES": limit}
    )
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout)  # the whole of stdout is one JSON object
    report = json.loads((out / "run-report.json").read_bytes())
    assert summary["totals"] == report["totals"]
    assert summary["report"] == str(out / "run-report.json") and summary["html"] == str(out / "index.html")
    assert sorted(summary["bulk"]) == sorted(str(out / p) for p in report["bulk"])
    reasons = {r["source"].rsplit("/", 1)[-1]: r["reason"] for r in summary["rejected"]}
    assert set(reasons) == {"big.txt", "empty.txt"}
    assert f"over the limit of {limit} bytes" in reasons["big.txt"] and reasons["empty.txt"] == "empty file"
    assert report["settings"]["max_file_bytes"] == int(limit)
    assert "rejected:" not in result.stderr  # the JSON carries them


@pytest.mark.prefect
def test_quiet_prints_nothing_on_a_clean_run(tmp_path):
    result = run_cli(tmp_path, "run", str(SEEDS), "-o", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""
    assert (tmp_path / "out" / "run-report.json").is_file()


@pytest.mark.prefect
def test_quiet_still_prints_rejections(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "empty.txt").write_bytes(b"")
    result = run_cli(tmp_path, "run", str(inputs), "-o", str(tmp_path / "out"), "-q")
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.startswith("rejected:") and "empty.txt (empty file)" in result.stderr


@pytest.mark.prefect
@pytest.mark.parametrize("count", [2, 210])
def test_a_progress_bar_on_a_terminal_for_long_runs_only(tmp_path, count):
    corpus = tmp_path / "corpus"
    build_corpus(corpus, count)
    out = tmp_path / "out"
    result = run_cli(tmp_path, "run", str(corpus), "-o", str(out), "--json", env={"TTY_COMPATIBLE": "1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["exported"] == count  # the bar stays off stdout
    stderr = ANSI.sub("", result.stderr)
    bar = f"{count}/{count} inputs, {count} studies"
    if count > 200:
        assert "exporting" in stderr and bar in stderr and "━" in stderr
        assert "| INFO    | Task run" not in stderr  # Prefect's per-batch lines would tear the bar
    else:
        assert "exporting" not in stderr and "| INFO    | Task run" in stderr


@pytest.mark.prefect
def test_validate_json_and_quiet(tmp_path):
    files = tmp_path / "files"
    shutil.copytree(ROOT / "tests" / "golden" / "seeds" / "000_7c5a8bd566a2bac6", files)
    prs = files / "prs.xml"
    prs.write_text(prs.read_text().replace("<brief_title>", "<bogus/><brief_title>", 1))
    result = run_cli(tmp_path, "validate", str(files), "--json")
    assert result.returncode == 3 and result.stderr == ""
    summary = json.loads(result.stdout)
    assert summary["files"] == 3 and summary["errors"] >= 1
    [invalid] = [f for f in summary["checked"] if not f["valid"]]
    assert invalid["path"] == str(prs) and any(i["code"] == "xsd-invalid" for i in invalid["issues"])
    quiet = run_cli(tmp_path, "validate", str(files), "--quiet")
    assert quiet.returncode == 3 and quiet.stdout == ""
    assert quiet.stderr.startswith(f"invalid {prs}") and "valid " not in quiet.stderr.replace("invalid ", "")
