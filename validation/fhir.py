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
  (validation/profile.py), reported for a bundle that passed the first two.

On a bundle whose structure is valid (every exported one), the rules are read during the
profile's walk (``_CheckedWalk``): a study of a thousand sites is ~14,000 JSON objects, and two
walks over them cost twice the one. A bundle the structure check refused may be any JSON: the
rules read it alone, generically (``_ResourceWalk.read``), and the profile is not run.

The result is a list of ``Issue``s; an empty list means the Bundle may be posted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import NamedTuple
from urllib.parse import unquote

import fhir.resources
import fhir.resources.R4B
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4
from fhir.resources.R4B.resource import Resource as ResourceR4
from fhir.resources.resource import Resource as ResourceR5
from pydantic import BaseModel, ValidationError

from mappers.model import Issue
from validation.issues import Where, error_at, place, rerooted
from validation.profile import Binding, ProfileWalk, element_names, native_checks, plan
from validation.structure import resource_issues, resource_types, valid

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

_EXTENSIONS = ("extension", "modifierExtension")


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
    if not deep and _valid_whole(bundle, version):
        return []
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


def _valid_whole(bundle: dict, version: str) -> bool:
    """Whether ``_structure_issues`` (not ``deep``) finds nothing, told by one schema check of the
    whole bundle instead of one of its shell and one of each entry resource (every exported
    bundle; the parts were a tenth dearer). A bundle that passes whole has a shell that passes
    (no element of the schema's Bundle or its entries requires an entry's ``resource``, which
    the shell drops) and entry resources that pass (``Bundle.entry.resource`` is the
    ``ResourceList`` each is checked against alone): objects, of a type the schema knows. Only
    fhir.resources' knowing that type is left to ask; any other bundle is read in parts."""
    if not valid(bundle, version):
        return False
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and "resource" in entry:
            resource = entry["resource"]
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
            if not isinstance(rtype, str) or _model_of(rtype, version) is None:
                return False
    return True


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
    """What the bundle rules find in one entry resource (and its contained resources), and what
    they need to close it: its references, its local canonicals, its contained ids. A node's
    place is kept as ``(parent, key, index)`` and written out only for an issue.

    ``read`` reads a resource whole and generically: any JSON, as on a bundle the structure
    check refused. On a bundle it passed, ``_CheckedWalk`` reads each element through
    ``string`` and ``element`` while the profile walks it, and the findings are the same, in
    the same order: a resource's id, then its contained resources, then the rest."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.references: list[tuple[Where, str]] = []  # (path, Reference.reference)
        self.local_canonicals: list[tuple[Where, str]] = []  # (path, "#id" canonical)
        self.contained_ids: dict[str, Where] = {}  # valid contained id -> its place
        self.self_referencing: set[str] = set()  # contained ids of resources that reference "#"

    def read(self, resource: dict, rtype: str) -> None:
        """The whole resource: its id, its contained resources, then the rest of it."""
        self.id_rule(resource, rtype)
        contained = resource.get("contained")
        self.contained(contained if isinstance(contained, list) else [], rtype, self.walk)
        self.walk({k: v for k, v in resource.items() if k != "contained"}, rtype)

    def id_rule(self, resource: dict, rtype: str) -> None:
        if "id" in resource and not (isinstance(resource["id"], str) and _ID.fullmatch(resource["id"])):
            self.issues.append(
                error_at("fhir-id", f"{rtype}.id", f"{resource['id']!r} is not a valid resource id")
            )

    def contained(self, contained: list, rtype: str, read: Callable[[dict, Where], None]) -> None:
        """Each contained resource's id and nesting checked, and the resource read by ``read``;
        keeps the valid ids and those of resources that reference themselves ("#")."""
        references = self.references
        for index, inner in enumerate(contained):
            if not isinstance(inner, dict):
                continue
            path = (rtype, "contained", index)  # written out only for an issue
            inner_id = inner.get("id")
            if not (isinstance(inner_id, str) and _ID.fullmatch(inner_id)):
                self.issues.append(
                    error_at(
                        "fhir-id",
                        (path, "id", None),
                        f"contained resource needs a valid id, got {inner_id!r}",
                    )
                )
            elif inner_id in self.contained_ids:
                self.issues.append(
                    error_at("fhir-id", (path, "id", None), f"contained id {inner_id!r} is used twice")
                )
            else:
                self.contained_ids[inner_id] = path
            if "contained" in inner:
                self.issues.append(
                    error_at("fhir-contained", path, "a contained resource cannot contain resources (dom-2)")
                )
            before = len(references)
            read(inner, path)
            # most contained resources (a study's sites) reference nothing: no slice to search;
            # a site's study references its container ("#"), searched without a generator
            if len(references) > before and isinstance(inner_id, str):
                for _, ref in references[before:]:
                    if ref == "#":
                        self.self_referencing.add(inner_id)
                        break

    def closed(self, full_urls: set[str]) -> list[Issue]:
        """Every issue of the resource, once it is read: references resolved, and every
        contained resource referenced (dom-3)."""
        referenced = self._reference_rules(full_urls)
        for inner_id, path in self.contained_ids.items():
            if inner_id not in referenced and inner_id not in self.self_referencing:
                self.issues.append(
                    error_at(
                        "fhir-unreferenced-contained",
                        path,
                        f"contained {inner_id!r} is never referenced (dom-3)",
                    )
                )
        return self.issues

    def _reference_rules(self, full_urls: set[str]) -> set[str]:
        """Every reference and local canonical resolved; returns the contained ids they name."""
        referenced: set[str] = set()
        for where, ref in self.references:
            if ref.startswith("#"):
                target = ref[1:]
                if target and target not in self.contained_ids:
                    self.issues.append(
                        error_at("fhir-unresolved-reference", where, f"{ref!r} names no contained resource")
                    )
                referenced.add(target)
            elif ref not in full_urls:
                self.issues.append(
                    error_at("fhir-unresolved-reference", where, f"{ref!r} is not the fullUrl of an entry")
                )
        for where, canonical in self.local_canonicals:
            target = canonical[1:]
            if target not in self.contained_ids:
                self.issues.append(
                    error_at("fhir-unresolved-reference", where, f"{canonical!r} names no contained resource")
                )
            referenced.add(target)
        return referenced

    def walk(self, value: object, path: Where) -> None:
        if isinstance(value, dict):
            self._object(value, path)
        elif isinstance(value, list):
            self._list(value, path)

    def _object(self, value: dict, path: Where) -> None:
        for key, item in value.items():
            # A plain string (most elements) needs nothing unless blank or a reference: the test
            # is made here, without a call.
            if type(item) is str:
                if not item or item.isspace() or key == "reference" or key.endswith("Canonical"):
                    self.string(key, item, path)
            else:
                self.element(key, item, path)

    def element(self, key: str, item: object, path: Where) -> None:
        """One element of an object at ``path``, and everything below it.

        Parsed JSON holds exact dicts, lists, strings, numbers, booleans and None: each is told
        by its type once (``_empty`` and four ``isinstance`` per element were most of this
        walk); anything else takes ``_other``, the same rules spelt generally."""
        kind = type(item)
        if kind is str:
            self.string(key, item, path)  # type: ignore[arg-type]  # told by its exact type
        elif kind is dict:
            if item:
                self._object(item, (path, key, None))  # type: ignore[arg-type]
            else:
                self.empty_element((path, key, None))
        elif kind is list:
            self._list_element(key, item, path)  # type: ignore[arg-type]
        elif item is None:
            self.empty_element((path, key, None))
        elif kind is not int and kind is not float and kind is not bool:
            self._other(key, item, path)

    def string(self, key: str, item: str, path: Where) -> None:
        if not item or item.isspace():  # ``not item.strip()``, without a copy
            self.empty_element((path, key, None))
        elif key == "reference":
            self.references.append(((path, key, None), item))
        elif key.endswith("Canonical"):
            self._canonicals(item, (path, key, None))

    def _list_element(self, key: str, item: list, path: Where) -> None:
        at = (path, key, None)
        if not item:
            self.empty_element(at)
            return
        self.list_rules(key, item, at)
        self._list(item, at)

    def list_rules(self, key: str, item: list, at: Where) -> None:
        """What the rules ask of a (non-empty) list as a whole, before its items."""
        if key.endswith("Canonical"):  # definitionCanonical, instantiatesCanonical[], …
            self._canonicals(item, at)
        elif key in _EXTENSIONS:
            self._extensions(item, at)

    def _other(self, key: str, item: object, path: Where) -> None:
        """An element of no JSON type (a caller's own object): ``element``'s rules by
        ``isinstance``."""
        if _empty(item):
            self.empty_element((path, key, None))
            return
        if key == "reference" and isinstance(item, str):
            self.references.append(((path, key, None), item))
        elif key.endswith("Canonical"):
            self._canonicals(item, (path, key, None))
        elif key in _EXTENSIONS and isinstance(item, list):
            self._extensions(item, (path, key, None))
        if isinstance(item, dict):
            self._object(item, (path, key, None))
        elif isinstance(item, list):
            self._list(item, (path, key, None))

    def empty_element(self, at: Where) -> None:
        self.issues.append(error_at("fhir-empty-element", at, "empty element (ele-1)"))

    def _list(self, value: list, path: Where) -> None:
        # a list's items are its key's, indexed: (the list's parent, key, index)
        keyed = isinstance(path, tuple) and path[2] is None
        for index, item in enumerate(value):
            if type(item) is str and item and not item.isspace():
                continue  # a string value: nothing below it
            self.item(item, (path[0], path[1], index) if keyed else f"{place(path)}[{index}]")

    def item(self, item: object, at: Where) -> None:
        """One item of a list, at ``at``, and everything below it."""
        if _empty(item):
            self.empty_element(at)
        elif isinstance(item, dict):
            self._object(item, at)
        elif isinstance(item, list):
            self._list(item, at)

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
            has_value = False
            for key in ext:  # ``any`` over a generator, without the generator (a study has hundreds)
                if key.startswith("value"):
                    has_value = True
                    break
            if has_value == ("extension" in ext):
                problem = "has both a value and sub-extensions" if has_value else "has no value"
                self.issues.append(
                    error_at("fhir-extension", f"{place(path)}[{index}]", f"extension {problem} (ext-1)")
                )

    def marks(self) -> tuple[int, int, int]:
        """How many issues, references and local canonicals are found so far."""
        return len(self.issues), len(self.references), len(self.local_canonicals)

    def put_first(self, marks: tuple[int, int, int], head: int) -> None:
        """What was found since ``marks`` moved before what was found earlier (after the first
        ``head`` issues): a contained resource read in the middle of its container, reported
        as ``read`` reports it, before the container's other elements."""
        issues, references, canonicals = marks
        self.issues[head:] = self.issues[issues:] + self.issues[head:issues]
        self.references[:] = self.references[references:] + self.references[:references]
        self.local_canonicals[:] = self.local_canonicals[canonicals:] + self.local_canonicals[:canonicals]


# What ``_CheckedWalk`` does with an element of a type: the profile's step (the type it descends
# into, the required binding) and whether the rules look at it past its emptiness (a reference,
# a canonical, a list of extensions).
_Action = tuple[str | None, Binding | None, bool]


class _TypeActions(NamedTuple):
    """What the walk does with a node of one type: built once a type and release."""

    checks: list  # the type's invariants
    beyond_contained: bool  # whether one of them reads more than the node's contained resources
    # the native checks that are all of them on a node without contained resources, or None
    # (``validation.profile.native_checks``)
    natives: tuple | None
    actions: dict[str, _Action]  # each element's
    # neither a type to walk, nor a binding, nor a rule past emptiness: most of a study's
    # elements (``system``, ``code``, ``display``, a site's ``city``), settled in ``_typed`` by
    # one set look-up
    quiet: frozenset[str]
    walked: dict[str, str]  # a type to walk and nothing else (``coding``, ``address``): its type
    # a required binding and nothing else (``status``, ``use``): the codes that pass it (none
    # blank: a code found there needs no rule)
    coded: dict[str, frozenset[str]]


@cache
def _actions(version: str, type_name: str) -> _TypeActions:
    """``validation.profile.plan`` with an action for every element of the type (and the
    resource type), so a key without one is no element of it. Every type the walk reads has a
    definition: it starts at one, and ``plan`` descends only into those. The flag is false
    when every check only says what contained resources may not have (dom-4, dom-5 on every
    Location of a study's sites): on a node without ``contained``, ``ProfileWalk.invariants``
    would skip them all, so it is not called."""
    planned = plan(version, type_name, structured=True)
    if planned is None:
        raise KeyError(f"no {version} definition of {type_name}")
    checks, steps = planned
    actions: dict[str, _Action] = {"resourceType": (None, None, False)}
    for element in element_names(version, type_name):
        into, bound = steps.get(element, (None, None))
        notable = element == "reference" or element.endswith("Canonical") or element in _EXTENSIONS
        actions[element] = (into, bound, notable)
    quiet = frozenset(element for element, action in actions.items() if action == (None, None, False))
    walked = {
        element: into
        for element, (into, bound, notable) in actions.items()
        if into is not None and into != "Resource" and bound is None and not notable
    }
    beyond_contained = any(not about_contained for _, _, about_contained in checks)
    coded = {
        element: frozenset(code for code in bound[1] if code and not code.isspace())
        for element, (into, bound, notable) in actions.items()
        if into is None and bound is not None and not notable
    }
    natives = native_checks(checks, type_name)
    return _TypeActions(checks, beyond_contained, natives, actions, quiet, walked, coded)


class _Actions(dict[str, _TypeActions]):
    """``_actions`` by type, looked up without a call once a type has been seen."""

    def __init__(self, version: str) -> None:
        super().__init__()
        self.version = version

    def __missing__(self, type_name: str) -> _TypeActions:
        found = self[type_name] = _actions(self.version, type_name)
        return found


# One table a release for the process, not one a walk: a bundle's walk finds its types there
# (two threads that add the same type add the same actions).
_ACTIONS = {"R4": _Actions("R4"), "R5": _Actions("R5")}


class _CheckedWalk(ProfileWalk):
    """The profile's walk of a bundle the structure check passed, reading the bundle rules of
    each entry resource on the same pass: each of a large study's ~14,000 objects (1,200 sites)
    is visited once, not once for the rules and again for the profile.

    Invariants, on any bundle it reads to the end:
    * ``rules_by_entry`` holds, for each entry resource of a type the profile knows, what
      ``_ResourceWalk.read`` finds in it, in its order; ``_rule_issues`` reads the others;
    * ``issues`` are ``check_resource``'s for the bundle, places included (an entry resource's
      are found at places that start with its type, as the rules place them, and placed from
      the Bundle once it is read: ``validation.issues.rerooted``).
    Elements are told by their exact JSON type, as exported bundles hold them; anything else
    (an object of no JSON type, an empty item in a list of objects, a resource inside a
    contained one, a primitive's extensions) is read by each side on its own, as it would be
    alone (``_apart``).
    """

    structured = True  # it walks only a bundle the structure check passed

    def __init__(self, version: str, bundle: dict) -> None:
        super().__init__(version)
        self.bundle = bundle
        self.rules_by_entry: dict[int, _ResourceWalk] = {}
        self.rules = _ResourceWalk()  # the findings of the entry resource being read
        self._head = 0  # the number of its issues that come before its contained resources'
        self._container: dict = bundle  # the entry resource whose contained resources are read
        self._actions = _ACTIONS[version]

    def inner_resource(self, item: dict, key: str, at: Where, resource: dict) -> None:
        if resource is self.bundle and key == "resource":
            self._entry(item, at)
        else:
            super().inner_resource(item, key, at, resource)

    def _entry(self, resource: dict, at: Where) -> None:
        rtype = resource.get("resourceType")
        if not (isinstance(rtype, str) and rtype in self.types):
            return  # no profile of its type: the rules read it alone
        # ProfileWalk.descend places an entry's resource at (("Bundle", "entry", index), "resource", None)
        assert isinstance(at, tuple) and isinstance(at[0], tuple)
        self.rules = self.rules_by_entry[at[0][2]] = rules = _ResourceWalk()
        rules.id_rule(resource, rtype)
        self._head = len(rules.issues)
        before = len(self.issues)
        self._typed(resource, rtype, rtype, resource, resource)
        self.issues[before:] = [rerooted(issue, rtype, at) for issue in self.issues[before:]]

    def _typed(self, node: dict, type_name: str, where: Where, resource: dict, root: dict) -> None:
        """``ProfileWalk.node`` and the rules' reading of the node (``_ResourceWalk._object``),
        in one loop over its elements. A quiet element (``_TypeActions``) is settled by its
        emptiness; a non-empty object or list of a walked element is walked from here (what
        ``_into`` does with it, without the call: most of a study's nodes are reached so); a
        code of a coded element's value set needs nothing more; every other element is read by
        ``_element``."""
        checks, beyond_contained, natives, actions, quiet, walked, coded = self._actions[type_name]
        if checks and (beyond_contained or "contained" in node):  # the Bundle's shell keeps its keys
            self._invariants(checks, natives, node, type_name, where, resource, root)
        rules = self.rules
        for key, item in node.items():
            kind = type(item)
            if key in quiet:  # a number or a flag, or a string that is not blank: nothing to read
                if not (kind is str and item and not item.isspace()) and not (
                    kind is int or kind is float or kind is bool
                ):
                    rules.element(key, item, where)
                continue
            into = walked.get(key)
            if into is not None and item and (kind is dict or kind is list):
                if kind is dict:
                    self._typed(item, into, (where, key, None), resource, root)
                    continue
                for index, inner in enumerate(item):
                    if type(inner) is dict and inner:
                        self._typed(inner, into, (where, key, index), resource, root)
                    else:
                        self._item_apart(inner, into, (where, key, index), resource, root)
            elif kind is not str or item not in coded.get(key, ()):  # not a code of its binding
                self._element(key, item, actions.get(key), where, resource, root, node is root)

    def _invariants(
        self,
        checks: list,
        natives: tuple | None,
        node: dict,
        type_name: str,
        where: Where,
        resource: dict,
        root: dict,
    ) -> None:
        """``ProfileWalk.invariants`` of a node, called only for a node one of its native checks
        (cpt-2, R5's ref-2, per-1: ``natives``) does not pass or cannot read, when they are all
        its checks."""
        if natives is None or "contained" in node:
            self.invariants(checks, node, type_name, where, resource, root)
            return
        for native in natives:
            if native(node) is not True:
                self.invariants(checks, node, type_name, where, resource, root)
                return

    def _element(
        self,
        key: str,
        item: object,
        action: _Action | None,
        where: Where,
        resource: dict,
        root: dict,
        top: bool,
    ) -> None:
        """An element that is neither quiet nor a walked object or list: a reference, a
        canonical, a bound code, extensions, resources, an empty or odd value, or no element of
        the type (``_unplanned``)."""
        if action is None:
            self._unplanned(key, item, where, resource, root)
            return
        into, bound, notable = action
        kind = type(item)
        if kind is str:
            if key == "reference" and item and not item.isspace():  # type: ignore[attr-defined]
                # ``string``'s finding, without the call (a study of 1,200 sites has ~3,700)
                self.rules.references.append(((where, key, None), item))  # type: ignore[arg-type]
            elif not item or item.isspace() or notable:  # type: ignore[attr-defined]
                self.rules.string(key, item, where)  # type: ignore[arg-type]
            if bound is not None and item not in bound[1]:  # ``binding``'s test of a code
                self.binding(bound, item, (where, key, None))
            return
        if bound is not None:
            self.binding(bound, item, (where, key, None))
        if into is None and (kind is int or kind is float or kind is bool):
            return  # a number or flag: nothing for the rules or the profile
        if into is not None and (kind is dict or kind is list):
            self._into(key, item, into, notable, where, resource, root, top)  # type: ignore[arg-type]
        else:
            self._apart(key, item, into, where, resource, root)

    def _unplanned(self, key: str, item: object, where: Where, resource: dict, root: dict) -> None:
        """Not an element of the node's type (a primitive's extensions, ``_status``): the rules
        read it, and the profile reads a primitive's extensions (rare: read twice)."""
        self.rules.element(key, item, where)
        if key.startswith("_"):
            self.primitive_extensions(item, (where, key, None), resource, root)

    def _into(
        self,
        key: str,
        item: dict | list,
        into: str,
        notable: bool,
        where: Where,
        resource: dict,
        root: dict,
        top: bool,
    ) -> None:
        """An element of a type the profile walks (``into``), read by both."""
        if into == "Resource":
            self._resources(key, item, where, resource, root, top)
        elif not item:
            self.rules.empty_element((where, key, None))
        elif isinstance(item, dict):  # an exact dict or list (``_typed``)
            self._typed(item, into, (where, key, None), resource, root)
        else:
            if notable:
                self.rules.list_rules(key, item, (where, key, None))
            for index, inner in enumerate(item):
                if type(inner) is dict and inner:
                    self._typed(inner, into, (where, key, index), resource, root)
                else:
                    self._item_apart(inner, into, (where, key, index), resource, root)

    def _item_apart(self, inner: object, into: str, at: Where, resource: dict, root: dict) -> None:
        """An item of a list of a walked type that is no non-empty exact object, read apart:
        the rules' item, the profile's node."""
        self.rules.item(inner, at)
        if isinstance(inner, dict):
            self.node(inner, into, at, resource, root)

    def _resources(
        self, key: str, item: dict | list, where: Where, resource: dict, root: dict, top: bool
    ) -> None:
        """An entry resource's contained resources, read as ``_ResourceWalk.read`` reads them
        (what they hold is reported before the rest of the resource); any other resource
        inside a resource (a contained one's: dom-2 is broken) apart."""
        if not (top and key == "contained"):
            self._apart(key, item, "Resource", where, resource, root)
        elif not isinstance(item, list):  # not walked by the rules, as ``read`` does not
            self.descend(item, "Resource", key, where, resource, root)
        else:
            rules, marks = self.rules, self.rules.marks()
            self._container = resource
            rules.contained(item, resource["resourceType"], self._contained)
            rules.put_first(marks, self._head)

    def _contained(self, inner: dict, path: Where) -> None:
        """A contained resource of ``_container`` (only an entry resource's contained resources
        are read so: a resource inside a contained one is read apart, so none of them sets
        ``_container`` while another one is read)."""
        rtype = inner.get("resourceType")
        if isinstance(rtype, str) and rtype in self.types:
            self._typed(inner, rtype, path, inner, self._container)
        else:
            self.rules.walk(inner, path)

    def _apart(
        self, key: str, item: object, into: str | None, where: Where, resource: dict, root: dict
    ) -> None:
        """An element each side reads on its own, as it would alone (``_CheckedWalk``)."""
        self.rules.element(key, item, where)
        if into is not None:
            self.descend(item, into, key, where, resource, root)


def _resource_rules(resource: dict, rtype: str, full_urls: set[str]) -> list[Issue]:
    walk = _ResourceWalk()
    walk.read(resource, rtype)
    return walk.closed(full_urls)


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


def _rule_issues(bundle: dict, read: dict[int, _ResourceWalk] | None = None) -> list[Issue]:
    """The bundle rules' issues. ``read``: the findings of entry resources already read (by
    ``_CheckedWalk``), by entry index; any other entry resource is read here."""
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
        found = read.get(index) if read is not None else None
        issues.extend(found.closed(full_urls) if found else _resource_rules(resource, rtype, full_urls))
        issues.extend(_request_rules(entry, resource, rtype, f"Bundle.entry[{index}]", seen_requests))
    return issues


def _checked_issues(bundle: dict, version: str) -> list[Issue]:
    """A bundle the structure check passed, in one walk (``_CheckedWalk``): the rules' issues,
    or, when there are none, the profile's (required bindings, invariants). The structure check
    holds every complex element to an object (``validation/structure.py``), so the profile's
    walk meets an object wherever it reads one."""
    walk = _CheckedWalk(version, bundle)
    walk.resource(bundle, "Bundle", None)
    return _rule_issues(bundle, walk.rules_by_entry) or walk.issues


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
    if issues:  # the rules read any JSON; the profile waits for a well-formed bundle
        with stage("FHIR bundle rules"):
            return issues + _rule_issues(bundle)
    with stage("FHIR rules + profile"):
        return _checked_issues(bundle, version)
