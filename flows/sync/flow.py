"""The ``sync-trials`` flow: registry -> ``sources/ctgov/`` -> export (-> publish) -> watermark.

Paging is sequential (each page's token comes with the one before), so the fetch is a chain of
``fetch-pages`` tasks, each a batch of pages whose studies are on disk before the next page is
asked for. The export and the publish are the ordinary flows, run as subflows on the whole
``sources/ctgov/`` directory: their ledgers skip what did not change, so a sync that fetched two
changed studies exports and sends two.

Honest about what it did: the watermark moves only when the fetch reached the last page with as
many studies as the API counted, the export finished, and (with a FHIR URL) every study is
confirmed on the server. Anything short of that leaves the watermark where it was, and the next
sync asks again from there: records stored again are the same bytes, the export's ledger skips
them, the publish ledger does not resend them, and the server's conditional updates would not
duplicate them anyway.
"""

# No ``from __future__ import annotations`` here: Prefect validates a flow run's parameters
# against ``sync_trials``' annotations, and a served run gets the function pickled by value (its
# module's name is bound to the Flow, not to it), with only the globals its code uses. A string
# annotation ("date | None") would then name a type that is not there.
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.runtime import task_run

from flows import Logger, progress
from flows.errors import UsageError
from flows.export import export_trials
from flows.output import write_atomic
from flows.records import RunReport, Status
from flows.run_report import read_report
from flows.settings import MAX_PAGE_SIZE, SyncSettings, load
from flows.sync.api import (
    Page,
    Pager,
    RegistryClient,
    RegistryError,
    aliases,
    nct_id,
    updated_since,
)
from flows.sync.report import (
    ApiSection,
    ExportSection,
    FetchSection,
    PublishSection,
    RemovalCheck,
    Removed,
    Renamed,
    RequestsSection,
    RunSection,
    SyncReport,
    WatermarkSection,
    Window,
)
from flows.sync.store import (
    SourceStore,
    SyncState,
    load_state,
    remove_stale_temporaries,
    save_state,
)
from mappers.finish import dump_json
from mappers.output_layout import REPORT, SYNC_REPORT

# The cheap listing for the removal check: two fields a study, the API's largest pages.
LISTING_FIELDS = "NCTId,LastUpdatePostDate"
# Studies asked by id at once (filter.ids) when a check finds some listed but not stored.
IDS_PER_REQUEST = 100


def search_params(query: str | None, condition: str | None) -> dict[str, str]:
    """The API parameters of a search (``query.term``, ``query.cond``); the sync state records
    them, so a changed search does not inherit another search's watermark."""
    return {name: value for name, value in (("query.term", query), ("query.cond", condition)) if value}


def choose_window(
    previous: SyncState | None, api_url: str, search: dict[str, str], since: date | None, full: bool
) -> Window:
    notes = []
    usable = previous if previous is not None and previous.same_search(api_url, search) else None
    if previous is not None and usable is None:
        notes.append("the API URL or the query changed since the last sync: its watermark does not apply")
    if usable is not None and usable.started is not None:
        notes.append(
            f"the sync started {usable.started.isoformat(timespec='seconds')} did not finish: "
            "everything since the watermark it left is fetched again"
        )
    watermark = usable.watermark if usable else None
    if full:
        return Window(mode="full", previous_watermark=watermark, notes=notes)
    if since is not None:
        return Window(mode="since", start=since, previous_watermark=watermark, notes=notes)
    if watermark is not None:  # a day of overlap: nothing posted on the watermark's edge is missed
        return Window(
            mode="watermark", start=watermark - timedelta(days=1), previous_watermark=watermark, notes=notes
        )
    return Window(mode="first", notes=notes)


class PagesNotFetched(RuntimeError):
    """Raised so that Prefect retries a batch of pages whose request kept failing for a passing reason."""


class FetchRun:
    """What the fetch tasks of one sync share: the pager (where paging stands), the store and
    the counts. A plain class, like the publish run: Prefect has nothing to look for in it."""

    def __init__(self, client: RegistryClient, store: SourceStore, pager: Pager, settings: SyncSettings):
        self.client = client
        self.store = store
        self.pager = pager
        self.settings = settings
        self.seen: set[str] = set()
        self.new: list[str] = []
        self.changed: list[str] = []
        self.unchanged = 0
        self.duplicates = 0
        self.invalid: list[str] = []
        self.renamed: list[Renamed] = []
        self.error: str | None = None
        self._told: tuple[int | None] | None = None  # the expected count the listener has heard

    def keep(self, study: dict, where: str) -> bool:
        """Store one study under its NCT id; an earlier id it names moves aside. Says whether it
        was a study not seen before in this sync."""
        nct = nct_id(study)
        if nct is None:
            self.invalid.append(f"{where}: no NCT id of the form NCT + 8 digits; not stored")
            return False
        stored = self.store.put(nct, orjson.dumps(study))
        if nct in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(nct)
        if stored == "unchanged":
            self.unchanged += 1
        else:
            (self.new if stored == "new" else self.changed).append(nct)
        for old in aliases(study):
            if old != nct and (moved := self.store.supersede(old)):
                self.renamed.append(Renamed(old=old, current=nct, moved_to=moved, found_by="alias"))
        return True

    def absorb(self, page: Page) -> int:
        if self._told != (self.pager.expected,):
            self._told = (self.pager.expected,)
            progress.fetch_started(self.pager.expected)
        fresh = sum(
            self.keep(s, f"page {self.pager.pages}, study {i + 1}") for i, s in enumerate(page.studies)
        )
        progress.fetched(fresh)
        return fresh


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_pages(run: FetchRun) -> int:
    """Up to ``pages_per_task`` pages from where paging stands, each page's studies on disk before
    the next page is asked for; returns the studies new to this sync. A request that keeps
    failing for a passing reason fails the batch while Prefect retries remain (the retry goes on
    from the same page), and is recorded as the fetch's error after the last."""
    logger = get_run_logger()
    pager = run.pager
    fresh = 0
    for _ in range(run.settings.pages_per_task):
        if pager.done:
            break
        restarts = pager.restarts
        try:
            page = pager.next()
        except RegistryError as exc:
            if exc.transient and task_run.run_count <= run.settings.task_retries:
                raise PagesNotFetched(str(exc)) from None
            run.error = str(exc)
            break
        if pager.restarts > restarts:
            logger.warning(
                "the API refused the page token: paging again from the first page (%d of at most %d)",
                pager.restarts,
                pager.max_restarts,
            )
        fresh += run.absorb(page)
    logger.info(
        "page %d: %d of %s studies fetched (%d new, %d changed, %d unchanged)",
        pager.pages,
        len(run.seen),
        pager.expected if pager.expected is not None else "?",
        len(run.new),
        len(run.changed),
        run.unchanged,
    )
    return fresh


def fetch_all(run: FetchRun) -> None:
    batch = fetch_pages.with_options(
        retries=run.settings.task_retries, retry_delay_seconds=run.settings.base_delay
    )
    while not run.pager.done and run.error is None:
        state = batch(run, return_state=True)
        if state.is_failed():  # a bug or a full disk: what was stored stays, the watermark does not move
            run.error = run.error or f"page batch failed: {state.message}"


def _listing(run: FetchRun, search: dict[str, str]) -> tuple[set[str] | None, str | None]:
    """Every NCT id the search returns now, two fields a study; None with the reason when the
    listing did not come whole."""
    pager = Pager(
        run.client, {**search, "fields": LISTING_FIELDS}, MAX_PAGE_SIZE, run.settings.token_restarts
    )
    listed: set[str] = set()
    try:
        while not pager.done:
            listed.update(n for n in map(nct_id, pager.next().studies) if n)
    except RegistryError as exc:
        return None, f"the listing failed: {exc}"
    if pager.expected is not None and len(listed) < pager.expected:
        return None, f"the listing gave {len(listed)} studies of the {pager.expected} the API counted"
    return listed, None


def _fetch_ids(run: FetchRun, ids: list[str]) -> list[str]:
    """Studies asked for by id (``filter.ids``), stored like fetched ones; returns those stored."""
    got = []
    for start in range(0, len(ids), IDS_PER_REQUEST):
        chunk = ids[start : start + IDS_PER_REQUEST]
        pager = Pager(run.client, {"filter.ids": ",".join(chunk)}, len(chunk), run.settings.token_restarts)
        while not pager.done:
            for study in pager.next().studies:
                run.keep(study, "filter.ids")
                got.append(nct_id(study))
    return sorted({n for n in got if n in ids})


def _classify(run: FetchRun, nct: str) -> Removed | None:
    """Why a stored study is not listed: gone from the registry (404), renamed (a redirect: the
    record is fetched under its current id and the old one moves aside; None), or still there
    but no longer matching the query."""
    source = run.store.relative(run.store.path(nct))
    try:
        lookup = run.client.study(nct)
        if lookup.moved_to:
            current = lookup.moved_to
            if not run.store.has(current):
                moved = run.client.study(current)
                if moved.study is not None and nct_id(moved.study) == current:
                    run.keep(moved.study, f"studies/{current}")
            if run.store.has(current):
                # the current record usually names the old id itself, and keep() has moved it
                known = next((r for r in run.renamed if r.old == nct and r.current == current), None)
                if known is None:
                    where = run.store.supersede(nct)
                    known = Renamed(old=nct, current=current, moved_to=where, found_by="redirect")
                    run.renamed.append(known)
                known.found_by = "redirect"
                return None
            reason = f"the registry redirects {nct} to {current}, which could not be fetched"
            return Removed(
                nct_id=nct, status="unknown", http_status=lookup.status, source=source, reason=reason
            )
    except RegistryError as exc:
        return Removed(nct_id=nct, status="unknown", http_status=exc.status, source=source, reason=str(exc))
    if lookup.status == 404:
        reason = "the registry no longer has this NCT number"
        return Removed(nct_id=nct, status="not-found", http_status=404, source=source, reason=reason)
    reason = "still in the registry, but the query no longer returns it"
    return Removed(nct_id=nct, status="not-matching", http_status=lookup.status, source=source, reason=reason)


@task(name="check-removed", cache_policy=NO_CACHE)
def reconcile(run: FetchRun, search: dict[str, str], listed: set[str] | None) -> RemovalCheck:
    """Compare what is stored with what the search returns now: stored studies no longer listed
    are asked for one by one and reported (never deleted); listed studies not stored are fetched.
    ``listed``: the ids of a complete full fetch, else they are listed here (cheaply)."""
    reason = None
    if listed is None:
        listed, reason = _listing(run, search)
    stored = run.store.ids()
    if listed is None:
        return RemovalCheck(checked=False, reason=reason, stored=len(stored))
    removed = [r for r in (_classify(run, n) for n in sorted(stored - listed)) if r is not None]
    try:
        missing = _fetch_ids(run, sorted(listed - run.store.ids()))
    except RegistryError as exc:
        return RemovalCheck(
            checked=False,
            reason=f"fetching listed studies failed: {exc}",
            listed=len(listed),
            stored=len(stored),
        )
    return RemovalCheck(
        checked=True, listed=len(listed), stored=len(stored), removed=removed, fetched_missing=missing
    )


def _exporter(runner: tuple[str | None, int | None]) -> Any:
    """The export flow on the runner asked for (``flows.runners``), as ``trialexport run`` has it."""
    if not any(runner):
        return export_trials
    from flows.runners import with_runner

    return with_runner(export_trials, *runner)


def _rejected(store: SourceStore, report: RunReport) -> list[str]:
    """The stored records the export rejected, by NCT id: their entries, streamed from the report
    only when its totals say there are some."""
    if not report.totals.rejected:
        return []
    _, entries = read_report(store.root / REPORT)
    found = (store.nct_of(entry.source) for entry in entries if entry.status is Status.REJECTED)
    return sorted({nct for nct in found if nct is not None})


def export_and_publish(
    store: SourceStore, fhir_url: str | None, runner: tuple[str | None, int | None], options: dict[str, Any]
) -> tuple[ExportSection, PublishSection | None]:
    """The ordinary export of everything stored (and the publish, with ``fhir_url``), through
    ``export_trials`` as a subflow; what their run report says of it."""
    returned = _exporter(runner)(
        inputs=[str(store.directory)], output=str(store.root), fhir_url=fhir_url, **options
    )
    report = RunReport.from_json(returned)
    export = ExportSection(report=REPORT, totals=report.totals, rejected=_rejected(store, report))
    if report.publish is None:
        return export, None
    return export, PublishSection(report=REPORT, server=report.publish.server, totals=report.publish.totals)


def _summary_markdown(report: SyncReport) -> str:
    f, w = report.fetch, report.watermark
    lines = [
        "# trialexport sync",
        "",
        f"API `{report.api.url}`, data of {report.api.data_timestamp or 'unknown date'}; "
        f"query `{report.query or 'everything'}`; window: {report.window.mode}"
        + (f" from {report.window.start}" if report.window.start else ""),
        "",
        "| expected | fetched | new | changed | unchanged | pages | shortfall |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {f.expected if f.expected is not None else '?'} | {f.fetched} | {len(f.new)} | {len(f.changed)} "
        f"| {f.unchanged} | {f.pages} | {f.shortfall} |",
        "",
        f"Watermark: {w.current} ({'advanced' if w.advanced else 'held: ' + '; '.join(w.held_because)})",
    ]
    if report.renamed:
        lines += ["", "## Renamed", "", *(f"- {r.old} → {r.current}" for r in report.renamed)]
    if report.removed and report.removed.removed:
        lines += [
            "",
            "## No longer returned",
            "",
            *(f"- {r.nct_id}: {r.reason}" for r in report.removed.removed),
        ]
    return "\n".join(lines) + "\n"


def _now() -> datetime:
    return datetime.now(UTC)


def _fetch(
    run: FetchRun, search: dict[str, str], full: bool, check_removed: bool
) -> tuple[FetchSection, RemovalCheck | None]:
    """Page through the search into the store, then (when asked) compare the store with what the
    registry returns for the search."""
    fetch_all(run)
    pager = run.pager
    expected = pager.expected
    complete = pager.done and run.error is None
    shortfall = max(0, expected - len(run.seen)) if expected is not None and complete else 0
    removal = None
    if full or check_removed:
        if not complete or shortfall:
            why = "the fetch did not complete" if not complete else "the fetch fell short of the API's count"
            removal = RemovalCheck(checked=False, reason=why, stored=len(run.store.ids()))
        else:  # a full fetch has just listed everything; otherwise the check lists it cheaply
            removal = reconcile(run, search, set(run.seen) if full else None)
    fetch = FetchSection(
        params=dict(pager.params),
        pages=pager.pages,
        empty_pages=pager.empty_pages,
        expected=expected,
        fetched=len(run.seen),
        shortfall=shortfall,
        new=sorted(run.new),
        changed=sorted(run.changed),
        unchanged=run.unchanged,
        duplicates=run.duplicates,
        invalid=run.invalid,
        token_restarts=pager.restarts,
        complete=complete,
        error=run.error,
    )
    return fetch, removal


def _requests(client: RegistryClient, settings: SyncSettings) -> RequestsSection:
    stats = client.stats
    return RequestsSection(
        rate_limit=settings.rate_limit,
        requests=stats.requests,
        retried=stats.retried,
        waited_seconds=round(stats.waited, 3),
        faults=stats.faults,
    )


def _api_version(client: RegistryClient) -> ApiSection:
    api = ApiSection(url=client.base_url)
    try:
        found = client.version()
    except RegistryError as exc:  # the fetch says whether the API is really out of reach
        api.error = str(exc)
    else:
        api.api_version, api.data_timestamp = found.api_version, found.data_timestamp
    return api


@dataclass
class Fetched:
    """What the registry gave a sync, as the sync report records it."""

    api: ApiSection
    fetch: FetchSection
    removal: RemovalCheck | None
    requests: RequestsSection
    renamed: list[Renamed]


def fetch_window(
    settings: SyncSettings,
    store: SourceStore,
    search: dict[str, str],
    window: Window,
    check: tuple[bool, bool],
    logger: Logger,
) -> Fetched:
    """The window's studies from the registry into ``store``; ``check``: (full, check_removed)."""
    with RegistryClient.from_settings(settings) as client:
        api = _api_version(client)
        logger.info(
            "registry %s (API %s, data of %s): %s",
            client.base_url,
            api.api_version or "?",
            api.data_timestamp or "?",
            f"studies updated from {window.start} on" if window.start else "every study of the search",
        )
        params = {**search, **({"filter.advanced": updated_since(window.start)} if window.start else {})}
        pager = Pager(client, params, settings.page_size, settings.token_restarts)
        run = FetchRun(client, store, pager, settings)
        fetch, removal = _fetch(run, search, *check)
        fetched = Fetched(api, fetch, removal, _requests(client, settings), run.renamed)
    _log_fetch(logger, fetched)
    return fetched


def _log_fetch(logger: Logger, fetched: Fetched) -> None:
    fetch = fetched.fetch
    if fetch.error:
        logger.error("the fetch stopped: %s", fetch.error)
    if fetch.shortfall:
        logger.warning(
            "%d studies fewer than the API counted (%d of %d)", fetch.shortfall, fetch.fetched, fetch.expected
        )
    for renamed in fetched.renamed:
        logger.warning(
            "%s is now %s: stored under the new id; the old record moved to %s",
            renamed.old,
            renamed.current,
            renamed.moved_to,
        )


def _held_because(
    fetch: FetchSection, export: ExportSection | None, publish: PublishSection | None
) -> list[str]:
    """Why the watermark must stay: anything fetched but not (yet) exported and published."""
    held = []
    if not fetch.complete:
        held.append(f"the fetch did not complete ({fetch.error})")
    if fetch.shortfall:
        held.append(f"{fetch.shortfall} studies fewer fetched than the API counted")
    if export is None or export.error:
        held.append(f"the export did not finish ({export.error if export else 'interrupted'})")
    if publish is not None and publish.totals.failed:
        held.append(f"{publish.totals.failed} studies not confirmed on {publish.server}")
    return held


@dataclass
class Asked:
    """What a sync set out to do: when, which search, which window, from which state."""

    started: datetime
    search: dict[str, str]
    window: Window
    state: SyncState


def conclude(
    root: Path, asked: Asked, fetched: Fetched, export: ExportSection | None, publish: PublishSection | None
) -> SyncReport:
    """The sync report, written; the watermark moved only when nothing holds it, and the mark of
    a sync under way cleared either way."""
    held = _held_because(fetched.fetch, export, publish)
    api = fetched.api
    today = date.fromisoformat(api.data_timestamp[:10]) if api.data_timestamp else asked.started.date()
    state = asked.state
    report = SyncReport(
        sync=RunSection(
            started=asked.started.isoformat(timespec="seconds"),
            finished=_now().isoformat(timespec="seconds"),
            trialexport_version=version("trialexport"),
        ),
        api=api,
        query=asked.search,
        window=asked.window,
        fetch=fetched.fetch,
        requests=fetched.requests,
        renamed=fetched.renamed,
        removed=fetched.removal,
        export=export,
        publish=publish,
        watermark=WatermarkSection(
            previous=state.watermark,
            current=state.watermark if held else today,
            advanced=not held,
            held_because=held,
        ),
    )
    write_atomic(root / SYNC_REPORT, dump_json(report.model_dump(mode="json")), durable=True)
    moved = {"watermark": today, "data_timestamp": api.data_timestamp, "committed": _now()}
    save_state(root, state.model_copy(update={"started": None, **({} if held else moved)}))
    return report


def begin(
    root: Path, settings: SyncSettings, search: dict[str, str], since: date | None, full: bool
) -> Asked:
    """The window to ask for, from the last sync's state; marks this sync as under way."""
    started = _now()
    previous = load_state(root)
    window = choose_window(previous, settings.api_url, search, since, full)
    usable = previous if previous is not None and previous.same_search(settings.api_url, search) else None
    state = usable or SyncState(api_url=settings.api_url, query=search)
    save_state(root, state.model_copy(update={"started": started}))  # cleared when this sync ends
    return Asked(started, search, window, state)


def _log_end(logger: Logger, report: SyncReport) -> None:
    fetch, mark = report.fetch, report.watermark
    logger.info(
        "sync: %d of %s studies fetched (%d new, %d changed); watermark %s%s",
        fetch.fetched,
        fetch.expected if fetch.expected is not None else "?",
        len(fetch.new),
        len(fetch.changed),
        mark.current,
        "" if mark.advanced else f" (held: {'; '.join(mark.held_because)})",
    )


@flow(name="sync-trials")
def sync_trials(
    output: str = "output",
    api_url: str | None = None,
    query: str | None = None,
    condition: str | None = None,
    since: date | None = None,
    full: bool = False,
    check_removed: bool = False,
    page_size: int | None = None,
    rate_limit: float | None = None,
    templates: str | None = None,
    fhir_version: str = "R4",
    prs_org_name: str | None = None,
    batch_size: int | None = None,
    fhir_url: str | None = None,
    full_export: bool = False,
    workers: int | None = None,
    dask_address: str | None = None,
) -> dict:
    """Fetch from ClinicalTrials.gov what changed since the last sync into ``output``, export it
    there (and publish it to ``fhir_url``); returns ``sync-report.json``'s content.

    ``query`` / ``condition`` become ``query.term`` / ``query.cond``. The first sync of a search
    fetches everything it matches; later ones what was posted from the day before the watermark
    on; ``since`` asks from that date instead, ``full`` for everything again. ``full`` and
    ``check_removed`` report the stored studies the registry no longer returns. ``page_size``
    (at most 1,000), ``rate_limit`` (requests/s) and the API's retry settings also come from
    ``TRIALEXPORT_SYNC_*``; the export and publish options are ``export_trials``'s
    (``full_export`` is its ``full``).
    """
    if full and since is not None:
        raise UsageError("--full and --since exclude each other: --full fetches everything")
    logger = get_run_logger()
    overrides = {"api_url": api_url, "page_size": page_size, "rate_limit": rate_limit}
    settings = load(SyncSettings, **{k: v for k, v in overrides.items() if v is not None})
    root = Path(output)
    store = SourceStore(root)
    store.directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(store)
    asked = begin(root, settings, search_params(query, condition), since, full)
    for note in asked.window.notes:
        logger.warning("%s", note)
    fetched = fetch_window(settings, store, asked.search, asked.window, (full, check_removed), logger)
    options: dict[str, Any] = {"templates": templates, "fhir_version": fhir_version}
    options |= {"prs_org_name": prs_org_name, "batch_size": batch_size, "full": full_export}
    export = publish = None
    try:
        export, publish = export_and_publish(store, fhir_url, (dask_address, workers), options)
    except Exception as exc:  # recorded, and the watermark held; then the flow fails as it should
        export = ExportSection(report=REPORT, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        report = conclude(root, asked, fetched, export, publish)
    create_markdown_artifact(
        key="trialexport-sync", markdown=_summary_markdown(report), description="registry sync summary"
    )
    _log_end(logger, report)
    return report.model_dump(mode="json")
