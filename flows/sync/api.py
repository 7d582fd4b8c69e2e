"""ClinicalTrials.gov API v2 as the sync uses it: ``/version``, ``/studies`` pages, ``/studies/{nctId}``.

What the API does, from its OpenAPI description and from answers recorded from it:

- ``GET /studies`` answers ``{"studies": [...], "nextPageToken": "...", "totalCount": N}``. The
  last page has no ``nextPageToken``; a page may have an empty ``studies`` array and still a
  token; ``totalCount`` comes with the first page only, and only when ``countTotal=true``.
- Every later page must be asked with the first page's parameters plus ``pageToken`` (the API
  ignores ``countTotal`` and ``pageSize`` there; they are sent unchanged all the same).
  ``pageSize`` is at most 1,000.
- Errors come as ``text/plain`` bodies: 400 for a bad parameter or a page token the API no longer
  knows, 404 ``NCT number … not found``.
- A study whose NCT id changed is listed under its current id, the old one in
  ``protocolSection.identificationModule.nctIdAliases``; ``GET /studies/{old id}`` answers 301
  with the current record's URL in ``Location``.
- ``GET /version`` answers ``{"apiVersion": "2.0.5", "dataTimestamp": "2026-10-13T09:00:05"}``:
  the data's last refresh, UTC.

Every request goes through the publishing retry helper (``send_with_retries``: 429, 5xx and
dropped connections retried with backoff, ``Retry-After`` honoured) and the publishing rate
limiter, which paces each try, retries included.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import version
from urllib.parse import urlsplit

import httpx
import orjson

from flows.errors import FetchIncomplete
from flows.publish.client import RetryPolicy, is_retryable_status, send_with_retries, tries
from flows.publish.flow import RateLimiter
from flows.settings import SyncSettings

NCT_ID = re.compile(r"^NCT\d{8}$")
REDIRECTS = (301, 302, 307, 308)
ERROR_TEXT_CHARS = 300  # of an error body quoted in a reason


class RegistryError(FetchIncomplete):
    """A request that did not give a usable answer after its tries.

    transient: whether the same request later may succeed (no answer, 429, 5xx)."""

    def __init__(self, message: str, transient: bool, status: int | None = None):
        super().__init__(message)
        self.transient = transient
        self.status = status


class PageTokenRefused(RegistryError):
    """A 400 to a request carrying a ``pageToken``: the API no longer knows the token (they expire)
    and the search has to be paged again from its first page."""


@dataclass(frozen=True)
class ApiVersion:
    api_version: str | None
    data_timestamp: str | None  # "yyyy-MM-ddTHH:mm:ss", UTC


@dataclass(frozen=True)
class Page:
    studies: list[dict]
    next_token: str | None
    total_count: int | None


@dataclass(frozen=True)
class Lookup:
    """``GET /studies/{nctId}``: the study (200), where it moved (a redirect: its current id), or
    neither (404)."""

    status: int
    study: dict | None = None
    moved_to: str | None = None


@dataclass
class RequestStats:
    """How the run's requests went, for the sync report."""

    requests: int = 0  # sent, retries included
    retried: int = 0  # requests that needed more than one try
    waited: float = 0.0  # seconds of backoff
    faults: dict[str, int] = field(default_factory=dict)  # what was retried: "HTTP 429": 2, ...


def nct_id(study: dict) -> str | None:
    """The study's NCT id, or None when it has none of the right shape."""
    try:
        value = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) and NCT_ID.match(value) else None


def aliases(study: dict) -> list[str]:
    """Earlier NCT ids of the study (``nctIdAliases``)."""
    try:
        found = study["protocolSection"]["identificationModule"].get("nctIdAliases") or []
    except (KeyError, TypeError, AttributeError):
        return []
    return [a for a in found if isinstance(a, str) and NCT_ID.match(a)]


def last_update_posted(study: dict) -> str | None:
    try:
        return study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    except (KeyError, TypeError):
        return None


def updated_since(start: date) -> str:
    """``filter.advanced`` for the studies whose last update was posted on or after ``start``."""
    return f"AREA[LastUpdatePostDate]RANGE[{start.isoformat()},MAX]"


def _body(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:ERROR_TEXT_CHARS] + ("…" if len(text) > ERROR_TEXT_CHARS else "")


class RegistryClient:
    """One API base URL, paced and retried; not shared between threads (the sync pages in order)."""

    def __init__(
        self,
        base_url: str,
        rate_limit: float | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.stats = RequestStats()
        self._limiter = RateLimiter(rate_limit)
        self.http = httpx.Client(
            base_url=self.base_url + "/",
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": f"trialexport/{version('trialexport')}"},
            follow_redirects=False,  # a redirect says an NCT id changed: the caller wants to know
            event_hooks={"request": [self._pace]},
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: SyncSettings, **kwargs) -> RegistryClient:
        return cls(
            settings.api_url, settings.rate_limit, RetryPolicy.of(settings), settings.timeout, **kwargs
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    def _pace(self, request: httpx.Request) -> None:
        """Every try waits its turn, so retries cannot push the rate past the limit."""
        self._limiter.wait()
        self.stats.requests += 1

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        attempted = send_with_retries(self.http, "GET", path, self.policy, self.sleep, params=params)
        self.stats.retried += attempted.attempts > 1
        self.stats.waited += attempted.waited
        for fault in attempted.history:  # "HTTP 429", "RemoteProtocolError: Server disconnected…"
            kind = fault.split(":")[0]
            self.stats.faults[kind] = self.stats.faults.get(kind, 0) + 1
        if attempted.response is None:
            raise RegistryError(
                f"GET {self.base_url}/{path}: no answer after {tries(attempted.attempts)}"
                f" ({attempted.error})",
                attempted.transient,
            )
        return attempted.response

    def _fail(self, response: httpx.Response, what: str) -> RegistryError:
        status = response.status_code
        return RegistryError(f"{what}: HTTP {status}: {_body(response)}", is_retryable_status(status), status)

    def _json(self, response: httpx.Response, what: str) -> dict:
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RegistryError(f"{what}: the answer is not JSON ({exc})", transient=True) from None
        if not isinstance(data, dict):
            raise RegistryError(f"{what}: the answer is not a JSON object", transient=True)
        return data

    def version(self) -> ApiVersion:
        response = self._get("version")
        if not response.is_success:
            raise self._fail(response, "GET version")
        data = self._json(response, "GET version")
        return ApiVersion(data.get("apiVersion"), data.get("dataTimestamp"))

    def page(self, params: dict[str, str], token: str | None = None) -> Page:
        """One page of a search: ``params`` as the first page had them, plus ``token``."""
        response = self._get("studies", {**params, **({"pageToken": token} if token else {})})
        if response.status_code == 400 and token:
            raise PageTokenRefused(f"page token refused: HTTP 400: {_body(response)}", True, 400)
        if not response.is_success:
            raise self._fail(response, "GET studies")
        data = self._json(response, "GET studies")
        studies = data.get("studies")
        if not isinstance(studies, list):
            raise RegistryError("GET studies: the answer has no studies array", transient=True)
        total = data.get("totalCount")
        return Page(studies, data.get("nextPageToken") or None, total if isinstance(total, int) else None)

    def study(self, nct: str) -> Lookup:
        """One study by NCT id, without following a redirect (it names the study's current id)."""
        response = self._get(f"studies/{nct}")
        if response.status_code in REDIRECTS:
            path = urlsplit(response.headers.get("Location", "")).path
            target = path.rstrip("/").rsplit("/", 1)[-1].upper()
            return Lookup(response.status_code, moved_to=target if NCT_ID.match(target) else None)
        if response.status_code == 404:
            return Lookup(404)
        if not response.is_success:
            raise self._fail(response, f"GET studies/{nct}")
        return Lookup(response.status_code, study=self._json(response, f"GET studies/{nct}"))


class Pager:
    """The pages of one ``/studies`` search, in order.

    Every page is asked with the first page's parameters (``countTotal=true`` among them, which
    gives ``expected`` with the first page) plus the token the previous page gave. A token the
    API refuses starts the search again from its first page, at most ``max_restarts`` times: what
    was already stored is stored again (the same bytes), and callers count studies by id, so
    nothing is counted twice. The pager keeps its place between calls, so a Prefect retry of a
    batch of pages continues where the failed try stopped.
    """

    def __init__(self, client: RegistryClient, params: dict[str, str], page_size: int, max_restarts: int):
        self.client = client
        self.params = {**params, "format": "json", "pageSize": str(page_size), "countTotal": "true"}
        self.max_restarts = max_restarts
        self.token: str | None = None
        self.expected: int | None = None
        self.pages = 0
        self.empty_pages = 0
        self.restarts = 0
        self.done = False

    def next(self) -> Page:
        try:
            page = self.client.page(self.params, self.token)
        except PageTokenRefused as exc:
            if self.restarts >= self.max_restarts:
                raise RegistryError(
                    f"{exc}; paging was started again {self.restarts} times", transient=True, status=400
                ) from None
            self.restarts += 1
            self.token = None
            page = self.client.page(self.params, None)
        if self.token is None:
            self.expected = page.total_count
        self.pages += 1
        self.empty_pages += not page.studies
        self.token = page.next_token
        self.done = self.token is None
        return page
