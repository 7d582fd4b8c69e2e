"""The records that cross stages: a run-report entry, an export-ledger record, a publish outcome,
the run report itself.

They are the JSON of ``run-report.json`` and of the ledgers, typed: ``to_json()`` gives the
exact dict written (key order and the keys left out when empty are part of the file format, so
readers of the report see the same file as before), and ``model_validate`` reads one back. No
stage hands another a string-keyed dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from mappers.model import Issue


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Status(StrEnum):
    """What became of one entry of a run: a study read, or an input (or record) that was not."""

    EXPORTED = "exported"
    REJECTED = "rejected"  # unreadable, invalid outputs, or an identifier another input holds
    SUPERSEDED = "superseded"  # the same study from another input was kept (newer, or richer)


class Counts(_Record):
    arms: int
    outcomes: int
    sites: int


class ServerResource(_Record):
    """A resource as a FHIR server stored it: what the ledger and the report record."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    resourceType: str  # the FHIR names, as in the report
    id: str
    versionId: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"resourceType": self.resourceType, "id": self.id, "versionId": self.versionId}


class PublishStatus(StrEnum):
    PUBLISHED = "published"
    FAILED = "failed"
    NOT_SENT = "not-sent"  # the study was not exported, so there is nothing to send


class PublishOutcome(_Record):
    """What publishing did for one study on one server.

    ``transient``: it failed for a reason that may pass (connection, 429, 5xx): worth a task
    retry, and reported as ``retry: true``. ``attempts`` counts the requests made for it; 0
    means nothing was sent (the server was unreachable, or refused the run beforehand)."""

    status: PublishStatus
    sent: bool = False
    resources: list[ServerResource] = []
    split: bool = False
    note: str | None = None
    stored: list[ServerResource] = []  # a split study that failed part way: what the server has
    reason: str | None = None
    http_status: int | None = None
    outcome: dict[str, Any] | None = None  # the server's OperationOutcome
    attempts: int | None = None
    transient: bool = False

    @property
    def failed(self) -> bool:
        return self.status is PublishStatus.FAILED

    @property
    def not_sent(self) -> bool:
        return self.failed and self.attempts == 0

    def to_json(self, server: str) -> dict[str, Any]:
        """The entry's ``publish`` section: ``retry`` for a failure (whether a rerun may succeed)."""
        data: dict[str, Any] = {"server": server, "status": self.status.value}
        if self.status is PublishStatus.PUBLISHED:
            data["sent"] = self.sent
            data["resources"] = [r.to_json() for r in self.resources]
        if self.split:
            data["split"] = True
        optional = {"note": self.note, "reason": self.reason, "http_status": self.http_status}
        data |= {key: value for key, value in optional.items() if value is not None}
        if self.outcome is not None:
            data["outcome"] = self.outcome
        if self.stored:
            data["stored"] = [r.to_json() for r in self.stored]
        if self.attempts is not None:
            data["attempts"] = self.attempts
        if self.failed:
            data["retry"] = self.transient
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PublishOutcome:
        fields = {k: v for k, v in data.items() if k not in ("server", "retry")}
        return cls.model_validate({**fields, "transient": bool(data.get("retry", False))})


class ReportEntry(_Record):
    """One entry of ``run-report.json``: a study read, or an input (or one of its records) that
    could not be read. ``key`` is set for a study read, and names its folder under ``studies/``."""

    source: str
    record: int | None = None  # 1-based position of the study in an input holding several
    key: str | None = None
    identifier: str | None = None
    title: str | None = None
    counts: Counts | None = None
    layout: str | None = None
    content_hash: str | None = None
    last_update: str | None = None  # the record's last update posted, where its source says
    last_update_submitted: str | None = None  # and the date that update was submitted
    status: Status
    outputs: list[str] = []
    bundle: str | None = None  # the transaction bundle among ``outputs``
    issues: list[Issue] = []
    page: str | None = None  # its page of the HTML report
    publish: dict[str, Any] | None = None  # PublishOutcome.to_json(server), once published

    @property
    def is_study(self) -> bool:
        return self.key is not None

    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    def error_reasons(self) -> str:
        return "; ".join(i.message for i in self.errors())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source}
        if self.record is not None:
            data["record"] = self.record
        if self.is_study:
            data |= {"key": self.key, "identifier": self.identifier}
            if self.title:
                data["title"] = self.title
            if self.counts is not None:
                data["counts"] = self.counts.model_dump()
            data |= {"layout": self.layout, "content_hash": self.content_hash}
            if self.last_update:
                data["last_update"] = self.last_update
            if self.last_update_submitted:
                data["last_update_submitted"] = self.last_update_submitted
        data |= {"status": self.status.value, "outputs": self.outputs}
        if self.bundle:
            data["bundle"] = self.bundle
        data["issues"] = [i.model_dump(exclude_none=True) for i in self.issues]
        if self.page is not None:
            data["page"] = self.page
        if self.publish is not None:
            data["publish"] = self.publish
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportEntry:
        return cls.model_validate(data)


class LedgerRecord(_Record):
    """What one input gave when it was last exported (``export-ledger.sqlite``).

    ``entries`` are as the input alone gives them, *before* identifiers were settled across the
    run (whether a study is kept depends on every input, so it is decided again each run);
    ``lost`` numbers the entries whose folder on disk did not hold their own files when this was
    recorded (they did not keep their identifier, or wait to be exported again at the end of
    the run): such an entry is never reused as it stands."""

    sha256: str
    fingerprint: str
    entries: list[ReportEntry]
    outputs: list[str]
    lost: list[int] = []

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "fingerprint": self.fingerprint,
            "entries": [e.to_json() for e in self.entries],
            "outputs": self.outputs,
            "lost": self.lost,
        }


class RunInfo(_Record):
    started: str
    finished: str
    trialexport_version: str


class Totals(_Record):
    inputs: int = 0
    studies: int = 0
    exported: int = 0
    rejected: int = 0
    superseded: int = 0
    prs_incomplete: int = 0  # exported studies whose PRS XML lacks elements PRS requires
    skipped: int = 0
    removed: int = 0


class RemovedInput(_Record):
    """An input of the last run that is gone; its outputs are left on disk."""

    source: str
    outputs: list[str]


class PublishTotals(_Record):
    studies: int = 0
    published: int = 0
    sent: int = 0
    unchanged: int = 0
    failed: int = 0
    split: int = 0
    not_sent: int = 0


class PublishBlock(_Record):
    """The report's ``publish`` block: where, when, how, and the totals of the last publish."""

    server: str
    started: str
    finished: str
    settings: dict[str, Any]
    preflight: dict[str, Any] | None = None
    unreachable: str | None = None
    totals: PublishTotals


class RunReport(_Record):
    """``run-report.json`` without its ``studies``, which are streamed (``flows.run_report``):
    a registry-sized run's entries do not fit in memory."""

    run: RunInfo
    settings: dict[str, Any]
    totals: Totals
    bulk: list[str] = []
    # the FHIR package defining the bundles' extensions (relative path; None: no FHIR written)
    fhir_package: str | None = None
    removed: list[RemovedInput] = []
    warnings: list[str] = []
    publish: PublishBlock | None = None

    def to_json(self, studies: object = None) -> dict[str, Any]:
        """The report as written, ``studies`` in its slot (a placeholder while streaming)."""
        data: dict[str, Any] = {
            "run": self.run.model_dump(),
            "settings": self.settings,
            "totals": self.totals.model_dump(),
            "bulk": self.bulk,
            "fhir_package": self.fhir_package,
            "studies": studies,
            "removed": [r.model_dump() for r in self.removed],
        }
        if self.warnings:
            data["warnings"] = self.warnings
        if self.publish is not None:
            data["publish"] = self.publish.model_dump()
        return data

    def to_json_without_studies(self) -> dict[str, Any]:
        """What the flows return: the report as written, but its entries."""
        return {k: v for k, v in self.to_json().items() if k != "studies"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunReport:
        return cls.model_validate({k: v for k, v in data.items() if k != "studies"})


@dataclass(frozen=True)
class StagedLines:
    """One study's NDJSON lines of one resource type, where its batch staged them: a slice of
    the batch's one lines file (``flows.batch.Stage``), not a file of their own. A file created
    costs the file system far more than bytes appended to an open one, and lines are read
    once, by the flow, then dropped with the stage."""

    path: str
    offset: int
    length: int

    def read(self) -> bytes:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            return handle.read(self.length)


Lines = dict[str, StagedLines | bytes]  # resource type -> NDJSON lines, staged or (reused) read


@dataclass
class MappedStudy:
    """One entry of an input, with what is kept of it once mapped: its files and NDJSON lines
    (staged, or the lines themselves for an input reused from the ledger) and its page."""

    entry: ReportEntry
    files: dict[str, str] = field(default_factory=dict)  # output path -> staged file
    lines: Lines = field(default_factory=dict)  # resource type -> NDJSON lines
    page: str | None = None  # staged report page (None: reused, the page on disk stands)


@dataclass
class InputResult:
    """What one input gave, entry by entry, as the input alone gives it: which study keeps an
    identifier another input also has is settled across the run afterwards (``flows.settle``).

    ``sha256`` is None when the outcome must not be reused (the file could not be read, or a bug
    stopped it), so the ledger does not record it. ``skipped``: reused from the ledger, with the
    ledger's ``lost`` (entries whose files on disk were not their own)."""

    source: str
    sha256: str | None
    studies: list[MappedStudy]
    skipped: bool = False
    lost: list[int] = field(default_factory=list)

    @property
    def entries(self) -> list[ReportEntry]:
        return [s.entry for s in self.studies]
