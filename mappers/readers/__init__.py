"""Reading sources: bytes in, studies (or a clear rejection) out.

Layouts are recognised by content, tried in ``READERS`` order (most specific first), and only on
positive evidence of the layout: a ClinicalTrials.gov JSON object or ``<clinical_study>``, a CSV
export's header, a registry page's design block or ``Time frame:`` lines, a CSV row's
intervention, outcome or conditions fields. Anything else is an "unknown layout", with what each
layout looked for and did not find.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain, islice
from pathlib import PurePath

from pydantic import ValidationError

from mappers.identity import identity, missing_identity
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
# The largest real input is a ClinicalTrials.gov API v2 list page (at most 1,000 studies). The
# export flow holds every study of one input until the input is written (~0.26 MB each for API
# v2 records, measured), so the bound caps that memory too (~260 MB).
MAX_STUDIES_PER_FILE = 1000
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")

__all__ = [
    "MAX_STUDIES_PER_FILE",
    "READERS",
    "Draft",
    "Reader",
    "RejectedInput",
    "RejectedRecord",
    "TooManyStudies",
    "iter_document",
    "read_document",
]


class TooManyStudies(RejectedInput):
    """An input holding more records than the caller allows; the ones before the limit stand."""

    def __init__(self, limit: int):
        super().__init__(
            f"more than {limit} studies in one file: the first {limit} were read, the rest were not"
        )
        self.limit = limit


def iter_document(
    data: bytes, source: str, *, max_studies: int | None = MAX_STUDIES_PER_FILE
) -> Iterator[Study | RejectedRecord]:
    """Every study in one input, one at a time, with a RejectedRecord in place of each record
    that cannot be read. Raises RejectedInput (possibly after some studies) when the input as a
    whole cannot be read.

    ``max_studies`` bounds the records of one input (``None``: no bound). Past it the input is
    rejected with ``TooManyStudies`` *after* the records before the limit, not up front: the
    readers stream (a CSV export row by row), so counting first would mean reading a hostile
    file twice, and it is the held studies that cost memory, which the bound caps either way.
    A rejected record counts: it cost as much to read as a study.
    """
    if not data or data.isspace():  # not data.strip(), without copying the data
        raise RejectedInput("empty file")
    if looks_binary(data):
        raise RejectedInput("binary file, not a text document")
    text, encoded, issues = _text(data)
    reader = next((r for r in READERS if r.recognises(text)), None)
    if reader is None:
        raise RejectedInput(
            f"unknown layout: '{PurePath(source).name}' matches none of "
            + ", ".join(r.layout for r in READERS)
            + ": "
            + "; ".join(filter(None, (r.missing(text) for r in READERS)))
        )
    digest = hashlib.sha256(data).hexdigest()
    items = _guarded(reader, text, encoded, source)
    head = list(islice(items, 2))  # one look ahead: a single-record input has no record numbers
    multi = len(head) > 1
    for position, item in enumerate(chain(head, items), 1):
        if max_studies is not None and position > max_studies:
            raise TooManyStudies(max_studies)
        record = position if multi else None
        if isinstance(item, RejectedRecord):
            yield replace(item, record=record)
            continue
        provenance = Provenance(source=source, record=record, layout=reader.layout, content_hash=digest)
        yield _build(item, provenance, issues)


def _text(data: bytes) -> tuple[str, bytes | None, list[Issue]]:
    """The input's text (decoded, line ends made LF, repaired), its UTF-8 bytes where the
    input's own bytes are exactly that (None otherwise: a reader parsing bytes is given them
    rather than encoding the text again), and what decoding and repair report."""
    try:
        text, issues = decode(data)
    except UndecodableInput as exc:
        raise RejectedInput(f"unreadable encoding: {exc}") from exc
    # the input's bytes are the text's own UTF-8 while nothing below changes the text: UTF-8
    # without a byte-order mark (whose decoding is data.decode("utf-8"): a UTF-16 mark is never
    # UTF-8), no line ends rewritten, no repair
    encoded: bytes | None = None if issues or data.startswith(_BOMS) else data
    if "\r" in text:  # a search, not two copies of a text that has none
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        encoded = None
    repaired, fixes = repair(text)
    if repaired is not text:  # repair's NFC step changes text without naming a fix
        text, encoded = repaired, None
    if fixes:
        issues.append(
            Issue(
                severity="warning",
                code="text-repaired",
                message="text repaired with ftfy: " + ", ".join(fixes),
            )
        )
    return text, encoded, issues


def _build(draft: Draft, provenance: Provenance, issues: list[Issue]) -> Study | RejectedRecord:
    """The strict study, or why there is none: the model refuses it, or it has no identifier to
    be known by (the one identity rule, ``mappers.identity``, enforced here)."""
    record = provenance.record
    try:
        study = draft.build(provenance, issues)
    except ValidationError as exc:
        where = f" (record {record})" if record else ""
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        return RejectedRecord(
            f"{provenance.layout} reader could not build a valid study{where}: {problems}", record
        )
    if identity(study.identifiers) is None:
        return RejectedRecord(missing_identity(study.identifiers), record)
    return study


def _guarded(
    reader: Reader, text: str, encoded: bytes | None, source: str
) -> Iterator[Draft | RejectedRecord]:
    try:
        yield from reader.read_encoded(text, encoded, source)
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
