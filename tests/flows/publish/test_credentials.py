"""Credentials never travel in a URL and are never written down (issue 17).

A FHIR URL carrying credentials is refused before anything starts (exit 2, one line that says
where credentials go); credentials given the supported way (environment, Secret block) publish
and appear in no output, no console line and nowhere in Prefect's database."""

from __future__ import annotations

import pytest

from flows.errors import SettingError
from flows.settings import PublishSettings, load
from flows.urls import credentials_in, redacted
from tests.conftest import SEEDS
from tests.flows.test_cli import cli
from tests.flows.test_usage import assert_usage_error, trialexport

SECRET = "Pa55-Sekr1t-9d2e"


@pytest.mark.parametrize(
    ("url", "found", "shown"),
    [
        ("https://host/fhir", None, "https://host/fhir"),
        ("https://host/fhir?_format=json", None, "https://host/fhir?_format=json"),
        (f"http://alice:{SECRET}@host/fhir", "user info", "http://***@host/fhir"),
        (f"http://{SECRET}@host:8080/fhir", "user info", "http://***@host:8080/fhir"),
        (f"https://host/fhir?access_token={SECRET}", "the 'access_token' query parameter", None),
        (
            f"https://host/fhir?x=1&API_KEY={SECRET}&sig={SECRET}",
            "the 'API_KEY', 'sig' query parameters",
            None,
        ),
    ],
)
def test_what_counts_as_credentials_and_how_a_url_is_written_down(url, found, shown):
    assert credentials_in(url) == found
    written = redacted(url)
    assert SECRET not in written
    if shown is not None:
        assert written == shown
    assert redacted(written) == written


def test_a_url_with_credentials_is_a_usage_error_that_does_not_repeat_them():
    with pytest.raises(SettingError) as caught:
        load(PublishSettings, url=f"http://alice:{SECRET}@host/fhir")
    line = str(caught.value)
    assert SECRET not in line and "http://***@host/fhir" in line
    assert "TRIALEXPORT_FHIR_TOKEN" in line and "--secret-block" in line


@pytest.mark.parametrize(
    ("command", "env"),
    [
        (
            ("run", str(SEEDS), "--output", "{out}", "--fhir-url", f"http://alice:{SECRET}@127.0.0.1:9/fhir"),
            {},
        ),
        (
            ("run", str(SEEDS), "--output", "{out}", "--fhir-url", f"http://127.0.0.1:9/fhir?token={SECRET}"),
            {},
        ),
        (("serve", str(SEEDS), "--cron", "0 2 * * *", "--fhir-url", f"http://a:{SECRET}@127.0.0.1:9/"), {}),
        (("publish", "{out}"), {"TRIALEXPORT_FHIR_URL": f"https://a:{SECRET}@127.0.0.1:9/fhir"}),
    ],
    ids=["run-user-info", "run-token-query", "serve", "publish-from-environment"],
)
def test_the_command_refuses_before_anything_starts(tmp_path, command, env):
    out = tmp_path / "out"
    if command[0] == "publish":
        out.mkdir()
        (out / "run-report.json").write_text("{}")
    result = trialexport(*(part.format(out=out) for part in command), env=env, cwd=tmp_path)
    assert_usage_error(result, "a URL carrying credentials", "TRIALEXPORT_FHIR_USER")
    assert SECRET not in result.stderr + result.stdout
    assert not (out / "studies").exists()


@pytest.mark.prefect
@pytest.mark.server
def test_credentials_from_the_environment_publish_and_are_written_nowhere(server, tmp_path):
    """The supported way: the run publishes, and the password is in no output file, no console
    line and no byte of Prefect's database (flow-run parameters, logs, artifacts, events)."""
    home, out = tmp_path / "prefect-home", tmp_path / "out"
    result = cli(
        "run", str(SEEDS), "--output", str(out), "--fhir-url", server.base_url,
        cwd=tmp_path,
        prefect_home=home,
        env={"TRIALEXPORT_FHIR_USER": "alice", "TRIALEXPORT_FHIR_PASSWORD": SECRET},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 published" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    for root in (out, home):
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files
        for path in files:
            assert SECRET.encode() not in path.read_bytes(), path
