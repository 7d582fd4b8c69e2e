"""One study to one server: the whole bundle, or its entries one by one when it is too large.

A study's bundle is one transaction so that its ResearchStudy and PlanDefinition arrive together.
A server whose request size limit refuses it (HTTP 413) gets the entries as one-entry
transactions instead, referenced entries first, each reference to an earlier entry rewritten to
the server id that entry got: what ends up stored, and the ledger record of it, is the same as
with the whole bundle. Only a single resource the server still refuses fails the study.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flows.publish.bundles import (
    CannotSplit,
    one_entry_transaction,
    outcome_of,
    outcome_text,
    prepared,
    server_resources,
    sha256,
    split_order,
    too_large_reason,
)
from flows.publish.client import UNREACHABLE, Attempted, tries
from flows.records import PublishOutcome, PublishStatus, ServerResource
from mappers.finish import dump_json_line

if TYPE_CHECKING:
    from flows.publish.flow import Job, PublishRun

TOO_LARGE = 413


class SizeMemory:
    """The smallest request a server refused as too large in this run.

    Request size limits are in bytes, so a bundle at least that large goes split at once instead
    of being uploaded only to be refused again.
    """

    def __init__(self):
        self.refused: int | None = None
        self._lock = threading.Lock()

    def learn(self, size: int) -> None:
        with self._lock:
            self.refused = size if self.refused is None else min(self.refused, size)

    def too_large(self, size: int) -> bool:
        return self.refused is not None and size >= self.refused


FAILED = PublishStatus.FAILED
PUBLISHED = PublishStatus.PUBLISHED


def publish_one(job: Job, run: PublishRun) -> PublishOutcome:
    """Send one study's bundle unless the ledger says the server already has these bytes."""
    raw = (run.output / job.bundle).read_bytes()
    digest = sha256(raw)
    recorded = run.ledger.get(run.server, job.key)
    if not run.settings.force and recorded is not None and recorded.bundle_sha256 == digest:
        return PublishOutcome(status=PUBLISHED, sent=False, resources=recorded.resources)
    result = _send(prepared(raw), run)
    if result.status is PUBLISHED:
        run.ledger.record(run.server, job.key, digest, job.content_hash, result.resources)
    return result


def _send(bundle: dict, run: PublishRun) -> PublishOutcome:
    body = dump_json_line(bundle)
    splittable = len(bundle.get("entry", [])) > 1
    if splittable and run.sizes.too_large(len(body)):
        why = f"requests of {run.sizes.refused} bytes or more were refused as too large (HTTP 413) earlier"
        return _send_split(bundle, run, why, attempts=0)
    attempted = run.send(body)
    if attempted is None:
        return unreachable(run)
    if _status(attempted) == TOO_LARGE and splittable:
        run.sizes.learn(len(body))
        why = f"the server refused the whole bundle ({len(body)} bytes) as too large (HTTP 413)"
        return _send_split(bundle, run, why, attempts=attempted.attempts)
    if not attempted.ok:
        return failure(attempted, _single(bundle, body))
    return _confirmed(attempted)


def _send_split(bundle: dict, run: PublishRun, why: str, attempts: int) -> PublishOutcome:
    """The entries one by one, referenced ones first; the first failure ends the study."""
    entries = bundle["entry"]
    try:
        order = split_order(bundle)
    except CannotSplit as exc:
        reason = f"the bundle is too large for the server (HTTP 413) and cannot be sent in parts: {exc}"
        return PublishOutcome(status=FAILED, reason=reason, http_status=413, attempts=attempts)
    resolved: dict[str, str] = {}
    stored: dict[int, ServerResource] = {}
    for index in order:
        result = _send_entry(entries[index], resolved, run)
        attempts += result.attempts or 0
        if result.failed:
            return _partial(result, stored, attempts)
        [stored[index]] = result.resources
        if entries[index].get("fullUrl"):
            resolved[entries[index]["fullUrl"]] = f"{stored[index].resourceType}/{stored[index].id}"
    return PublishOutcome(
        status=PUBLISHED,
        sent=True,
        resources=[stored[i] for i in range(len(entries))],  # the order of the one-bundle answer
        attempts=attempts,
        split=True,
        note=f"sent as {len(entries)} requests, one resource each: {why}",
    )


def _send_entry(entry: dict, resolved: dict[str, str], run: PublishRun) -> PublishOutcome:
    body = one_entry_transaction(entry, resolved)
    attempted = run.send(body)
    if attempted is None:
        return unreachable(run)
    if not attempted.ok:
        return failure(attempted, (entry["resource"]["resourceType"], len(body)))
    return _confirmed(attempted, expected=1)


def _partial(result: PublishOutcome, stored: dict[int, ServerResource], attempts: int) -> PublishOutcome:
    """A split study that failed part way, with the resources the server has already: a rerun
    updates them through the same conditional PUTs rather than adding others."""
    return result.model_copy(
        update={"attempts": attempts, "split": True, "stored": [stored[i] for i in sorted(stored)]}
    )


def _status(attempted: Attempted) -> int | None:
    return attempted.response.status_code if attempted.response is not None else None


def _single(bundle: dict, body: bytes) -> tuple[str, int] | None:
    entries = bundle.get("entry", [])
    return (entries[0]["resource"]["resourceType"], len(body)) if len(entries) == 1 else None


def _confirmed(attempted: Attempted, expected: int | None = None) -> PublishOutcome:
    """Published only when the server named what it stored: that is what the ledger records."""
    assert attempted.response is not None
    resources = server_resources(attempted.response.json())
    if not resources or (expected is not None and len(resources) != expected):
        status = attempted.response.status_code
        reason = f"HTTP {status} without a transaction-response naming the stored resources"
        return PublishOutcome(status=FAILED, reason=reason, http_status=status, attempts=attempted.attempts)
    return PublishOutcome(status=PUBLISHED, sent=True, resources=resources, attempts=attempted.attempts)


def failure(attempted: Attempted, single: tuple[str, int] | None = None) -> PublishOutcome:
    """A request that did not succeed, as a study's result. ``single`` (resource type, body size)
    when it carried one resource: refused as too large, that is final."""
    response = attempted.response
    if response is None:
        reason = f"{UNREACHABLE}: no answer after {tries(attempted.attempts)}: {attempted.error}"
        return PublishOutcome(
            status=FAILED, transient=attempted.transient, reason=reason, attempts=attempted.attempts
        )
    outcome = outcome_of(response)
    if response.status_code == TOO_LARGE and single is not None:
        reason = too_large_reason(*single)
    else:
        detail = outcome_text(outcome) or response.text[:300]
        reason = f"HTTP {response.status_code}" + (f": {detail}" if detail else "")
        if attempted.transient:
            reason += f" (after {tries(attempted.attempts)})"
    return PublishOutcome(
        status=FAILED,
        transient=attempted.transient,
        reason=reason,
        http_status=response.status_code,
        outcome=outcome or None,
        attempts=attempted.attempts,
    )


def unreachable(run: PublishRun) -> PublishOutcome:
    """A study held back because the server stopped answering: nothing was sent for it."""
    return PublishOutcome(
        status=FAILED, transient=run.breaker.transient, reason=run.breaker.reason, attempts=0
    )
