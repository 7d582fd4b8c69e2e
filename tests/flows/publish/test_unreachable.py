"""A server that does not answer: the run stops early (preflight, breaker), every study is still
listed with its reason, and the next run sends what was held back."""

import json
import socket
import threading
import time

import pytest

from tests.conftest import ROOT
from tests.flows.publish.conftest import CORPUS_SIZE
from tests.flows.publish.server import running
from tests.flows.publish.test_publish import assert_each_study_once, publish
from tests.flows.test_cli import api_url, cli

pytestmark = pytest.mark.server


class Hangup:
    """A TCP port that accepts every connection and closes it at once, counting them: a server
    process that is there but never answers (crashed worker behind a live socket)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/fhir"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture
def hangup():
    server = Hangup()
    yield server
    server.sock.close()


def closed_port_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fhir"


def sections(report: dict) -> list[dict]:
    return [e["publish"] for e in report["studies"]]


def test_a_closed_port_fails_fast_with_exit_4_and_every_study_listed(seeds_output, tmp_path):
    url = closed_port_url()
    started = time.monotonic()
    result = cli(
        "publish", str(seeds_output), "--fhir-url", url,
        cwd=ROOT, prefect_home=tmp_path / "ph", api_url=api_url(),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    console = result.stdout + result.stderr
    assert result.returncode == 4, console
    report = json.loads((seeds_output / "run-report.json").read_bytes())
    keys = [e["key"] for e in report["studies"]]
    [line] = [ln for ln in console.splitlines() if ln.startswith("not sent:")]
    assert line.startswith(f"not sent: {len(keys)} studies ({', '.join(keys)}): server unreachable"), line
    assert not [ln for ln in console.splitlines() if ln.startswith("not published:")]
    for section in sections(report):
        assert section["status"] == "failed" and section["retry"] is True and section["attempts"] == 0
        assert section["reason"].startswith(
            "server unreachable: not sent, GET metadata got no answer after 3 tries"
        )
    assert report["publish"]["preflight"] == {
        "url": f"{url}/metadata",
        "answered": False,
        "attempts": 3,
        "http_status": None,
        "error": report["publish"]["preflight"]["error"],
    }
    assert "ConnectError" in report["publish"]["preflight"]["error"]
    assert report["publish"]["totals"]["not_sent"] == len(keys)
    # default settings (5 tries a request, backoff up to 30 s) used to take ~35 s here
    assert elapsed < 20, elapsed  # command start-up included
    finished = report["publish"]["finished"]
    assert _seconds(finished) - _seconds(report["publish"]["started"]) < 10


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def test_a_server_that_never_answers_gets_the_preflight_and_nothing_else(hangup, corpus_output):
    report = publish(corpus_output, hangup)
    assert hangup.connections == 3  # preflight_attempts; not one bundle was sent
    assert report["publish"]["totals"]["failed"] == report["publish"]["totals"]["not_sent"] == CORPUS_SIZE
    assert report["publish"]["unreachable"].startswith("server unreachable: not sent, GET metadata")
    assert all(s["reason"] == report["publish"]["unreachable"] for s in sections(report))


def test_without_the_preflight_the_breaker_stops_after_n_silent_requests(hangup, corpus_output):
    report = publish(
        corpus_output, hangup, preflight_attempts=0, attempts=2, unreachable_after=2, concurrency=1
    )
    assert hangup.connections == 2 * 2  # two requests of two tries, then nothing: no task retry either
    tried = [s for s in sections(report) if s["attempts"]]
    assert len(tried) == 2
    assert all(s["reason"].startswith("server unreachable: no answer after 2 tries") for s in tried)
    held = [s for s in sections(report) if not s["attempts"]]
    assert len(held) == CORPUS_SIZE - 2 == report["publish"]["totals"]["not_sent"]
    assert all(s["reason"].startswith("server unreachable: not sent, 2 requests in a row") for s in held)
    assert all(s["retry"] for s in sections(report))


def test_the_breaker_can_be_switched_off(hangup, seeds_output):
    publish(seeds_output, hangup, preflight_attempts=0, attempts=2, unreachable_after=0, task_retries=0)
    assert hangup.connections == 2 * 2  # every study tried in full


def test_server_gone_mid_run_the_rest_is_held_back_then_resumed(tmp_path, corpus_output):
    with running(tmp_path / "fhir-data.json") as server:
        server.faults(exitAfterWrites=3)
        first = publish(corpus_output, server, attempts=2, unreachable_after=2, concurrency=1)
        server.wait_exit()
        totals = first["publish"]["totals"]
        assert totals["published"] >= 3 and totals["failed"] == CORPUS_SIZE - totals["published"]
        failed = [s for s in sections(first) if s["status"] == "failed"]
        tried = [s for s in failed if s["attempts"]]
        assert len(tried) == 2 and all(s["attempts"] == 2 for s in tried)  # then the breaker opened
        assert totals["not_sent"] == len(failed) - 2
        assert all(s["retry"] for s in failed)

        server.start()
        second = publish(corpus_output, server)
        assert second["publish"]["totals"]["published"] == CORPUS_SIZE
        assert second["publish"]["totals"]["sent"] == totals["failed"]
        assert_each_study_once(server, corpus_output)


def test_unchanged_studies_need_no_server(tmp_path, seeds_output):
    with running(tmp_path / "fhir-data.json") as server:
        publish(seeds_output, server)
        server.stop()
        again = publish(seeds_output, server)
    assert again["publish"]["unreachable"].startswith("server unreachable")
    assert again["publish"]["totals"]["unchanged"] == 2 and again["publish"]["totals"]["failed"] == 0


def test_a_server_answering_the_preflight_with_an_error_is_there(server, seeds_output):
    server.faults(status429=1, retryAfter="30")  # taken by the preflight: answered, so not waited for
    started = time.monotonic()
    report = publish(seeds_output, server)
    assert time.monotonic() - started < 10
    assert (
        report["publish"]["preflight"]["http_status"] == 429
        and report["publish"]["preflight"]["attempts"] == 1
    )
    assert report["publish"]["totals"]["published"] == 2 and report["publish"]["unreachable"] is None
