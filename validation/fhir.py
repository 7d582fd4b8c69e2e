"""FHIR validation (R4 or R5) of an exported transaction Bundle.

Three layers, all run on every study, so all stay cheap:

* Structure: the official FHIR JSON Schema of the release (R4B 4.3.0's for R4 — its
  ResearchStudy, PlanDefinition, ActivityDefinition, Group, Organization, Practitioner and
  Location are R4's — and R5 5.0.0's), compiled with jsonschema-rs and completed with minimum
  cardinalities and calendar dates from the StructureDefinitions (``validation/structure.py``).
  Entry resources are validated one at a time, so an error is reported against
  ``ResearchStudy.…`` and an unknown ``resourceType`` becomes an issue. fhir.resources stays
  the model library: it re-reads a resource the schema refused, for the messages its users
  know, and reads every resource under ``deep`` (the default of a direct call, as
  ``trialexport validate`` makes; the export passes its ``deep_validation`` setting, off).
* Rules the schema does not check but a server applies to a transaction (or that FHIR states
  as invariants): ``urn:uuid`` full URLs, unique; every reference resolves inside the Bundle or
  to a contained resource; every contained resource is referenced (dom-3) and contains none
  itself (dom-2); ids fit ``[A-Za-z0-9\\-.]{1,64}``; no empty elements (ele-1) and extensions
  carry a value or sub-extensions, never both (ext-1); every request is a conditional PUT on an
  identifier the resource carries.
* Profile: required bindings and FHIRPath invariants from the official package
  (validation/profile.py), on a bundle that passed the first two.

The result is a list of ``Issue``s; an empty list means the Bundle may be posted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from urllib.parse import unquote

import fhir.resources
import fhir.resources.R4B
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4
from fhir.resources.R4B.resource import Resource as ResourceR4
from fhir.resources.resource import Resource as ResourceR5
from pydantic import BaseModel, ValidationError

from mappers.model import Issue
from validation.issues import Where, error_at, place
from validation.profile import check_resource
from validation.structure import resource_issues, resource_types

# fhir.resources' package per FHIR version: R4B's models are R4's for the resources written here.
_MODELS: dict[str, tuple[Callable[[str], type], type[BaseModel], type[BaseModel]]] = {
    "R4": (fhir.resources.R4B.get_fhir_model_class, BundleR4, ResourceR4),
    "R5": (fhir.resources.get_fhir_model_class, BundleR5, ResourceR5),
}

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# System and value percent-encoded: a raw "|", "&", "#", "+" or blank would change how a server
# splits the search, so none may appear unencoded.
_CONDITIONAL_URL = re.compile(
    r"(?P<type>[A-Za-z]+)\?identifier=(?P<system>[^|&#+\s]+)\|(?P<value>[^|&#+\s]+)"
)

_EMPTY: tuple[object, ...] = (None, "", [], {})


def _path(root: str, loc: tuple) -> str:
    return root + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _model_issues(model: type[BaseModel], data: object, root: str) -> list[Issue]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [error_at("fhir-invalid", _path(root, err["loc"]), err["msg"]) for err in exc.errors()]
    except Exception as exc:  # fhir_core raises KeyError/TypeError on some malformed input
        return [error_at("fhir-invalid", root, f"could not be validated ({type(exc).__name__}: {exc})")]
    return []


def _split(bundle: dict) -> tuple[dict, list[tuple[int, object]]]:
    """The bundle without its entries' resources, and those resources by entry index: each
    resource is validated on its own, so that its errors are reported against it
    (``ResearchStudy.…``) and an unknown ``resourceType`` becomes an issue, not a crash."""
    shell = dict(bundle)
    resources: list[tuple[int, object]] = []
    entries = bundle.get("entry")
    if isinstance(entries, list):
        shell_entries = []
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and "resource" in entry:
                shell_entries.append({k: v for k, v in entry.items() if k != "resource"})
                resources.append((index, entry["resource"]))
            else:
                shell_entries.append(entry)
        shell["entry"] = shell_entries
    return shell, resources


def _model_of(rtype: str, version: str) -> type[BaseModel] | None:
    get_fhir_model_class, _, Resource = _MODELS[version]
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError):
        return None
    return model if isinstance(model, type) and issubclass(model, Resource) else None


def _model_resource_issues(resource: dict, rtype: str, version: str, model: type[BaseModel]) -> list[Issue]:
    """fhir.resources' reading of one resource. Its models accept any content in a contained
    resource (``contained`` is typed as the abstract Resource), so each contained resource is
    validated with its own model as well."""
    issues = _model_issues(model, resource, rtype)
    contained = resource.get("contained")
    for index, inner in enumerate(contained if isinstance(contained, list) else []):
        where = f"{rtype}.contained[{index}]"
        inner_type = inner.get("resourceType") if isinstance(inner, dict) else None
        inner_model = _model_of(inner_type, version) if isinstance(inner_type, str) else None
        if inner_model is None:
            issues.append(error_at("fhir-invalid", where, f"unknown resourceType {inner_type!r}"))
        else:
            issues += _model_issues(inner_model, inner, where)
    return issues


def _merged(readable: list[Issue], found: list[Issue]) -> list[Issue]:
    """fhir.resources' issues (the messages FHIR users know), and the schema's at elements it
    did not report: it is laxer (it reads ``"yes"`` as a boolean, skips minimum cardinalities
    of some elements)."""
    seen = {issue.field for issue in readable}
    return readable + [issue for issue in found if issue.field not in seen]


def _structure_issues(bundle: dict, version: str, deep: bool = False) -> list[Issue]:
    """Structure of the bundle and of each entry resource.

    The official FHIR JSON Schema, compiled (``validation/structure.py``), checks everything;
    fhir.resources reads again each resource the schema refused, for its messages
    (``_merged``). ``deep`` (``trialexport validate``, ``deep_validation``): fhir.resources reads
    every resource, refused or not, so what only its models check is checked too.
    """
    _, Bundle, _ = _MODELS[version]
    shell, resources = _split(bundle)
    issues = resource_issues(shell, version, "Bundle")
    if issues or deep:
        issues = _merged(_model_issues(Bundle, shell, "Bundle"), issues)
    for index, resource in resources:
        where = f"Bundle.entry[{index}].resource"
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(resource, dict) or not isinstance(rtype, str):
            issues.append(error_at("fhir-invalid", where, "is not a resource (no resourceType)"))
            continue
        model = _model_of(rtype, version)
        if model is None or rtype not in resource_types(version):
            issues.append(error_at("fhir-invalid", where, f"unknown resourceType {rtype!r}"))
            continue
        found = resource_issues(resource, version, rtype)
        if found or deep:
            found = _merged(_model_resource_issues(resource, rtype, version, model), found)
        issues += found
    return issues


def _model_structure_issues(bundle: dict, version: str) -> list[Issue]:
    """fhir.resources alone (the tests compare it with the schema)."""
    _, Bundle, _ = _MODELS[version]
    shell, resources = _split(bundle)
    issues = _model_issues(Bundle, shell, "Bundle")
    for _index, resource in resources:
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        model = _model_of(rtype, version) if isinstance(rtype, str) else None
        if model is None or not isinstance(resource, dict) or not isinstance(rtype, str):
            issues.append(
                error_at("fhir-invalid", "Bundle.entry.resource", f"unknown resourceType {rtype!r}")
            )
        else:
            issues += _model_resource_issues(resource, rtype, version, model)
    return issues


def _empty(item: object) -> bool:
    """ele-1's empty: nothing, or a blank string, an empty list or object (``0`` and ``False``
    are values)."""
    if isinstance(item, str):
        return not item.strip()
    return item is None or (isinstance(item, dict | list) and not item)


class _ResourceWalk:
    """One pass over a resource (and its contained resources) collecting what the rules need.
    A node's place is kept as ``(parent, key, index)`` and written out only for an issue."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.references: list[tuple[Where, str]] = []  # (path, Reference.reference)
        self.local_canonicals: list[tuple[Where, str]] = []  # (path, "#id" canonical)

    def walk(self, value: object, path: Where) -> None:
        if isinstance(value, dict):
            self._object(value, path)
        elif isinstance(value, list):
            self._list(value, path)

    def _object(self, value: dict, path: Where) -> None:
        # Parsed JSON holds exact dicts, lists, strings, numbers, booleans and None: each is
        # told by its type once (``_empty`` and four ``isinstance`` per element were most of
        # this walk); anything else takes ``_other``, the same rules spelt generally.
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                if not item or item.isspace() or key == "reference" or key.endswith("Canonical"):
                    self._string(key, item, path)
            elif kind is dict:
                if item:
                    self._object(item, (path, key, None))
                else:
                    self._empty_element((path, key, None))
            elif kind is list:
                self._list_element(key, item, path)
            elif item is None:
                self._empty_element((path, key, None))
            elif kind is not int and kind is not float and kind is not bool:
                self._other(key, item, path)

    def _string(self, key: str, item: str, path: Where) -> None:
        if not item or item.isspace():  # ``not item.strip()``, without a copy
            self._empty_element((path, key, None))
        elif key == "reference":
            self.references.append(((path, key, None), item))
        elif key.endswith("Canonical"):
            self._canonicals(item, (path, key, None))

    def _list_element(self, key: str, item: list, path: Where) -> None:
        at = (path, key, None)
        if not item:
            self._empty_element(at)
            return
        if key.endswith("Canonical"):  # definitionCanonical, instantiatesCanonical[], …
            self._canonicals(item, at)
        elif key in ("extension", "modifierExtension"):
            self._extensions(item, at)
        self._list(item, at)

    def _other(self, key: str, item: object, path: Where) -> None:
        """An element of no JSON type (a caller's own object): ``_object``'s rules by
        ``isinstance``."""
        if _empty(item):
            self._empty_element((path, key, None))
            return
        if key == "reference" and isinstance(item, str):
            self.references.append(((path, key, None), item))
        elif key.endswith("Canonical"):
            self._canonicals(item, (path, key, None))
        elif key in ("extension", "modifierExtension") and isinstance(item, list):
            self._extensions(item, (path, key, None))
        if isinstance(item, dict):
            self._object(item, (path, key, None))
        elif isinstance(item, list):
            self._list(item, (path, key, None))

    def _empty_element(self, at: Where) -> None:
        self.issues.append(error_at("fhir-empty-element", at, "empty element (ele-1)"))

    def _list(self, value: list, path: Where) -> None:
        # a list's items are its key's, indexed: (the list's parent, key, index)
        keyed = isinstance(path, tuple) and path[2] is None
        for index, item in enumerate(value):
            kind = type(item)
            if kind is str and item and not item.isspace():
                continue  # a string value: nothing below it
            child = (path[0], path[1], index) if keyed else f"{place(path)}[{index}]"
            if _empty(item):
                self._empty_element(child)
            elif isinstance(item, dict):
                self._object(item, child)
            elif isinstance(item, list):
                self._list(item, child)

    def _canonicals(self, value: object, path: Where) -> None:
        """Only "#id" canonicals point into the resource; others name published artifacts."""
        if isinstance(value, str) and value.startswith("#"):
            self.local_canonicals.append((path, value))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str) and item.startswith("#"):
                    self.local_canonicals.append((f"{place(path)}[{index}]", item))

    def _extensions(self, extensions: list, path: Where) -> None:
        for index, ext in enumerate(extensions):
            if not isinstance(ext, dict):
                continue
            has_value = any(key.startswith("value") for key in ext)
            if has_value == ("extension" in ext):
                problem = "has both a value and sub-extensions" if has_value else "has no value"
                self.issues.append(
                    error_at("fhir-extension", f"{place(path)}[{index}]", f"extension {problem} (ext-1)")
                )


def _resource_rules(resource: dict, rtype: str, full_urls: set[str]) -> list[Issue]:
    walk = _ResourceWalk()
    if "id" in resource and not (isinstance(resource["id"], str) and _ID.fullmatch(resource["id"])):
        walk.issues.append(
            error_at("fhir-id", f"{rtype}.id", f"{resource['id']!r} is not a valid resource id")
        )
    contained = resource.get("contained")
    contained_ids, self_referencing = _contained_rules(
        contained if isinstance(contained, list) else [], rtype, walk
    )
    walk.walk({k: v for k, v in resource.items() if k != "contained"}, rtype)
    referenced = _reference_rules(walk, contained_ids, full_urls)
    for inner_id, path in contained_ids.items():
        if inner_id not in referenced and inner_id not in self_referencing:
            walk.issues.append(
                error_at(
                    "fhir-unreferenced-contained", path, f"contained {inner_id!r} is never referenced (dom-3)"
                )
            )
    return walk.issues


def _contained_rules(contained: list, rtype: str, walk: _ResourceWalk) -> tuple[dict[str, str], set[str]]:
    """Each contained resource's id and nesting checked, and the resource walked; returns the
    valid ids (id -> path) and those of resources that reference themselves ("#")."""
    contained_ids: dict[str, str] = {}
    self_referencing: set[str] = set()
    for index, inner in enumerate(contained):
        path = f"{rtype}.contained[{index}]"
        if not isinstance(inner, dict):
            continue
        inner_id = inner.get("id")
        if not (isinstance(inner_id, str) and _ID.fullmatch(inner_id)):
            walk.issues.append(
                error_at("fhir-id", f"{path}.id", f"contained resource needs a valid id, got {inner_id!r}")
            )
        elif inner_id in contained_ids:
            walk.issues.append(error_at("fhir-id", f"{path}.id", f"contained id {inner_id!r} is used twice"))
        else:
            contained_ids[inner_id] = path
        if "contained" in inner:
            walk.issues.append(
                error_at("fhir-contained", path, "a contained resource cannot contain resources (dom-2)")
            )
        before = len(walk.references)
        walk.walk(inner, path)
        if any(ref == "#" for _, ref in walk.references[before:]) and isinstance(inner_id, str):
            self_referencing.add(inner_id)
    return contained_ids, self_referencing


def _reference_rules(walk: _ResourceWalk, contained_ids: dict[str, str], full_urls: set[str]) -> set[str]:
    """Every reference and local canonical resolved; returns the contained ids they name."""
    referenced: set[str] = set()
    for where, ref in walk.references:
        if ref.startswith("#"):
            target = ref[1:]
            if target and target not in contained_ids:
                walk.issues.append(
                    error_at("fhir-unresolved-reference", where, f"{ref!r} names no contained resource")
                )
            referenced.add(target)
        elif ref not in full_urls:
            walk.issues.append(
                error_at("fhir-unresolved-reference", where, f"{ref!r} is not the fullUrl of an entry")
            )
    for where, canonical in walk.local_canonicals:
        target = canonical[1:]
        if target not in contained_ids:
            walk.issues.append(
                error_at("fhir-unresolved-reference", where, f"{canonical!r} names no contained resource")
            )
        referenced.add(target)
    return referenced


def _request_rules(entry: dict, resource: dict, rtype: str, where: str, seen: set[str]) -> list[Issue]:
    request = entry.get("request")
    if not isinstance(request, dict):
        return [error_at("fhir-request", f"{where}.request", "a transaction entry needs a request")]
    issues = []
    if request.get("method") != "PUT":
        issues.append(
            error_at("fhir-request", f"{where}.request.method", f"{request.get('method')!r} is not PUT")
        )
    url = request.get("url")
    match = _CONDITIONAL_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None or not isinstance(url, str):
        issues.append(
            error_at(
                "fhir-request",
                f"{where}.request.url",
                f"{url!r} is not a conditional PUT <Type>?identifier=<system>|<value> (both URL-encoded)",
            )
        )
        return issues
    if match["type"] != rtype:
        issues.append(
            error_at("fhir-request", f"{where}.request.url", f"targets {match['type']}, not {rtype}")
        )
    system, value = unquote(match["system"]), unquote(match["value"])
    identifiers = resource.get("identifier")
    identifiers = identifiers if isinstance(identifiers, list) else []
    if not any(
        isinstance(i, dict) and i.get("system") == system and i.get("value") == value for i in identifiers
    ):
        issues.append(
            error_at(
                "fhir-request", f"{where}.request.url", f"the resource has no identifier {system}|{value}"
            )
        )
    if url in seen:
        issues.append(error_at("fhir-request", f"{where}.request.url", "another entry has the same request"))
    seen.add(url)
    return issues


def _rule_issues(bundle: dict) -> list[Issue]:
    issues = []
    if bundle.get("type") != "transaction":
        issues.append(
            error_at("fhir-bundle-type", "Bundle.type", f"{bundle.get('type')!r} is not a transaction")
        )
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return issues
    full_urls: set[str] = set()
    for index, entry in enumerate(entries):
        full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
        where = f"Bundle.entry[{index}].fullUrl"
        if not (isinstance(full_url, str) and _UUID_URN.fullmatch(full_url)):
            issues.append(error_at("fhir-full-url", where, f"{full_url!r} is not a lower-case urn:uuid"))
        if isinstance(full_url, str):
            if full_url in full_urls:
                issues.append(error_at("fhir-full-url", where, f"{full_url!r} is used by another entry"))
            full_urls.add(full_url)
    seen_requests: set[str] = set()
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not (isinstance(resource, dict) and isinstance(resource.get("resourceType"), str)):
            continue  # reported by the structure check
        rtype = resource["resourceType"]
        issues.extend(_resource_rules(resource, rtype, full_urls))
        issues.extend(_request_rules(entry, resource, rtype, f"Bundle.entry[{index}]", seen_requests))
    return issues


def _untimed(stage: str) -> AbstractContextManager:
    return nullcontext()


def validate_bundle(
    bundle: dict,
    version: str = "R4",
    *,
    deep: bool = True,
    clock: Callable[[str], AbstractContextManager] | None = None,
) -> list[Issue]:
    """Every problem found: structure, then transaction rules, then (on a well-formed bundle)
    required bindings and FHIRPath invariants (validation/profile.py); ``[]`` means valid.

    ``deep``: fhir.resources reads every resource besides the schema (a few ms a study); the
    export passes ``deep=False`` unless its ``deep_validation`` setting is on. ``clock`` times
    each layer (the benchmark's probe, see mappers.export.StageClock)."""
    stage = clock or _untimed
    if not isinstance(bundle, dict):
        return [error_at("fhir-invalid", "Bundle", "is not a JSON object")]
    with stage("FHIR structure"):
        issues = _structure_issues(bundle, version, deep)
    with stage("FHIR bundle rules"):
        issues += _rule_issues(bundle)
    if issues:
        return issues
    with stage("FHIR bindings + invariants"):
        return check_resource(bundle, version)
