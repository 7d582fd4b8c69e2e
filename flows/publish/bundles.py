"""Pure helpers around one study's transaction: what is sent, and what the answer means."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter

import httpx

from flows.records import ServerResource
from mappers.finish import dump_json_line


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prepared(bundle_bytes: bytes) -> dict:
    """The bundle as sent: without ``resource.id`` on conditional PUT entries.

    The ids in an exported bundle are the deterministic local ids (NDJSON and fullUrls use
    them). On a conditional update the server owns the id: servers refuse a body id on
    update-as-create (Medplum: "Cannot provide ID for create by update") or when it differs from
    the matched resource's id. Without it the same bundle is accepted on the first upload and
    on every later one. References keep working through the ``urn:uuid`` fullUrls.
    """
    bundle = json.loads(bundle_bytes)
    for entry in bundle.get("entry", []):
        request = entry.get("request", {})
        if request.get("method") == "PUT" and "?" in request.get("url", ""):
            entry.get("resource", {}).pop("id", None)
    return bundle


def _location(location: str) -> tuple[str | None, str | None, str | None]:
    """``[base/]Type/id[/_history/vid]`` -> (Type, id, vid)."""
    parts = [p for p in location.split("?")[0].split("/") if p]
    if "_history" in parts:
        at = parts.index("_history")
        vid = parts[at + 1] if at + 1 < len(parts) else None
        parts = parts[:at]
    else:
        vid = None
    if len(parts) < 2:
        return None, None, vid
    return parts[-2], parts[-1], vid


def server_resources(response_bundle: dict) -> list[ServerResource]:
    """Type, server id and version of each resource a transaction-response reports."""
    found = []
    for entry in response_bundle.get("entry", []):
        resource = entry.get("resource") or {}
        rtype, rid, vid = _location((entry.get("response") or {}).get("location", ""))
        rtype = rtype or resource.get("resourceType")
        rid = rid or resource.get("id")
        vid = vid or (resource.get("meta") or {}).get("versionId")
        if rtype and rid:
            found.append(ServerResource(resourceType=rtype, id=rid, versionId=vid))
    return found


def outcome_of(response: httpx.Response) -> dict | None:
    """The server's OperationOutcome, if its answer is one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None


def outcome_text(outcome: dict | None, limit: int = 500) -> str:
    if not outcome:
        return ""
    texts = []
    for issue in outcome.get("issue", []):
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code", "")
        where = ", ".join(issue.get("expression", []))
        texts.append(f"{text} ({where})" if where and where not in text else text)
    joined = "; ".join(t for t in texts if t)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


class CannotSplit(ValueError):
    """The entries reference each other in a cycle: none can go first."""


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def split_order(bundle: dict) -> list[int]:
    """The entries' indexes, each after the entries its resource references by ``fullUrl``.

    Sent one by one, an entry's references to the others must already resolve on the server:
    they are rewritten to the server ids the earlier requests returned.
    """
    entries = bundle.get("entry", [])
    by_url = {entry["fullUrl"]: i for i, entry in enumerate(entries) if entry.get("fullUrl")}
    graph = {
        i: {by_url[text] for text in _strings(entry.get("resource")) if by_url.get(text, i) != i}
        for i, entry in enumerate(entries)
    }
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise CannotSplit(f"entries {sorted(exc.args[1][:-1])} reference each other") from None


def resolve_local(value, resolved: dict[str, str]):
    """``value`` with each string that is a resolved ``fullUrl`` replaced by its server reference."""
    if isinstance(value, str):
        return resolved.get(value, value)
    if isinstance(value, dict):
        return {key: resolve_local(item, resolved) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_local(item, resolved) for item in value]
    return value


def one_entry_transaction(entry: dict, resolved: dict[str, str]) -> bytes:
    """A transaction of one entry: the same conditional PUT, so a repeat still updates rather
    than duplicates, and the same transaction-response to read the server id from."""
    entry = {**entry, "resource": resolve_local(entry.get("resource"), resolved)}
    return dump_json_line({"resourceType": "Bundle", "type": "transaction", "entry": [entry]})


def too_large_reason(resource_type: str, size: int) -> str:
    return (
        f"the server refused the {resource_type} alone ({size} bytes) as too large (HTTP 413): "
        "one resource is the smallest request there is, so the server's request size limit must "
        "be raised"
    )
