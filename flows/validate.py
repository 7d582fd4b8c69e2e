"""``trialexport validate``: the export's own checks on files already written (or hand-edited).

The same validators the export runs before writing: a FHIR bundle gets structure, bundle rules,
required bindings and invariants; an XML file its XSD, chosen by its root element.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from lxml import etree

from mappers.model import Issue
from mappers.output_layout import bundle_version
from validation.fhir import validate_bundle
from validation.xsd import SchemaName, validate_xml

_XML_SCHEMAS: dict[str, SchemaName] = {
    "{http://clinicaltrials.gov/prs}study_collection": "prs",
    "clinical_study": "public",
}


def _xml_schema(data: bytes) -> SchemaName | None:
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return "prs"  # validate_xml reports it as not well-formed
    return _XML_SCHEMAS.get(root.tag)


def validate_file(path: Path, fhir_version: str) -> list[Issue]:
    """``fhir_version`` applies to bundles whose name does not say it (``fhir-r5-bundle.json`` does)."""
    data = path.read_bytes()
    fhir_version = bundle_version(path.name) or fhir_version
    if path.suffix == ".json":
        try:
            bundle = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            return [Issue(severity="error", code="json-malformed", message=f"not JSON: {exc}")]
        return validate_bundle(bundle, fhir_version)
    if path.suffix == ".xml":
        schema = _xml_schema(data)
        if schema is None:
            return [Issue(severity="error", code="xml-unknown", message="neither a PRS nor a public record")]
        return validate_xml(data, schema)
    return [Issue(severity="error", code="unknown-file", message="not a .json bundle or an .xml record")]


def files_to_check(paths: list[Path]) -> list[Path]:
    """The bundles and XML records named, or found under named directories (sorted)."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found |= set(path.rglob("*-bundle.json")) | set(path.rglob("*.xml"))
        else:
            found.add(path)
    return sorted(found)
