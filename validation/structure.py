"""FHIR structure by the official FHIR JSON Schema, compiled once (jsonschema-rs).

The export checks every bundle before writing it, so structure must cost little: the package's
own JSON Schema (``validation/definitions/r4.schema.json`` from ``hl7.fhir.r4b.core@4.3.0``,
``r5.schema.json`` from ``hl7.fhir.r5.core@5.0.0``, made by ``make definitions``) checks element
names (no unknown ones), types, choice types and primitive patterns in Rust; the build completed
it with what the schema leaves out and the StructureDefinitions say: minimum cardinalities,
``Resource.id`` as an ``id``, calendar-valid dates, contained resources checked by their own
type. Required bindings and invariants are ``validation/profile.py``'s, the transaction rules
``validation/fhir.py``'s.

Resources are validated one at a time, so an error points at the resource it is in. Messages
are the schema's; ``validation/fhir.py`` asks fhir.resources for its own reading of a resource
the schema refused (and uses fhir.resources alone under ``deep_validation``).
"""

from __future__ import annotations

import datetime
import threading
from functools import cache
from pathlib import Path

import jsonschema_rs
import orjson

from mappers.model import Issue
from validation.issues import error_at

SCHEMAS = {
    "R4": Path(__file__).with_name("definitions") / "r4.schema.json",
    "R5": Path(__file__).with_name("definitions") / "r5.schema.json",
}
_MAX_SHOWN = 120  # characters of an offending value quoted in a message


def _calendar_date(value: str) -> bool:
    """``fhir-date`` (dates, dateTimes and instants): the day exists in its month. The schema's
    pattern has checked the shape and every other range already."""
    if len(value) < 10:
        return True  # a year or a year and month: the pattern settles it
    try:
        datetime.date(int(value[:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


_COMPILING = threading.Lock()


def _dispatch(branches: list[dict]) -> dict:
    """The ``ResourceList`` dispatch (one ``if resourceType is X then X`` per resource type, some
    150, all applied) as a binary tree of ``if resourceType is one of these then …``: a contained
    resource is matched to its type in sixteen questions, not 150 (a study's 2,400 contained
    resources took 17 ms to check, now 4.5). The same schema: without a ``resourceType`` every
    ``if`` holds, at every level, so every type's ``then`` applies, as before."""
    if len(branches) == 1:
        return branches[0]
    half = len(branches) // 2
    return {
        "allOf": [
            {
                "if": {"properties": {"resourceType": {"enum": [_type_of(b) for b in part]}}},
                "then": _dispatch(part),
            }
            for part in (branches[:half], branches[half:])
        ]
    }


def _type_of(branch: dict) -> str:
    return branch["if"]["properties"]["resourceType"]["const"]


@cache
def _compiled(version: str) -> tuple[jsonschema_rs.Draft7Validator, frozenset[str]]:
    schema = orjson.loads(SCHEMAS[version].read_bytes())
    # The schema describes each complex type (and a primitive's ``_x`` element) by its
    # properties without saying it is an object, so ``"_status": "x"`` or an extension written as
    # a string passed it, and the profile's walk met a string where FHIR JSON has an object.
    for definition in schema["definitions"].values():
        if "properties" in definition:
            definition.setdefault("type", "object")
    resources = schema["definitions"]["ResourceList"]
    resources["allOf"] = [_dispatch(resources["allOf"])]
    root = {**schema, "$ref": "#/definitions/ResourceList"}
    validator = jsonschema_rs.Draft7Validator(
        root, formats={"fhir-date": _calendar_date}, validate_formats=True
    )
    types = frozenset(schema["definitions"]["ResourceList"]["properties"]["resourceType"]["enum"])
    return validator, types


def validator(version: str) -> tuple[jsonschema_rs.Draft7Validator, frozenset[str]]:
    """The compiled schema and the resource types it knows; compiled once per process (under a
    lock: batches run in threads)."""
    with _COMPILING:
        return _compiled(version)


def resource_types(version: str) -> frozenset[str]:
    return validator(version)[1]


def _path(root: str, parts) -> str:
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _shown(value) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _issues(error: jsonschema_rs.ValidationError, root: str) -> list[Issue]:
    where = _path(root, error.instance_path)
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return [
            error_at(
                "fhir-invalid", f"{where}.{kind.property}", "required element missing (minimum cardinality 1)"
            )
        ]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        return [error_at("fhir-invalid", f"{where}.{name}", "unknown element") for name in kind.unexpected]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Format):
        message = f"{_shown(error.instance)} is not a valid calendar date"
    elif isinstance(kind, jsonschema_rs.ValidationErrorKind.Pattern):
        message = f"{_shown(error.instance)} does not match the pattern of its type ({kind.pattern})"
    elif isinstance(kind, jsonschema_rs.ValidationErrorKind.Type):
        message = f"{_shown(error.instance)} is not of type {kind.types}"
    else:
        message = error.message if len(error.message) <= 300 else error.message[:299] + "…"
    return [error_at("fhir-invalid", where, message)]


def valid(value: object, version: str) -> bool:
    """Whether a resource (a whole bundle: its entries' resources are the same ``ResourceList``
    of the same schema) passes the schema, in one call: no error to place."""
    return validator(version)[0].is_valid(value)


def resource_issues(resource: dict, version: str, root: str) -> list[Issue]:
    """Schema errors of one resource (its contained ones included), pointing at ``root``'s
    elements: ``ResearchStudy.arm[0].name``. ``[]`` is valid."""
    compiled, _ = validator(version)
    if compiled.is_valid(resource):
        return []
    return [issue for error in compiled.iter_errors(resource) for issue in _issues(error, root)]
