"""A sync's usage errors are found before anything starts, as the other commands' are: one line
naming the setting and what it may be, exit 2, Prefect not imported, nothing written."""

from __future__ import annotations

import pytest

from mappers.output_layout import SYNC_STATE
from tests.flows.test_usage import assert_usage_error, trialexport

API = "http://127.0.0.1:9/api/v2"  # never asked: nothing starts


def sync(tmp_path, *args: str, env: dict[str, str] | None = None):
    return trialexport("sync", "-o", str(tmp_path / "out"), "--api-url", API, *args, env=env)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "TRIALEXPORT_SYNC_PAGE_SIZE",
            "0",
            "TRIALEXPORT_SYNC_PAGE_SIZE=0: an integer >= 1 and <= 1000 (studies per page asked of the API)",
        ),
        ("TRIALEXPORT_SYNC_RATE_LIMIT", "fast", "TRIALEXPORT_SYNC_RATE_LIMIT=fast: a number > 0"),
        ("TRIALEXPORT_SYNC_ATTEMPTS", "0", "TRIALEXPORT_SYNC_ATTEMPTS=0: an integer >= 1 (tries per request"),
        ("TRIALEXPORT_SYNC_TOKEN_RESTARTS", "-1", "TRIALEXPORT_SYNC_TOKEN_RESTARTS=-1: an integer >= 0"),
        ("TRIALEXPORT_BATCH_SIZE", "0", "TRIALEXPORT_BATCH_SIZE=0: an integer >= 1"),  # the export's
    ],
)
def test_a_bad_setting(tmp_path, variable, value, expected):
    assert_usage_error(sync(tmp_path, env={variable: value}), expected)
    assert not (tmp_path / "out").exists()


def test_a_bad_publish_setting_with_a_fhir_url(tmp_path):
    result = sync(
        tmp_path, "--fhir-url", "http://127.0.0.1:9/fhir", env={"TRIALEXPORT_FHIR_CONCURRENCY": "0"}
    )
    assert_usage_error(result, "TRIALEXPORT_FHIR_CONCURRENCY=0: an integer >= 1")
    result = sync(tmp_path, "--fhir-url", "http://127.0.0.1:9/fhir", "--secret-block", "FHIR_creds")
    assert_usage_error(result, "secret_block=FHIR_creds: a Prefect block name")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--since", "last week"], "--since=last week: a date, YYYY-MM-DD"),
        (["--since", "2025-02-30"], "--since=2025-02-30: a date, YYYY-MM-DD"),
        (["--full", "--since", "2025-01-01"], "--full and --since exclude each other"),
    ],
)
def test_a_bad_window(tmp_path, args, expected):
    assert_usage_error(sync(tmp_path, *args), expected)


def test_a_sync_state_this_version_cannot_read(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / SYNC_STATE).write_text('{"format": 7, "api_url": "x", "query": {}}')
    before = (output / SYNC_STATE).read_bytes()
    assert_usage_error(sync(tmp_path), f"{SYNC_STATE}: not a sync state this trialexport reads (format")
    assert (output / SYNC_STATE).read_bytes() == before  # looked at, not touched


def test_an_api_url_carrying_credentials(tmp_path):
    """The URL is written to sync-state.json, the sync report, logs and Prefect's database."""
    result = trialexport("sync", "-o", str(tmp_path / "out"), "--api-url", "https://me:pw@ctgov.test/api/v2")
    assert_usage_error(
        result, "api_url=https://***@ctgov.test/api/v2: a URL carrying credentials (user info)"
    )
    assert "pw" not in result.stderr
