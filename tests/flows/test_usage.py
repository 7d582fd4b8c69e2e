"""Usage errors are found before anything starts: one line naming the setting and what it may be,
exit 2, and Prefect never imported (starting it is what cost a bad setting 12 s and two
tracebacks). The command runs in a subprocess, as a user types it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS

# The command as installed, plus one line after it: whether Prefect was imported.
PROBE = (
    "import sys\n"
    "from flows.cli import main\n"
    "sys.argv = ['trialexport', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    sys.stdout.write('prefect imported' if 'prefect' in sys.modules else '')\n"
)


def trialexport(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TRIALEXPORT_"))}
    environment |= {"COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_usage_error(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == "", "Prefect was imported before the error was found"
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    for text in expected:
        assert text in line, line


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "TRIALEXPORT_BATCH_SIZE",
            "0",
            "TRIALEXPORT_BATCH_SIZE=0: an integer >= 1 (studies per Prefect task)",
        ),
        ("TRIALEXPORT_MAX_FILE_BYTES", "lots", "TRIALEXPORT_MAX_FILE_BYTES=lots: an integer >= 1"),
        ("TRIALEXPORT_MAX_STUDIES_PER_FILE", "-5", "TRIALEXPORT_MAX_STUDIES_PER_FILE=-5: an integer >= 1"),
        ("TRIALEXPORT_FORMATS", "fhir,pdf", "TRIALEXPORT_FORMATS=fhir,pdf: one or more of fhir, prs, public"),
        ("TRIALEXPORT_DEEP_VALIDATION", "maybe", "TRIALEXPORT_DEEP_VALIDATION=maybe: true or false"),
    ],
)
def test_a_bad_export_setting(tmp_path, variable, value, expected):
    result = trialexport("run", str(SEEDS), "-o", str(tmp_path / "out"), env={variable: value})
    assert_usage_error(result, expected)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("formats", ["xml", "fhir,,csv", ""])
def test_a_formats_option_outside_the_three(tmp_path, formats):
    result = trialexport("run", str(SEEDS), "-o", str(tmp_path / "out"), "--formats", formats)
    assert_usage_error(result, "formats=", "one or more of fhir, prs, public")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "TRIALEXPORT_FHIR_CONCURRENCY",
            "0",
            "TRIALEXPORT_FHIR_CONCURRENCY=0: an integer >= 1 (bundles in flight",
        ),
        ("TRIALEXPORT_FHIR_RATE_LIMIT", "-1", "TRIALEXPORT_FHIR_RATE_LIMIT=-1: a number > 0"),
        ("TRIALEXPORT_FHIR_TIMEOUT", "soon", "TRIALEXPORT_FHIR_TIMEOUT=soon: a number > 0"),
        (
            "TRIALEXPORT_FHIR_SECRET_BLOCK",
            "My Block",
            "TRIALEXPORT_FHIR_SECRET_BLOCK=My Block: a Prefect block name",
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "publish"])
def test_a_bad_publish_setting(tmp_path, variable, value, expected, command):
    output = tmp_path / "out"
    output.mkdir()
    (output / "run-report.json").write_text("{}")
    args = ["run", str(SEEDS), "-o", str(output)] if command == "run" else ["publish", str(output)]
    result = trialexport(*args, "--fhir-url", "http://127.0.0.1:9/fhir", env={variable: value})
    assert_usage_error(result, expected)


def test_an_option_out_of_range_is_typers_usage_error_without_prefect(tmp_path):
    result = trialexport("run", str(SEEDS), "-o", str(tmp_path / "out"), "--batch-size", "0")
    assert result.returncode == 2 and "--batch-size" in result.stderr
    assert "prefect imported" not in result.stdout


def test_a_secret_block_option_prefect_would_refuse(tmp_path):
    (tmp_path / "run-report.json").write_text("{}")
    result = trialexport(
        "publish", str(tmp_path), "--fhir-url", "http://x/fhir", "--secret-block", "FHIR_creds"
    )
    assert_usage_error(
        result, "secret_block=FHIR_creds: a Prefect block name (lowercase letters, digits and dashes)"
    )


def test_an_export_ledger_of_another_format(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    with sqlite3.connect(output / "export-ledger.sqlite") as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('format', '1')")
    before = (output / "export-ledger.sqlite").read_bytes()
    result = trialexport("run", str(SEEDS), "-o", str(output))
    assert_usage_error(
        result, "export-ledger.sqlite: export ledger format 1, this trialexport reads format 2"
    )
    assert (output / "export-ledger.sqlite").read_bytes() == before  # looked at, not touched
    assert sorted(p.name for p in output.iterdir()) == ["export-ledger.sqlite"]


def test_an_export_ledger_that_is_not_one(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "export-ledger.sqlite").write_bytes(b"not a database, just text" * 100)
    assert_usage_error(trialexport("run", str(SEEDS), "-o", str(output)), "not an export ledger")


@pytest.mark.parametrize(
    ("content", "expected"),
    [({"format": 9, "servers": {}}, "publish ledger format 9, this trialexport reads format 1"),
     ([1, 2], "publish ledger format None"), ("not json", "not a publish ledger")],
)  # fmt: skip
def test_a_publish_ledger_of_another_format(tmp_path, content, expected):
    (tmp_path / "run-report.json").write_text("{}")
    ledger = tmp_path / "publish-ledger.json"
    ledger.write_text(content if isinstance(content, str) else json.dumps(content))
    result = trialexport("publish", str(tmp_path), "--fhir-url", "http://127.0.0.1:9/fhir")
    assert_usage_error(result, "publish-ledger.json", expected)


def test_publish_without_an_export(tmp_path):
    result = trialexport("publish", str(tmp_path), "--fhir-url", "http://127.0.0.1:9/fhir")
    assert_usage_error(result, f"no run-report.json in {tmp_path}: run `trialexport run` first")


def test_a_missing_input_is_typers_usage_error_without_prefect(tmp_path):
    result = trialexport("run", str(tmp_path / "nope"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert "prefect imported" not in result.stdout


def test_an_export_ledger_under_a_relative_output_is_read(tmp_path, monkeypatch):
    """`trialexport run seeds/ --output output/` twice: the second run's check reads the ledger
    the first left, named relative to where the command was started."""
    from flows.incremental import LEDGER_NAME, ExportLedger, check_ledger

    monkeypatch.chdir(tmp_path)
    ExportLedger(Path("out") / LEDGER_NAME).close()
    check_ledger(Path("out"))  # no error: a ledger this version reads
