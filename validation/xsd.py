"""XSD validation of the ClinicalTrials.gov XML outputs.

Schemas are compiled once per thread (compiling the PRS schema with its results import costs far
more than validating a study). Documents are parsed without network access, entity expansion or
DTD loading: an output is checked as the bytes it is, never completed from elsewhere.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

from lxml import etree

from mappers.model import Issue
from mappers.threads import PerThread

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "ctgov"
SCHEMA_FILES = {"prs": "ProtocolRecordSchema.xsd", "public": "public.xsd"}

SchemaName = Literal["prs", "public"]


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


# libxml2 failed now and then to parse the schema when two threads compiled at once: compiles
# are serialised (each thread compiles once, a few tens of milliseconds).
_COMPILING = threading.Lock()
# A compiled schema per thread: an XMLSchema keeps its error log on the object and its names in
# the dictionary of the thread that parsed it, so one shared between batch threads mixed their
# errors (and locking it serialised every validation).
_SCHEMAS: PerThread[dict[str, etree.XMLSchema]] = PerThread(dict)


def _compiled(name: SchemaName) -> etree.XMLSchema:
    schemas = _SCHEMAS()
    if name not in schemas:
        with _COMPILING:
            schemas[name] = _compile(name)
    return schemas[name]


def _compile(name: SchemaName) -> etree.XMLSchema:
    path = SCHEMA_DIR / SCHEMA_FILES[name]
    # Parsed from its path so that the PRS schema's relative import finds RRSUploadSchema.xsd.
    return etree.XMLSchema(etree.parse(str(path), _safe_parser()))


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
    if tree is not None and not tree.getroottree().docinfo.doctype and _compiled(schema).validate(tree):
        return []
    try:
        doc = etree.fromstring(data, _safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        return [_issue("xml-malformed", exc.lineno, f"not well-formed XML: {exc.msg}")]
    if doc.docinfo.doctype:
        return [_issue("xml-malformed", 1, "a DOCTYPE declaration is not allowed")]
    compiled = _compiled(schema)
    valid = compiled.validate(doc)
    errors = list(compiled.error_log)
    if valid:
        return []
    return [_issue("xsd-invalid", error.line, error.message) for error in errors]
