"""``sync-report.json``: what one sync asked, fetched, found renamed or removed, and whether the
watermark moved (and if not, why). Written whole at the end of every sync, beside the export's
``run-report.json``, whose entries it does not repeat (it names the file, and gives the export's
and the publish's totals)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from flows.records import PublishTotals, Totals


class Window(BaseModel):
    """Which studies a sync asked for: all of the query's (``first`` sync, ``full``), or those
    whose LastUpdatePostDate is on or after ``start`` (the watermark's day before, or ``since``)."""

    mode: Literal["first", "watermark", "since", "full"]
    start: date | None = None
    previous_watermark: date | None = None
    notes: list[str] = Field(default_factory=list)


class ApiSection(BaseModel):
    url: str
    api_version: str | None = None
    data_timestamp: str | None = None  # /version's dataTimestamp when the sync started (UTC)
    error: str | None = None  # /version could not be read


class FetchSection(BaseModel):
    params: dict[str, str]  # what every page was asked with, pageToken aside
    pages: int = 0
    empty_pages: int = 0
    expected: int | None = None  # the API's totalCount (first page, countTotal=true)
    fetched: int = 0  # distinct studies stored
    shortfall: int = 0  # expected - fetched, when positive
    new: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    unchanged: int = 0
    duplicates: int = 0  # studies given again (a page token refused: paging started over)
    invalid: list[str] = Field(default_factory=list)  # records without a usable NCT id
    token_restarts: int = 0
    complete: bool = False  # paged to the last page without an error
    error: str | None = None


class RequestsSection(BaseModel):
    rate_limit: float  # requests/s at most
    requests: int  # sent, retries included
    retried: int  # requests that needed more than one try
    waited_seconds: float  # backoff, Retry-After included
    faults: dict[str, int]  # what was retried, by kind


class Renamed(BaseModel):
    """A study whose NCT id changed: stored under ``current``; the record kept under ``old``
    moved to ``moved_to`` (out of the export's input). What was published under ``old`` stays
    on the FHIR server and in the outputs until the user removes it."""

    old: str
    current: str
    moved_to: str | None
    found_by: Literal["alias", "redirect"]  # nctIdAliases in a fetched record, or a 301 for the old id


class Removed(BaseModel):
    """A stored study the registry no longer returns for the query; reported, never deleted."""

    nct_id: str
    status: Literal["not-found", "not-matching", "unknown"]
    http_status: int | None = None
    source: str  # its record, still in sources/ctgov/ (so still exported)
    reason: str


class RemovalCheck(BaseModel):
    checked: bool
    reason: str | None = None  # why the check could not conclude
    listed: int | None = None  # studies the registry returned for the query
    stored: int = 0  # records in sources/ctgov/ before the check
    removed: list[Removed] = Field(default_factory=list)
    fetched_missing: list[str] = Field(default_factory=list)  # listed, not stored: fetched now


class ExportSection(BaseModel):
    """What the export made of the stored records, from its run report (``report``)."""

    report: str
    totals: Totals | None = None  # None: the export did not finish
    rejected: list[str] = Field(default_factory=list)  # stored records it rejected (reasons in the report)
    error: str | None = None


class PublishSection(BaseModel):
    """The publish's totals, from the ``publish`` block of the run report (``report``)."""

    report: str
    server: str
    totals: PublishTotals


class WatermarkSection(BaseModel):
    previous: date | None
    current: date | None
    advanced: bool
    held_because: list[str] = Field(default_factory=list)


class RunSection(BaseModel):
    started: str
    finished: str
    trialexport_version: str


class SyncReport(BaseModel):
    sync: RunSection
    api: ApiSection
    query: dict[str, str]
    window: Window
    fetch: FetchSection
    requests: RequestsSection
    renamed: list[Renamed]
    removed: RemovalCheck | None  # None: not asked (neither --full nor --check-removed)
    export: ExportSection | None  # None: the sync was interrupted before the export ended
    publish: PublishSection | None  # None: no FHIR URL, or the export did not finish
    watermark: WatermarkSection
