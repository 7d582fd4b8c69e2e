"""The HTTP side of publishing: one httpx client, credentials, and a retry loop per request.

Retrying lives here, per request, so that one slow or throttled study does not make Prefect
repeat a whole batch; Prefect's task retries are the outer net for a batch whose studies are
still failing after every HTTP attempt.
"""

from __future__ import annotations

import json
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from flows.errors import SecretBlockError

if TYPE_CHECKING:
    from flows.settings import PublishSettings, SyncSettings

TOKEN_ENV = "TRIALEXPORT_FHIR_TOKEN"
USER_ENV = "TRIALEXPORT_FHIR_USER"
PASSWORD_ENV = "TRIALEXPORT_FHIR_PASSWORD"
FHIR_JSON = "application/fhir+json"

# Connection-level failures worth another attempt: the server may be restarting or a proxy may
# have dropped an idle keep-alive connection.
TRANSIENT_ERRORS = (httpx.TransportError,)

# A TCP connect that has not completed in this long will not: the preflight gives up on it instead
# of waiting out the (read-sized) request timeout on a host that drops packets.
PREFLIGHT_CONNECT_TIMEOUT = 10.0
# The preflight is a "are you there" check, not a request whose outcome matters: short waits.
PREFLIGHT_MAX_DELAY = 2.0


def tries(count: int) -> str:
    return f"{count} {'try' if count == 1 else 'tries'}"


def _untrusted(error: object) -> bool:
    """A TLS verification failure: a configuration problem (wrong CA bundle), not a passing one."""
    text = str(error or "")
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text


def is_retryable_status(status: int) -> bool:
    """429 and 5xx are the server saying "not now"; any other 4xx is about the request itself,
    and sending the same bytes again cannot change the answer."""
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, or None when absent or unreadable.

    The header is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3); a date in the past
    means "now". An unreadable value is ignored rather than trusted, so backoff takes over.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a naive result comes from a non-standard zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request.

    attempts: total tries including the first (1 = no retry).
    base_delay: seconds before the second try; doubles for each further try.
    max_delay: ceiling for any single wait, including a server's ``Retry-After`` — a server asking
        for an hour must not stall a run; the request then fails and is reported.
    jitter: fraction of the backoff added at random (0.5 -> up to +50 %), so that clients that
        failed together do not come back together. Never applied to ``Retry-After``, which is
        the server's own schedule.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5

    @classmethod
    def of(cls, settings: PublishSettings | SyncSettings) -> RetryPolicy:
        """The policy of a client's settings (their shared retry fields, ``flows.settings``)."""
        return cls(settings.attempts, settings.base_delay, settings.max_delay)

    def delay(self, attempt: int, retry_after: float | None = None, rng: Callable[[], float] = random.random):
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        backoff = self.base_delay * 2 ** (attempt - 1)
        return min(backoff * (1 + self.jitter * rng()), self.max_delay)


class BearerAuth(httpx.Auth):
    """A token that never shows up in a repr, a log line or an exception message."""

    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


def resolve_auth(secret_block: str | None = None, env: Mapping[str, str] | None = None) -> httpx.Auth | None:
    """Credentials from the environment, else from a Prefect Secret block, never from arguments
    (a command line ends up in shell history and in process listings).

    The Secret block holds either a bearer token or JSON ``{"user": ..., "password": ...}``.
    """
    env = os.environ if env is None else env
    if env.get(TOKEN_ENV):
        return BearerAuth(env[TOKEN_ENV])
    if env.get(USER_ENV):
        return httpx.BasicAuth(env[USER_ENV], env.get(PASSWORD_ENV, ""))
    if secret_block:
        from prefect.blocks.system import Secret

        try:
            value: Any = Secret.load(secret_block).get()  # type: ignore[union-attr]  # sync here
        except ValueError as exc:  # no such block, or a block of another type
            raise SecretBlockError(
                f"TRIALEXPORT_FHIR_SECRET_BLOCK / --secret-block {secret_block!r}: {exc}"
            ) from None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return BearerAuth(value)
        if isinstance(value, dict) and "user" in value:
            return httpx.BasicAuth(value["user"], value.get("password", ""))
        if isinstance(value, dict) and "token" in value:
            return BearerAuth(value["token"])
        raise SecretBlockError(f"Secret block {secret_block!r} holds neither a token nor user/password")
    return None


@dataclass
class Attempted:
    """What came of one request after its retries: the last response or the last error."""

    response: httpx.Response | None
    attempts: int
    error: str | None = None
    waited: float = 0.0
    history: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.response is not None and self.response.is_success

    @property
    def transient(self) -> bool:
        """Failed for a reason that may pass: worth another try in a later run or task retry."""
        if self.response is None:
            return not _untrusted(self.error)
        return is_retryable_status(self.response.status_code)


def send_with_retries(
    http: httpx.Client,
    method: str,
    url: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    retry_statuses: bool = True,
    **kwargs,
) -> Attempted:
    """One request through ``http`` with ``policy``'s retries: connection errors, timeouts, 429 and
    5xx are tried again after a backoff (``Retry-After`` when the server sends one); any other
    answer ends it. Returns the final response (any status) or the last transport error.

    A function, not a method, so that every client of the project (FHIR servers, the registry API)
    retries the same way.
    """
    waited = 0.0
    history: list[str] = []
    for attempt in range(1, policy.attempts + 1):
        retry_after = None
        try:
            response = http.request(method, url, **kwargs)
        except TRANSIENT_ERRORS as exc:
            response, error = None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if _untrusted(exc):  # the certificate will not be trusted on the next try either
                return Attempted(None, attempt, error, waited, [*history, error])
        else:
            assert response is not None
            if not (retry_statuses and is_retryable_status(response.status_code)):
                return Attempted(response, attempt, None, waited, history)
            error = f"HTTP {response.status_code}"
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        history.append(error)
        if attempt == policy.attempts:
            return Attempted(response, attempt, error, waited, history)
        pause = policy.delay(attempt, retry_after)
        waited += pause
        sleep(pause)
    raise AssertionError("unreachable")


class FhirClient:
    """A FHIR server base URL with retrying requests; safe to share between threads.

    base_url: the FHIR base (``https://host/fhir``); bundles are POSTed to it.
    auth: from :func:`resolve_auth`; None for an open server.
    ca_bundle: a PEM file of trusted CAs for a private PKI; verification is never switched off.
    timeout: seconds for connect / read / write / pool each.
    max_connections: size of the connection pool; match the number of bundles in flight.
    policy: the per-request retry policy.
    sleep: how to wait between tries; tests pass a recorder.
    transport: an httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth | None = None,
        ca_bundle: str | None = None,
        timeout: float = 60.0,
        max_connections: int = 8,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=self.base_url + "/",
            auth=auth,
            verify=ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"Accept": FHIR_JSON},
            transport=transport,
        )

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, url: str, policy: RetryPolicy | None = None, retry_statuses: bool = True, **kwargs
    ) -> Attempted:
        """Send with retries; returns the final response (any status) or the last transport error.

        retry_statuses: False when only getting an answer matters, so a 5xx or 429 ends it.
        """
        return send_with_retries(
            self.http, method, url, policy or self.policy, self.sleep, retry_statuses, **kwargs
        )

    def post_bundle(self, body: bytes) -> Attempted:
        """POST a transaction to the base. Retrying a POST is safe here because every entry is a
        conditional PUT on the business identifier: a repeat updates, it does not duplicate."""
        return self.request("POST", "", content=body, headers={"Content-Type": FHIR_JSON})

    def preflight(self, attempts: int = 3) -> Attempted:
        """``GET [base]/metadata`` with this client's auth and TLS settings and a short retry.

        Run before any bundle is sent, so that a wrong URL, a server that is down or an untrusted
        certificate costs seconds, not every study's full retry schedule. Any HTTP answer (even
        401 or 404: not every server serves its CapabilityStatement to everyone) shows the
        server is there; only no answer at all is a failed preflight.
        """
        max_delay = min(self.policy.max_delay, PREFLIGHT_MAX_DELAY)
        policy = replace(self.policy, attempts=attempts, max_delay=max_delay)
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, PREFLIGHT_CONNECT_TIMEOUT))
        return self.request("GET", "metadata", policy=policy, retry_statuses=False, timeout=timeout)

    def search(self, resource_type: str, **params) -> dict:
        """One search page as a Bundle (for read-back checks); raises on a final failure."""
        attempted = self.request("GET", resource_type, params=params)
        if attempted.response is None:
            raise httpx.ConnectError(attempted.error or "no response")
        attempted.response.raise_for_status()
        return attempted.response.json()


UNREACHABLE = "server unreachable"


class Breaker:
    """Stops a run sending to a server that no longer answers.

    Each request already retries on its own, so a server restarting under a run is ridden out
    there; when whole requests keep ending without any answer, the server is gone for longer
    than a retry schedule, and sending the remaining studies one by one would only repeat that
    schedule for each. Once open, the breaker stays open for the run: the studies it holds back
    are reported, and the next ``trialexport publish`` sends them.

    threshold: requests in a row that got no answer at all (connection refused or reset,
        timeout) after all of their tries, before it opens; 0 never opens it. Any HTTP
        answer, even an error status, resets the count: the server is there.
    """

    def __init__(self, threshold: int):
        self.threshold = threshold
        self.reason: str | None = None
        self.transient = True
        self._silent = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self.reason is not None

    def record(self, attempted: Attempted) -> None:
        with self._lock:
            if attempted.response is not None:
                self._silent = 0
                return
            self._silent += 1
            if self.threshold and self._silent >= self.threshold and self.reason is None:
                self.reason = (
                    f"{UNREACHABLE}: not sent, {self._silent} requests in a row got no answer "
                    f"(last: {attempted.error})"
                )
                self.transient = attempted.transient

    def trip(self, reason: str, transient: bool = True) -> None:
        """Open at once, e.g. on a failed preflight."""
        with self._lock:
            if self.reason is None:
                self.reason, self.transient = reason, transient
