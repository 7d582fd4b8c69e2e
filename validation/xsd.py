"""XSD validation of the ClinicalTrials.gov XML outputs.

Schemas are compiled once per process (compiling the PRS schema with its results import costs far
more than validating a study). Documents are parsed without network access, entity expansion or
DTD loading: an output is checked as the bytes it is, never completed from elsewhere.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Literal

from lxml import etree

from mappers.model import Issue

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "ctgov"
SCHEMA_FILES = {"prs": "ProtocolRecordSchema.xsd", "public": "public.xsd"}

SchemaName = Literal["prs", "public"]


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


_COMPILING = threading.Lock()


def _compiled(name: SchemaName) -> tuple[etree.XMLSchema, threading.Lock]:
    # Batches run in threads: two first calls compiling at once made libxml2 fail to parse the
    # schema now and then, so compilation is serialised (and happens once).
    with _COMPILING:
        return _compile(name)


@cache
def _compile(name: SchemaName) -> tuple[etree.XMLSchema, threading.Lock]:
    """The schema and a lock: an XMLSchema keeps its error log on the object, so one validation
    at a time per schema keeps each caller's errors its own."""
    path = SCHEMA_DIR / SCHEMA_FILES[name]
    # Parsed from its path so that the PRS schema's relative import finds RRSUploadSchema.xsd.
    schema = etree.XMLSchema(etree.parse(str(path), _safe_parser()))
    return schema, threading.Lock()


def _issue(code: str, line: int | None, message: str) -> Issue:
    location = f"line {line}" if line else None
    text = f"{location}: {message}" if location else message
    return Issue(severity="error", code=code, message=text, location=location)


def validate_xml(data: bytes, schema: SchemaName, tree: etree._Element | None = None) -> list[Issue]:
    """One ``xsd-invalid`` issue per schema error; an empty list means the document is valid.

    A document that is not well-formed, or that carries a DOCTYPE (neither format has one, and
    it is where entity tricks live), gets a single ``xml-malformed`` issue instead.

    ``tree`` is the tree ``data`` was written from (``mappers.finish.finish_xml_tree``), when the
    caller has it: it is validated as it is, and only an invalid document is parsed from its
    bytes, so that each error names its line in the file written. (The bytes differ from the
    tree by indentation between elements only, which no schema of element content sees.)
    """
    if schema not in SCHEMA_FILES:
        raise ValueError(f"unknown schema {schema!r}; expected one of {sorted(SCHEMA_FILES)}")
    if tree is not None:
        compiled, lock = _compiled(schema)
        with lock:
            if compiled.validate(tree):
                return []
    try:
        doc = etree.fromstring(data, _safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        return [_issue("xml-malformed", exc.lineno, f"not well-formed XML: {exc.msg}")]
    if doc.docinfo.doctype:
        return [_issue("xml-malformed", 1, "a DOCTYPE declaration is not allowed")]
    compiled, lock = _compiled(schema)
    with lock:
        valid = compiled.validate(doc)
        errors = list(compiled.error_log)
    if valid:
        return []
    return [_issue("xsd-invalid", error.line, error.message) for error in errors]
