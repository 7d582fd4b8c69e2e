"""Faults injected by the launcher's test switches: after the (re)run every study is on the
server exactly once and nothing is missing."""

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.flows.publish.conftest import CORPUS_SIZE
from tests.flows.publish.server import running
from tests.flows.publish.test_publish import assert_each_study_once, publish

pytestmark = pytest.mark.server


def attempts(report: dict) -> list[int]:
    return [e["publish"].get("attempts", 0) for e in report["studies"]]


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param({"status500": 3}, id="500-first-tries"),
        pytest.param({"status429": 2, "retryAfter": "1"}, id="429-retry-after-seconds"),
        pytest.param({"status429": 1, "retryAfter": "http-date"}, id="429-retry-after-http-date"),
        pytest.param({"drop": 2}, id="dropped-connection"),
        pytest.param({"dropAfterWrite": 2}, id="answer-lost-after-the-write"),
    ],
)
def test_transient_faults_are_retried_per_request(server, corpus_output, faults):
    if faults.get("retryAfter") == "http-date":
        faults["retryAfter"] = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    server.faults(**faults)
    # without the preflight GET, which would take its share of the faults: the bundles get them all
    report = publish(corpus_output, server, concurrency=3, max_delay=3.0, preflight_attempts=0)
    assert report["publish"]["totals"]["published"] == CORPUS_SIZE
    assert report["publish"]["totals"]["failed"] == 0
    injected = sum(v for k, v in faults.items() if k != "retryAfter")
    assert sum(attempts(report)) == CORPUS_SIZE + injected  # each fault cost exactly one retry
    stored_twice = faults.get("dropAfterWrite", 0)  # re-sent after the lost answer: updated, not duplicated
    assert server.stats()["transactions"] == CORPUS_SIZE + stored_twice
    assert_each_study_once(server, corpus_output)


def test_a_server_failing_longer_than_the_retries_leaves_a_resumable_report(server, corpus_output):
    server.faults(status500=10_000)
    first = publish(corpus_output, server, attempts=2, task_retries=0)
    assert first["publish"]["totals"]["failed"] == CORPUS_SIZE
    section = first["studies"][0]["publish"]
    assert section["retry"] is True and section["reason"].startswith("HTTP 500")
    assert "(after 2 tries)" in section["reason"]

    server.faults(status500=0)
    second = publish(corpus_output, server)
    assert second["publish"]["totals"]["sent"] == CORPUS_SIZE
    assert_each_study_once(server, corpus_output)


def test_task_retries_resend_only_the_unsettled_studies(server, corpus_output):
    """More 500s than one batch's HTTP retries absorb: Prefect retries the batch, and only the
    studies still failing are sent again."""
    server.faults(status500=8)
    report = publish(corpus_output, server, attempts=1, task_retries=3, concurrency=4, batch_size=CORPUS_SIZE)
    assert report["publish"]["totals"]["published"] == CORPUS_SIZE
    assert server.stats()["transactions"] == CORPUS_SIZE
    assert server.stats()["requests"] == CORPUS_SIZE + 8
    assert_each_study_once(server, corpus_output)


def test_server_stopped_mid_run_then_restarted_and_rerun(tmp_path, corpus_output):
    with running(tmp_path / "fhir-data.json") as server:
        server.faults(exitAfterWrites=5)  # the process exits after its 5th stored transaction
        first = publish(corpus_output, server, attempts=2, task_retries=0, concurrency=2)
        server.wait_exit()
        totals = first["publish"]["totals"]
        assert totals["failed"] > 0 and totals["published"] >= 5
        assert all(e["publish"]["retry"] for e in first["studies"] if e["publish"]["status"] == "failed")

        server.start()  # same port, same data file: what was stored is still there
        second = publish(corpus_output, server)
        assert second["publish"]["totals"]["published"] == CORPUS_SIZE
        assert second["publish"]["totals"]["sent"] == totals["failed"]  # only what was left
        assert_each_study_once(server, corpus_output)


def test_server_restarted_while_the_run_is_retrying(tmp_path, corpus_output):
    with running(tmp_path / "fhir-data.json") as server:
        server.faults(exitAfterWrites=4)

        def bring_back():
            server.wait_exit()
            server.start()

        restarter = threading.Thread(target=bring_back)
        restarter.start()
        report = publish(corpus_output, server, attempts=10, base_delay=0.2, max_delay=1.0, concurrency=2)
        restarter.join(60)
        assert report["publish"]["totals"]["published"] == CORPUS_SIZE
        assert_each_study_once(server, corpus_output)
