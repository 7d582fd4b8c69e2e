"""Reading sources: bytes in, studies (or a clear rejection) out.

Layouts are recognised by content, tried in ``READERS`` order (most specific first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain, islice
from pathlib import PurePath

from pydantic import ValidationError

from mappers.model import Issue, Provenance, Study
from mappers.readers.base import Draft, Reader, RejectedInput, RejectedRecord
from mappers.readers.ctgov_csv import CtgovCsv
from mappers.readers.ctgov_json import CtgovJson
from mappers.readers.ctgov_json_v1 import CtgovJsonV1
from mappers.readers.ctgov_xml import CtgovXml
from mappers.readers.text_a import TextA
from mappers.readers.text_b import TextB
from mappers.text import UndecodableInput, decode, looks_binary, repair

READERS: tuple[Reader, ...] = (CtgovJsonV1(), CtgovJson(), CtgovXml(), CtgovCsv(), TextB(), TextA())

__all__ = ["READERS", "Draft", "Reader", "RejectedInput", "RejectedRecord", "iter_document", "read_document"]


def iter_document(data: bytes, source: str) -> Iterator[Study | RejectedRecord]:
    """Every study in one input, one at a time, with a RejectedRecord in place of each record
    that cannot be read. Raises RejectedInput (possibly after some studies) when the input as a
    whole cannot be read."""
    if not data.strip():
        raise RejectedInput("empty file")
    if looks_binary(data):
        raise RejectedInput("binary file, not a text document")
    try:
        text, issues = decode(data)
    except UndecodableInput as exc:
        raise RejectedInput(f"unreadable encoding: {exc}") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text, fixes = repair(text)
    if fixes:
        issues.append(
            Issue(
                severity="warning",
                code="text-repaired",
                message="text repaired with ftfy: " + ", ".join(fixes),
            )
        )
    reader = next((r for r in READERS if r.recognises(text)), None)
    if reader is None:
        raise RejectedInput(
            f"unknown layout: '{PurePath(source).name}' matches none of "
            + ", ".join(r.layout for r in READERS)
        )
    digest = hashlib.sha256(data).hexdigest()
    items = _guarded(reader, text, source)
    head = list(islice(items, 2))  # one look ahead: a single-record input has no record numbers
    multi = len(head) > 1
    for position, item in enumerate(chain(head, items), 1):
        record = position if multi else None
        if isinstance(item, RejectedRecord):
            yield replace(item, record=record)
            continue
        provenance = Provenance(source=source, record=record, layout=reader.layout, content_hash=digest)
        try:
            yield item.build(provenance, issues)
        except ValidationError as exc:
            where = f" (record {record})" if record else ""
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            yield RejectedRecord(
                f"{reader.layout} reader could not build a valid study{where}: {problems}", record
            )


def _guarded(reader: Reader, text: str, source: str) -> Iterator[Draft | RejectedRecord]:
    try:
        yield from reader.read(text, source)
    except RecursionError as exc:  # json.loads on thousands of nested brackets: hostile, not a bug
        raise RejectedInput(f"{reader.layout}: document nested too deeply to read") from exc


def read_document(data: bytes, source: str) -> list[Study]:
    """Every study in one input; raises RejectedInput when the input, or any record of it, cannot
    be read (``iter_document`` keeps the readable records of a partly bad input)."""
    studies = []
    for item in iter_document(data, source):
        if isinstance(item, RejectedRecord):
            raise RejectedInput(item.reason)
        studies.append(item)
    return studies
