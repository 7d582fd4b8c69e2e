"""A run killed at a random point leaves no truncated file, and the next run completes the work.

The command a user types, in a subprocess, on a corpus of a few hundred inputs in small batches
(many writes, many ledger updates), killed by a signal at a moment drawn from a seeded random
within the run's working window. What is on disk must then all parse; the rerun must leave the
output byte for byte what a run that was never interrupted leaves.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import orjson
import pytest
from lxml import etree

from flows.export import export_trials
from flows.incremental import LEDGER_NAME
from mappers.output_layout import STAGING
from tests.conftest import SEEDS
from tests.flows.corpus import build_corpus
from tests.flows.reports import comparable_bytes
from tests.flows.test_cli import TRIALEXPORT, api_url

pytestmark = pytest.mark.crash

INPUTS = 200
BATCH = "20"
# What a write in progress may leave: write_atomic's ".<name>.<random>.tmp", the NDJSON
# ".<Type>.ndjson.partial", the report's spool; hidden, nobody takes them for outputs. And the
# ledger database's own journal (SQLite's "-wal" / "-shm", which the next open applies). The
# next run must remove them all.
TEMPORARY_SUFFIXES = (".tmp", ".partial")
JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("crash") / "corpus"
    build_corpus(directory, INPUTS)
    return directory


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> Path:
    """The output of a run never interrupted."""
    out = tmp_path_factory.mktemp("reference") / "out"
    report = export_trials(inputs=[str(corpus)], output=str(out), batch_size=int(BATCH))
    assert report["totals"]["exported"] == INPUTS and report["totals"]["rejected"] == 0
    return out


def command(corpus: Path, out: Path) -> list[str]:
    return [str(TRIALEXPORT), "run", str(corpus), "--output", str(out), "--batch-size", BATCH, "--quiet"]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    # the session's server: a killed CLI must not leave a temporary server process behind
    env |= {"PREFECT_HOME": str(home), "PREFECT_API_URL": api_url()}
    return env


def files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def is_temporary(relative: str) -> bool:
    name = Path(relative).name
    if Path(relative).parts[0] == STAGING:  # a batch's files before they are renamed into place
        return True
    return (name.startswith(".") and name.endswith(TEMPORARY_SUFFIXES)) or (
        name.startswith(LEDGER_NAME) and name.endswith(JOURNAL_SUFFIXES)
    )


def ledger_content(path: Path) -> object:
    """What the ledger says, whatever its file's layout: SQLite pages differ with history."""
    if path.suffix != ".sqlite":
        return orjson.loads(path.read_bytes())
    with tempfile.TemporaryDirectory() as scratch:  # opening it here would leave a journal behind
        for part in path.parent.glob(f"{path.name}*"):
            shutil.copyfile(part, Path(scratch) / part.name)
        with contextlib.closing(sqlite3.connect(Path(scratch) / path.name)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in sorted(tables)}


def assert_every_file_parses(root: Path) -> None:
    for relative, path in files(root).items():
        if is_temporary(relative):
            continue
        data = path.read_bytes()
        if path.name == LEDGER_NAME:
            ledger_content(path)
        elif path.suffix == ".json":
            orjson.loads(data)
        elif path.suffix == ".xml":
            etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        elif path.suffix == ".ndjson":
            assert data.endswith(b"\n"), relative
            for line in data.splitlines():
                orjson.loads(line)
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), relative
        else:
            raise AssertionError(f"unexpected file in the output: {relative}")


def comparable_report(path: Path) -> dict:
    report = orjson.loads(path.read_bytes())
    report.pop("run")
    report["settings"].pop("output")
    report["totals"].pop("skipped")  # how much the rerun was spared: the point of it, not a difference
    return report


def assert_same_tree(out: Path, reference: Path) -> None:
    ours, theirs = files(out), files(reference)
    assert sorted(ours) == sorted(theirs)
    for relative in ours:
        if relative == "run-report.json":
            assert comparable_report(ours[relative]) == comparable_report(theirs[relative])
        elif relative == LEDGER_NAME:
            assert ledger_content(ours[relative]) == ledger_content(theirs[relative])
        else:
            assert comparable_bytes(out, relative) == comparable_bytes(reference, relative), relative


def wait_for_studies(process: subprocess.Popen, out: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for _ in (out / "studies").glob("*/study.json")) < count:
        assert process.poll() is None, f"the run ended before writing {count} studies"
        assert time.monotonic() < deadline, f"not {count} studies written after {timeout} s"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("sig", "seed"),
    [(signal.SIGKILL, 1), (signal.SIGTERM, 2), (signal.SIGINT, 3)],
    ids=["kill", "term", "int"],
)
def test_a_killed_run_leaves_whole_files_and_the_next_run_completes_it(
    sig, seed, corpus, reference, tmp_path
):
    reference_out = reference
    rng = random.Random(seed)
    out = tmp_path / "out"
    env = environment(tmp_path / "prefect")
    process = subprocess.Popen(
        command(corpus, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # a random point of the working window, in studies written (machines differ in speed),
        # then anywhere in the next batch's few hundred milliseconds of mapping and writing. Past
        # the first batch (so one is on record), well before the last (so the signal lands mid-run).
        wait_for_studies(process, out, rng.randrange(int(BATCH) + 1, INPUTS // 2))
        time.sleep(rng.uniform(0, 0.3))
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0, "the run finished before the signal: it did not land mid-run"
    assert not (out / "run-report.json").exists()
    assert stdout == "" and "Traceback" not in stderr
    if sig == signal.SIGINT:
        assert process.returncode == 1 and "interrupted" in stderr
    assert_every_file_parses(out)

    again = subprocess.run(command(corpus, out), env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout == again.stderr == ""  # --quiet
    report = orjson.loads((out / "run-report.json").read_bytes())
    if sig != signal.SIGKILL:  # the run stopped in order: what it wrote is not written again
        assert 0 < report["totals"]["skipped"] < INPUTS
    assert [p for p in files(out) if is_temporary(p)] == []
    assert_every_file_parses(out)
    assert_same_tree(out, reference_out)


def test_the_next_run_removes_what_writes_cut_short_left(tmp_path):
    out = tmp_path / "out"
    left = [
        out / ".run-report.json.k2j4h5g6.tmp",
        out / "studies" / "X" / ".prs.xml.ab_d1234.tmp",
        out / "ndjson" / ".ResearchStudy.ndjson.partial",
    ]
    kept = [out / ".notes.tmp", out / ".git" / ".index.abcd1234.tmp"]  # not ours
    for path in [*left, *kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"cut short')
    export_trials(inputs=[str(SEEDS)], output=str(out))
    assert [p for p in left if p.exists()] == []
    assert all(p.exists() for p in kept)
