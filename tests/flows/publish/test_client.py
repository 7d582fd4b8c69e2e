"""The retry helper, credentials, ledger and bundle preparation, without a server."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from flows.errors import SecretBlockError
from flows.publish.bundles import CannotSplit, one_entry_transaction, prepared, server_resources, split_order
from flows.publish.client import (
    Attempted,
    BearerAuth,
    Breaker,
    FhirClient,
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
    resolve_auth,
)
from flows.publish.flow import RateLimiter
from flows.publish.ledger import Ledger
from flows.records import ServerResource

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Sun, 22 Nov 2026 12:00:30 GMT", 30.0),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),  # in the past: now
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("1.5", None),  # not delay-seconds (an integer) and not a date
    ],
)
def test_retry_after_seconds_and_http_dates(header, seconds):
    assert parse_retry_after(header, now=NOW) == seconds


RETRIED = (429, 500, 502, 503, 504)
NOT_RETRIED = (400, 401, 403, 404, 409, 412, 413, 422, 200, 201)


@pytest.mark.parametrize(
    ("status", "retry"), [(s, True) for s in RETRIED] + [(s, False) for s in NOT_RETRIED]
)
def test_which_statuses_retry(status, retry):
    assert is_retryable_status(status) is retry


def test_backoff_doubles_with_bounded_jitter_and_is_clamped():
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=5.0, jitter=0.5)
    assert [policy.delay(n, rng=lambda: 0.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.delay(2, rng=lambda: 1.0) == 1.5  # +50 % at most
    assert policy.delay(8, rng=lambda: 1.0) == 5.0  # clamped
    assert policy.delay(1, retry_after=3.0, rng=lambda: 1.0) == 3.0  # the server's schedule, no jitter
    assert policy.delay(1, retry_after=3600.0) == 5.0  # a server asking for an hour is clamped


def scripted(*answers):
    """A transport answering with ``answers`` in turn: a Response, or an exception to raise."""
    queue = list(answers)
    seen = []

    def handler(request: httpx.Request):
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), seen


def client(transport, sleeps, attempts=4):
    policy = RetryPolicy(attempts=attempts, base_delay=0.1, max_delay=2.0, jitter=0.0)
    return FhirClient("http://fhir.test/fhir", policy=policy, sleep=sleeps.append, transport=transport)


def test_retries_5xx_429_and_connection_errors_then_succeeds():
    transport, seen = scripted(
        httpx.Response(503),
        httpx.ConnectError("connection refused"),
        httpx.Response(429, headers={"Retry-After": "9"}),
        httpx.Response(200, json={"resourceType": "Bundle", "type": "transaction-response"}),
    )
    sleeps = []
    attempted = client(transport, sleeps).post_bundle(b"{}")
    assert attempted.ok and attempted.attempts == 4
    assert sleeps == [0.1, 0.2, 2.0]  # backoff, backoff, Retry-After 9 s clamped to 2 s
    assert attempted.history == ["HTTP 503", "ConnectError: connection refused", "HTTP 429"]
    assert {r.url.path for r in seen} == {"/fhir/"}
    assert seen[0].headers["content-type"] == "application/fhir+json"


def test_a_4xx_is_not_retried_and_its_outcome_is_kept():
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}
    transport, seen = scripted(httpx.Response(400, json=outcome))
    sleeps = []
    attempted = client(transport, sleeps).post_bundle(b"{}")
    assert attempted.attempts == 1 and sleeps == [] and len(seen) == 1
    assert not attempted.ok and not attempted.transient
    assert attempted.response.json() == outcome


def test_gives_up_after_the_last_attempt():
    transport, _ = scripted(*[httpx.ReadTimeout("slow")] * 3)
    sleeps = []
    attempted = client(transport, sleeps, attempts=3).post_bundle(b"{}")
    assert attempted.response is None and attempted.transient
    assert attempted.attempts == 3 and len(sleeps) == 2 and attempted.error == "ReadTimeout: slow"


def test_credentials_come_from_the_environment_and_never_show():
    auth = resolve_auth(env={"TRIALEXPORT_FHIR_TOKEN": "s3cr3t-token"})
    assert isinstance(auth, BearerAuth) and "s3cr3t" not in repr(auth)
    transport, seen = scripted(httpx.Response(200, json={}))
    FhirClient("http://fhir.test/fhir", auth=auth, transport=transport).post_bundle(b"{}")
    assert seen[0].headers["authorization"] == "Bearer s3cr3t-token"

    basic = resolve_auth(env={"TRIALEXPORT_FHIR_USER": "ann", "TRIALEXPORT_FHIR_PASSWORD": "pw"})
    assert isinstance(basic, httpx.BasicAuth)
    assert resolve_auth(env={}) is None


def test_ledger_survives_a_reload_and_knows_unchanged_bundles(tmp_path):
    ledger = Ledger.in_output(tmp_path)
    resources = [ServerResource(resourceType="ResearchStudy", id="a", versionId="1")]
    ledger.record("http://s/fhir", "study-1", "sha-1", "content-1", resources)
    ledger.flush()
    again = Ledger.in_output(tmp_path)
    assert again.is_current("http://s/fhir", "study-1", "sha-1")
    assert not again.is_current("http://s/fhir", "study-1", "sha-2")  # bundle changed
    assert not again.is_current("http://other/fhir", "study-1", "sha-1")  # another server
    assert again.get("http://s/fhir", "study-1").resources == resources
    assert not list(tmp_path.glob(".*.tmp"))


def test_prepare_drops_ids_only_on_conditional_puts():
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "ResearchStudy", "id": "x"},
                "request": {"method": "PUT", "url": "ResearchStudy?identifier=s|v"},
            },
            {
                "resource": {"resourceType": "Basic", "id": "y"},
                "request": {"method": "PUT", "url": "Basic/y"},
            },
        ],
    }
    sent = prepared(json.dumps(bundle).encode())
    assert "id" not in sent["entry"][0]["resource"]
    assert sent["entry"][1]["resource"]["id"] == "y"


def test_server_resources_from_a_transaction_response():
    response = {
        "entry": [
            {"response": {"status": "201", "location": "ResearchStudy/r1/_history/v1"}},
            {
                "response": {"status": "200", "location": "PlanDefinition/p1"},
                "resource": {"meta": {"versionId": "v2"}},
            },
        ]
    }
    assert [r.to_json() for r in server_resources(response)] == [
        {"resourceType": "ResearchStudy", "id": "r1", "versionId": "v1"},
        {"resourceType": "PlanDefinition", "id": "p1", "versionId": "v2"},
    ]


def test_rate_limiter_spaces_request_starts():
    import time

    limiter = RateLimiter(50.0)
    started = time.monotonic()
    for _ in range(11):
        limiter.wait()
    assert time.monotonic() - started >= 10 / 50.0 - 0.01
    unlimited = RateLimiter(None)
    started = time.monotonic()
    for _ in range(1000):
        unlimited.wait()
    assert time.monotonic() - started < 0.1


@pytest.mark.prefect
def test_credentials_from_a_prefect_secret_block():
    from prefect.blocks.system import Secret

    Secret(value="block-token").save("trialexport-test-token", overwrite=True)
    Secret(value=json.dumps({"user": "ann", "password": "pw"})).save("trialexport-test-basic", overwrite=True)
    token = resolve_auth("trialexport-test-token", env={})
    assert isinstance(token, BearerAuth) and "block-token" not in repr(token)
    assert isinstance(resolve_auth("trialexport-test-basic", env={}), httpx.BasicAuth)
    # the environment wins over the block
    assert isinstance(resolve_auth("trialexport-test-basic", env={"TRIALEXPORT_FHIR_TOKEN": "t"}), BearerAuth)
    # a block that is not there, or holds neither: a usage error (exit 2), one line
    with pytest.raises(SecretBlockError, match="'trialexport-no-such-block'") as missing:
        resolve_auth("trialexport-no-such-block", env={})
    assert missing.value.exit_code == 2
    Secret(value=json.dumps({"nothing": "useful"})).save("trialexport-test-empty", overwrite=True)
    with pytest.raises(SecretBlockError, match="neither a token nor user/password"):
        resolve_auth("trialexport-test-empty", env={})


def test_the_preflight_asks_for_metadata_with_a_short_retry_and_any_answer_will_do():
    transport, seen = scripted(httpx.ConnectError("refused"), httpx.Response(503))
    sleeps = []
    attempted = client(transport, sleeps, attempts=9).preflight(attempts=3)
    assert attempted.response.status_code == 503 and attempted.attempts == 2  # answered: not retried
    assert [r.url.path for r in seen] == ["/fhir/metadata"] * 2 and [r.method for r in seen] == ["GET"] * 2
    assert seen[0].extensions["timeout"]["connect"] == 10.0  # not the request timeout of 60 s

    transport, seen = scripted(*[httpx.ConnectError("refused")] * 5)
    attempted = client(transport, [], attempts=9).preflight(attempts=3)
    assert attempted.response is None and attempted.attempts == 3 and len(seen) == 3


def silent(error="ConnectError: refused") -> Attempted:
    return Attempted(None, 2, error)


def test_the_breaker_opens_after_n_silent_requests_in_a_row():
    breaker = Breaker(3)
    for answered in (silent(), silent(), Attempted(httpx.Response(500), 2, "HTTP 500"), silent(), silent()):
        breaker.record(answered)
    assert not breaker.open  # an HTTP answer, even a 500, reset the count
    breaker.record(silent("ReadTimeout: slow"))
    assert breaker.open and breaker.transient
    assert breaker.reason == (
        "server unreachable: not sent, 3 requests in a row got no answer (last: ReadTimeout: slow)"
    )
    never = Breaker(0)
    for _ in range(100):
        never.record(silent())
    assert not never.open


def test_split_order_puts_referenced_entries_first_and_refuses_a_cycle():
    def entry(url, *refs):
        return {"fullUrl": url, "resource": {"resourceType": "Basic", "x": [{"reference": r} for r in refs]}}

    bundle = {
        "entry": [entry("urn:a", "urn:b", "Patient/9"), entry("urn:b", "urn:c"), entry("urn:c", "urn:c")]
    }
    assert split_order(bundle) == [2, 1, 0]
    with pytest.raises(CannotSplit, match="reference each other"):
        split_order({"entry": [entry("urn:a", "urn:b"), entry("urn:b", "urn:a")]})


def test_a_one_entry_transaction_points_at_the_server_ids():
    entry = {
        "fullUrl": "urn:uuid:s",
        "resource": {
            "resourceType": "ResearchStudy",
            "protocol": [{"reference": "urn:uuid:p"}],
            "title": "urn:uuid:p",
        },
        "request": {"method": "PUT", "url": "ResearchStudy?identifier=s|1"},
    }
    sent = json.loads(one_entry_transaction(entry, {"urn:uuid:p": "PlanDefinition/42"}))
    assert sent["type"] == "transaction" and sent["entry"][0]["request"] == entry["request"]
    resource = sent["entry"][0]["resource"]
    assert resource["protocol"] == [{"reference": "PlanDefinition/42"}]
    assert resource["title"] == "PlanDefinition/42"  # any element holding exactly the fullUrl (uri too)
    assert entry["resource"]["protocol"] == [{"reference": "urn:uuid:p"}]  # the input is left alone
