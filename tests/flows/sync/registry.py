"""A stand-in for the ClinicalTrials.gov API v2 on 127.0.0.1 (a free port), for tests without the
internet. It serves real API v2 records (the fixtures) the way the API does, as far as the sync
relies on it (see ``flows/sync/api.py`` for the sources):

- ``GET /api/v2/studies``: ``query.term`` (a case-insensitive substring of the record) and
  ``query.cond`` (of its conditions, keywords and titles) stand in for the API's Essie search;
  ``filter.advanced=AREA[LastUpdatePostDate]RANGE[from,to]`` (dates, ``MIN``, ``MAX``);
  ``filter.ids``; ``fields=NCTId,LastUpdatePostDate``; ``pageSize`` (default 10, at most 1,000,
  else 400); ``countTotal=true`` gives ``totalCount`` with the first page; ``nextPageToken`` on
  every page but the last. A later page asked with other parameters than its first (pageToken,
  pageSize and countTotal aside) is refused with a 400, as the API documents.
- ``GET /api/v2/studies/{nctId}``: the record; 301 to the current id for an id that changed;
  404 ``NCT number … not found`` (text/plain, as the API's error bodies are).
- ``GET /api/v2/version``: ``apiVersion`` and ``dataTimestamp``.
- Faults, injected in order, each consumed by the next request it applies to: 429 with
  ``Retry-After``, 503, a dropped connection (closed without an answer), an expired page token
  (400 to the next request carrying one), an empty page (``studies: []`` and a token on).
- Changes a registry sees: a record updated (its LastUpdatePostDate moves), removed, given a new
  NCT id (the old one in ``nctIdAliases``, and a 301 for it).

Every request is logged with its time, path, parameters and answer, for the tests to read.
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import orjson

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "ctgov" / "json"
BASE = "/api/v2"
RANGE = re.compile(r"^AREA\[LastUpdatePostDate\]RANGE\[([^,\]]+),\s*([^\]]+)\]$")
NCT = re.compile(r"^NCT\d{8}$")
PAGING = {"pageToken", "pageSize", "countTotal"}  # may differ between pages, as the API says
MAX_PAGE_SIZE = 1000


def fixture_studies() -> list[dict]:
    """The real API v2 records of the fixtures, one per NCT id: the raw list page's studies
    first (exactly as the API sent them), then the single-study files."""
    found: dict[str, dict] = {}
    sources = [FIXTURES / "list" / "studies_page_KRAS_10.json", *sorted((FIXTURES / "v2").glob("*.json"))]
    for path in sources:
        data = orjson.loads(path.read_bytes())
        for study in data.get("studies", [data]):
            found.setdefault(study["protocolSection"]["identificationModule"]["nctId"], study)
    return [found[k] for k in sorted(found)]


def nct_of(study: dict) -> str:
    return study["protocolSection"]["identificationModule"]["nctId"]


def last_update(study: dict) -> str:
    return study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]


@dataclass
class Logged:
    at: float  # time.monotonic()
    path: str  # after /api/v2/
    params: dict[str, str]
    status: int | None  # None: the connection was dropped


@dataclass
class Fault:
    kind: str  # "429", "503", "drop", "expire", "empty"
    on: str = "studies"  # "studies" (search pages), "study" (one record), "version", "any"
    retry_after: str | None = None

    def applies(self, route: str, params: dict[str, str]) -> bool:
        if self.kind == "expire":
            return route == "studies" and "pageToken" in params
        return self.on in ("any", route)


@dataclass
class Registry:
    studies: dict[str, dict] = field(default_factory=dict)
    data_timestamp: str = "2025-11-21T09:00:05"
    api_version: str = "2.0.5"
    moved: dict[str, str] = field(default_factory=dict)  # old NCT id -> current
    faults: deque[Fault] = field(default_factory=deque)
    log: list[Logged] = field(default_factory=list)
    tokens: dict[str, tuple[tuple, int]] = field(default_factory=dict)
    on_request: Callable[[Logged], None] | None = None  # called with each answer, before it is sent
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @classmethod
    def of_fixtures(cls) -> Registry:
        return cls({nct_of(s): s for s in fixture_studies()})

    # -- running ---------------------------------------------------------------------------
    def start(self) -> Registry:
        registry = self

        class Handler(_Handler):
            pass

        Handler.registry = registry
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{BASE}"

    # -- what the registry sees happen -----------------------------------------------------
    def update(self, nct: str, posted: str, change: Callable[[dict], None]) -> None:
        """A new version of a record, posted on ``posted`` (YYYY-MM-DD)."""
        with self.lock:
            study = copy.deepcopy(self.studies[nct])
            change(study)
            study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {
                "date": posted,
                "type": "ACTUAL",
            }
            self.studies[nct] = study

    def remove(self, nct: str) -> None:
        with self.lock:
            del self.studies[nct]

    def rename(self, old: str, new: str, posted: str) -> None:
        """The study gets a new NCT id; the old one becomes an alias and redirects."""

        def renamed(study: dict) -> None:
            ident = study["protocolSection"]["identificationModule"]
            ident["nctId"] = new
            ident["nctIdAliases"] = [*ident.get("nctIdAliases", []), old]

        self.update(old, posted, renamed)
        with self.lock:
            self.studies[new] = self.studies.pop(old)
            self.moved[old] = new

    def inject(self, kind: str, count: int = 1, on: str = "studies", retry_after: str | None = None) -> None:
        with self.lock:
            self.faults.extend(Fault(kind, on, retry_after) for _ in range(count))

    def pages(self, **params: str) -> list[Logged]:
        """The search requests answered, optionally those with these parameters."""
        return [
            r
            for r in self.log
            if r.path == "studies"
            and r.status is not None
            and all(r.params.get(k) == v for k, v in params.items())
        ]

    # -- answering -------------------------------------------------------------------------
    def _fault(self, route: str, params: dict[str, str]) -> Fault | None:
        with self.lock:
            if self.faults and self.faults[0].applies(route, params):
                return self.faults.popleft()
        return None

    def _search(self, params: dict[str, str]) -> list[dict] | str:
        """The matching studies in a stable order, or the reason (400) the API would give."""
        with self.lock:
            studies = [self.studies[k] for k in sorted(self.studies)]
        if ids := params.get("filter.ids"):
            wanted = set(re.split(r"[,\s]+", ids.strip()))
            studies = [s for s in studies if nct_of(s) in wanted]
        if term := params.get("query.term"):
            studies = [s for s in studies if term.lower() in orjson.dumps(s).decode().lower()]
        if cond := params.get("query.cond"):
            studies = [s for s in studies if cond.lower() in _condition_text(s)]
        if advanced := params.get("filter.advanced"):
            match = RANGE.match(advanced.strip())
            if not match:
                return (
                    f"filter.advanced: the stand-in knows only AREA[LastUpdatePostDate]RANGE[..]: {advanced}"
                )
            low, high = (v.strip() for v in match.groups())
            studies = [
                s
                for s in studies
                if (low == "MIN" or last_update(s) >= low) and (high == "MAX" or last_update(s) <= high)
            ]
        return studies

    def answer_studies(self, params: dict[str, str]) -> tuple[int, dict | str]:
        if refused := _refused(params):
            return 400, refused
        size = int(params.get("pageSize", "10"))
        fields = params.get("fields")
        signature = tuple(sorted((k, v) for k, v in params.items() if k not in PAGING))
        token = params.get("pageToken")
        offset = 0
        if token:
            known = self.tokens.get(token)
            if known is None:
                return 400, "Invalid pageToken"
            if known[0] != signature:
                return 400, "Parameters of a later page must be those of the first page"
            offset = known[1]
        studies = self._search(params)
        if isinstance(studies, str):
            return 400, studies
        body: dict = {}
        if not token and params.get("countTotal") == "true":
            body["totalCount"] = len(studies)
        page = studies[offset : offset + size]
        body["studies"] = [_fields(s) if fields else s for s in page]
        if offset + size < len(studies):
            next_token = secrets.token_urlsafe(30)
            self.tokens[next_token] = (signature, offset + size)
            body["nextPageToken"] = next_token
        return 200, body

    def answer_study(self, nct: str) -> tuple[int, dict | str, dict[str, str]]:
        nct = nct.upper()
        if not NCT.match(nct):
            return 400, "Parameter `nctId` has incorrect format", {}
        with self.lock:
            if nct in self.moved:
                return 301, "", {"Location": f"{BASE}/studies/{self.moved[nct]}"}
            study = self.studies.get(nct)
        if study is None:
            return 404, f"NCT number {nct} not found", {}
        return 200, study, {}


def _refused(params: dict[str, str]) -> str | None:
    """Why the API would answer 400 to a search's parameters (None: it would not)."""
    if params.get("format", "json") != "json":
        return "the stand-in answers format=json only"
    try:
        size = int(params.get("pageSize", "10"))
    except ValueError:
        return "Parameter `pageSize` has incorrect format"
    if not 0 < size <= MAX_PAGE_SIZE:
        return f"Parameter `pageSize` must be from 1 to {MAX_PAGE_SIZE}"
    fields = params.get("fields")
    if fields not in (None, "NCTId,LastUpdatePostDate"):
        return f"fields: the stand-in knows only NCTId,LastUpdatePostDate: {fields}"
    return None


def _condition_text(study: dict) -> str:
    section = study["protocolSection"]
    conditions = section.get("conditionsModule", {})
    ident = section["identificationModule"]
    parts = [*conditions.get("conditions", []), *conditions.get("keywords", [])]
    parts += [ident.get("briefTitle", ""), ident.get("officialTitle", "")]
    return " ".join(parts).lower()


def _fields(study: dict) -> dict:
    """What ``fields=NCTId,LastUpdatePostDate`` keeps of a record: those two, where they sit."""
    return {
        "protocolSection": {
            "identificationModule": {"nctId": nct_of(study)},
            "statusModule": {"lastUpdatePostDateStruct": {"date": last_update(study)}},
        }
    }


class _Handler(BaseHTTPRequestHandler):
    registry: Registry
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # the test's output stays readable
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        path = url.path[len(BASE) + 1 :] if url.path.startswith(BASE + "/") else url.path
        route = "studies" if path == "studies" else "study" if path.startswith("studies/") else path
        logged = Logged(time.monotonic(), path, params, None)
        self.registry.log.append(logged)
        fault = self.registry._fault(route, params)
        if fault is not None and fault.kind == "drop":
            self.close_connection = True  # no answer at all: the client sees the connection end
            return
        if fault is not None and fault.kind in ("429", "503"):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(
                logged,
                int(fault.kind),
                "Too Many Requests" if fault.kind == "429" else "Service Unavailable",
                headers,
            )
            return
        if fault is not None and fault.kind == "expire":
            self._send(logged, 400, "Invalid pageToken")
            return
        if fault is not None and fault.kind == "empty":  # a page with no studies that still goes on
            next_token = secrets.token_urlsafe(30)
            token = params.get("pageToken")
            signature = tuple(sorted((k, v) for k, v in params.items() if k not in PAGING))
            self.registry.tokens[next_token] = (signature, self.registry.tokens[token][1] if token else 0)
            self._send(logged, 200, {"studies": [], "nextPageToken": next_token})
            return
        if path == "version":
            body = {"apiVersion": self.registry.api_version, "dataTimestamp": self.registry.data_timestamp}
            self._send(logged, 200, body)
        elif route == "studies":
            self._send(logged, *self.registry.answer_studies(params))
        elif route == "study":
            self._send(logged, *self.registry.answer_study(path.split("/", 1)[1]))
        else:
            self._send(logged, 404, f"no such endpoint: {url.path}")

    def _send(
        self, logged: Logged, status: int, body: dict | str, headers: dict[str, str] | None = None
    ) -> None:
        # Logged, and the test's hook run, before the answer leaves: once the client has it, the
        # test may read the log, and the client may ask for the next page.
        logged.status = status
        if self.registry.on_request is not None:
            self.registry.on_request(logged)
        data = orjson.dumps(body) if isinstance(body, dict) else body.encode()
        self.send_response(status)
        kind = "application/json" if isinstance(body, dict) else "text/plain"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
