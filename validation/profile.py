"""Validation past structure: required bindings and FHIRPath invariants (R4 and R5).

fhir.resources checks shapes and types; it accepts ``status: "bogus"`` and a period that ends
before it starts. This module walks each resource with the type map extracted from the official
packages (``validation/definitions/r4.json`` from R4B, ``r5.json`` from R5) and checks every
coded element that has a required binding against its expanded value set, and every error-level
invariant (dom-*, ext-1, per-1, ref-1, bdl-*, qty-3, …) with fhirpathpy.

fhirpathpy gaps, and how they are handled:
- ``hasValue()`` is not implemented: supplied through fhirpathpy's user invocation table (true for
  a single primitive value, as the FHIRPath spec defines it).
- ``%resource`` / ``%rootResource`` are passed as context variables: the containing resource,
  and the resource that holds it (a contained resource's container).
- ``trace()`` would print to stdout: a silent trace callback is passed instead.
- ``as(canonical)`` on a collection raises in fhirpathpy (it wants a singleton); dom-3 applies it
  to ``descendants()``, so it is evaluated as ``ofType(canonical)``, the filtering it means.
- Every node is evaluated as a typed node (its resource, datatype or backbone path), so choice
  elements resolve (ext-1's ``value`` finds ``valueString``).
Expressions are parsed once (parsing is the slow part). An invariant is evaluated on the
projection of its node onto the element names the expression mentions (it cannot read others),
reduced to presence and counts when it only asks ``exists()`` / ``empty()`` / ``count()``, and
memoised by a digest of that: bdl-1 sees ``{"type": "transaction"}``, ref-2 a Reference's
shape, whatever the study, so a study the process has never seen still hits the memo.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import fhirpathpy
import orjson
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from mappers.model import Issue
from validation.issues import Where, error_at, place

DEFINITIONS = {
    "R4": Path(__file__).with_name("definitions") / "r4.json",
    "R5": Path(__file__).with_name("definitions") / "r5.json",
}
_HAS_VALUE = {
    "hasValue": {
        "fn": lambda inputs: [len(inputs) == 1 and isinstance(inputs[0], str | int | float | bool)],
        "arity": {0: []},
    }
}


@cache
def _definitions(version: str) -> dict:
    return json.loads(DEFINITIONS[version].read_text())


@cache
def _codes(version: str, type_name: str, element: str) -> tuple[frozenset[str], frozenset[str]]:
    """(system|code pairs, bare codes) of a required binding."""
    codes = _definitions(version)["types"][type_name]["bindings"][element]["codes"]
    return frozenset(codes), frozenset(c.split("|", 1)[1] for c in codes)


_fhirpath = object()  # marker: evaluate the expression with fhirpathpy


def _range_ordered(node: dict) -> bool:
    """rng-2 (R5): low <= high when both are comparable. fhirpathpy lacks lowBoundary() and
    comparable(); quantities in the same unit are comparable, others are not compared."""
    low, high = node.get("low") or {}, node.get("high") or {}
    if "value" not in low or "value" not in high:
        return True
    if (low.get("code"), low.get("unit")) != (high.get("code"), high.get("unit")):
        return True
    return low["value"] <= high["value"]


def _bound(date: str, upper: bool) -> str:
    """The earliest (or latest) instant a partial FHIR date/dateTime stands for, as a sortable
    string: "2021" -> "2021-01-01T00:00:00" / "2021-12-31T23:59:59" (days 31 are safe for ordering)."""
    template = "9999-12-31T23:59:59" if upper else "0000-01-01T00:00:00"
    date = date[:19]
    return date + template[len(date) :]


def _period_ordered(node: dict) -> bool:
    """per-1 (R5): start.lowBoundary() <= end.highBoundary(); fhirpathpy lacks the boundaries."""
    start, end = node.get("start"), node.get("end")
    if not (isinstance(start, str) and isinstance(end, str)):
        return True
    return _bound(start, upper=False) <= _bound(end, upper=True)


_DATE_ONLY = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")  # a FHIR date: no time of day


def _period_ordered_r4(node: dict) -> bool | None:
    """per-1 (R4): ``start.hasValue().not() or end.hasValue().not() or (start <= end)``, for a
    period of two dates (every exported one: CT.gov dates have no time of day).

    FHIRPath compares two dates at the coarser one's precision, and where they are equal there
    but of different precisions the comparison is empty, which does not violate an invariant
    (``_holds``): 2019-03-15 <= 2019-03 is empty, so a study that started on a day of the month
    its completion names is valid. For dates that is exactly R5's per-1 (the low boundary of
    start not after the high boundary of end), which R5 wrote out to say so. fhirpathpy compares
    the two as strings instead, and rejected such a study's R4 bundle. Any other shape (a time
    of day, a primitive's extension, a value of another type) returns None: fhirpathpy reads it.
    Answered here, a pair of dates costs no fhirpathpy evaluation (~0.15 ms each, a fifth of a
    study's profile at first sight)."""
    if "_start" in node or "_end" in node:
        return None
    dates = [v for v in (node.get("start"), node.get("end")) if v is not None]
    if not all(type(v) is str and _DATE_ONLY.fullmatch(v) for v in dates):
        return None
    return len(dates) < 2 or _period_ordered(node)


def _ratio_range_ordered(node: dict) -> bool:
    """ratrng-2 (R5): as rng-2, on the numerators."""
    return _range_ordered({"low": node.get("lowNumerator"), "high": node.get("highNumerator")})


def _contained_meta_without(*names: str):
    """dom-4 / dom-5: no contained resource's ``meta`` has these elements (a value, or only an
    extension: ``_versionId``). In fhirpathpy they projected every contained resource of the
    node, 2,400 of them in a study of 1,200 sites."""
    keys = {key for name in names for key in (name, f"_{name}")}

    def check(node: dict) -> bool:
        for inner in node.get("contained") or []:
            meta = inner.get("meta") if isinstance(inner, dict) else None
            if isinstance(meta, dict) and not keys.isdisjoint(meta):
                return False
        return True

    return check


# Invariants checked in Python instead of fhirpathpy. dom-3 and ref-1 walk descendants() per
# resource and per Reference (~70 ms a bundle in fhirpathpy) and are the bundle rules of
# validation/fhir.py (fhir-unreferenced-contained, fhir-unresolved-reference), as ext-1 is
# (fhir-extension; a quarter of the fhirpathpy time, on unique extension values): None here.
# per-1, rng-2 and ratrng-2 in R5 use lowBoundary()/highBoundary()/comparable(), which
# fhirpathpy does not implement. R4's per-1 has no boundaries: for two dates it is answered in
# Python as FHIRPath answers it (``_period_ordered_r4``), and left to fhirpathpy for any shape it
# does not read. A native check returns True, False, or None for "evaluate the expression instead".
NATIVE = {
    "dom-3": None,
    "ref-1": None,
    "ext-1": None,  # validation/fhir.py's fhir-extension rule, on every extension of the bundle
    # Implied by the bundle rules, which run first: every fullUrl is a urn:uuid (no /_history/)
    # and no two are the same (so fullUrl & versionId are distinct), the type is a transaction.
    "bdl-7": None,
    "bdl-8": None,
    "bdl-15": None,
    # dom-2 is the bundle rule fhir-contained (no contained resource contains resources); dom-4
    # and dom-5 read only contained resources' meta.
    "dom-2": None,
    "dom-4": _contained_meta_without("versionId", "lastUpdated"),
    "dom-5": _contained_meta_without("security"),
    "rng-2": _range_ordered,
    "ratrng-2": _ratio_range_ordered,
}
# An invariant that asks only whether some of its node's own elements are there ("value.empty()
# or system.exists()": cpt-2 on every ContactPoint, ref-2 on every R5 Reference, qty-3, att-1):
# answered from the node's keys when each element it names is absent or holds a plain value,
# as fhirpathpy would answer it (a test compares the two on every such invariant of both
# releases); left to fhirpathpy when one is a choice, empty, or has a ``_x`` extension. Tens of
# them a study went through the memo's projection at ~3 us each.
_PRESENCE_TERMS = re.compile(r"(\w+)\.(exists|empty)\(\)")
_PRESENCE_DISJUNCTION = re.compile(r"\w+\.(?:exists|empty)\(\)(?: or \w+\.(?:exists|empty)\(\))*")


def _present(item: object) -> bool | None:
    """Whether an element's value is there (None: not a plain value, fhirpathpy decides)."""
    if isinstance(item, list):
        return True if item and all(_present(i) and not isinstance(i, list) for i in item) else None
    if isinstance(item, str):
        return True if item and not item.isspace() else None
    if isinstance(item, dict):
        return True if item else None
    return True if isinstance(item, int | float) else None  # a bool is an int


def _presence_check(terms: tuple[tuple[str, bool], ...]):
    """The native form of a presence disjunction: ``terms`` are (element, True for exists())."""
    extensions = frozenset(f"_{name}" for name, _ in terms)

    def check(node: dict) -> bool | None:
        if not extensions.isdisjoint(node):
            return None
        holds = False
        for name, exists in terms:
            item = node.get(name, _ABSENT)
            present: bool | None
            if item is _ABSENT:
                present = False
            elif type(item) is str:  # ``_present`` of a string (most elements), without the call
                if not item or item.isspace():
                    return None
                present = True
            else:
                present = _present(item)
                if present is None:
                    return None
            holds = holds or present == exists
        return holds

    return check


_ABSENT = object()


def _presence_native(expression: str, elements: dict):
    """The native check of a presence disjunction over plain elements of the type, else None."""
    if _PRESENCE_DISJUNCTION.fullmatch(expression) is None:
        return None
    terms = tuple((name, kind == "exists") for name, kind in _PRESENCE_TERMS.findall(expression))
    for name, _ in terms:
        choice = any(e != name and e.startswith(name) and e[len(name)].isupper() for e in elements)
        if name not in elements or choice:
            return None
    return _presence_check(terms)


_UCUM = "http://unitsofmeasure.org"


def _duration_coded(trigger: str, other: str):
    """drt-1: ``<trigger>.exists() implies ((system = %ucum) and <other>.exists())`` (R4's
    trigger is ``value``, R5's ``code``), in FHIRPath's three-valued logic as fhirpathpy reads
    it: without a ``system`` the comparison is empty, and ``empty and true`` leaves the
    implication empty, which holds. A study's time frames are Durations of values no other
    study has, so each went to fhirpathpy (~45 us) past the memo. Answered for plain values
    only (None otherwise: fhirpathpy decides)."""

    def check(node: dict) -> bool | None:
        for name in ("value", "code", "system"):
            if f"_{name}" in node or (name in node and _present(node[name]) is None):
                return None
        system = node.get("system")
        if system is not None and type(system) is not str:
            return None
        if trigger not in node:
            return True
        return other in node and (system is None or system == _UCUM)

    return check


# An invariant that holds unless the Bundle is of some types ("type = 'document' implies …",
# "type in ('transaction' | 'batch') implies …": 12 of R5's bdl-*, 4 of R4's): true on a node
# whose ``type`` is a plain string outside them, since ``false implies`` anything is true. Each
# projected and digested the study's Bundle for its memo (~5 us; R5's twelve were half the
# Bundle's invariant time). Only on a bundle the structure check passed (``plan``'s
# ``structured``) and with no primitive's extension anywhere in its shell (``_plain_bundle``):
# fhirpathpy evaluates both sides of ``implies``, and the other side raises on a malformed
# bundle (a resourceType that is an object: ``check_resource`` reports it as not evaluated) or
# on an entry's ``request._method``; such a bundle, or one without a type, goes to fhirpathpy.
_VACUOUS = re.compile(r"type (?:= '([\w-]+)'|in \(('[\w-]+'(?: \| '[\w-]+')*)\)) implies (?!.*\bimplies\b).*")


_LAST_SHELL: tuple[object, bool] = (None, False)


def _plain_bundle(node: dict) -> bool:
    """Whether no element of a Bundle's shell, at any depth, is a primitive's extension (``_x``),
    told from its JSON (a ``"_`` that opens a string value counts too: fhirpathpy then, as
    before). The last shell's answer is kept, as each of the Bundle's invariants asks it of the
    same shell (one tuple: threads read it whole)."""
    global _LAST_SHELL
    last = _LAST_SHELL
    if last[0] is node:
        return last[1]
    try:
        plain = b'"_' not in orjson.dumps(node)
    except TypeError:  # not JSON: fhirpathpy decides
        plain = False
    _LAST_SHELL = (node, plain)
    return plain


def _vacuous_native(expression: str, elements: dict):
    """The native check of an implication from the node's ``type``, else None."""
    match = _VACUOUS.fullmatch(expression)
    if match is None or "type" not in elements:
        return None
    one, several = match.groups()
    kinds = frozenset([one] if one else re.findall(r"'([\w-]+)'", several))

    def check(node: dict) -> bool | None:
        kind = node.get("type")
        if type(kind) is not str or kind in kinds or not _plain_bundle(node):
            return None
        return True

    return check


def _bundle_native(check):
    """A native Bundle invariant (``_STRUCTURED``): ``check(node, type, entries)`` on a node
    whose type is a plain string and whose entries are objects; None for any other node."""

    def native(node: dict) -> bool | None:
        kind, entries = node.get("type"), node.get("entry", [])
        if type(kind) is not str or type(entries) is not list or not _plain_bundle(node):
            return None
        if not all(type(entry) is dict for entry in entries):
            return None
        return check(node, kind, entries)

    return native


def _there(entry: dict, name: str) -> bool | None:
    """Whether an entry's element (request, response, search, its resource's shell) is there;
    None when it is not a non-empty object (fhirpathpy decides)."""
    if name not in entry:
        return False
    value = entry[name]
    return True if type(value) is dict and value else None


def _entries_agree(name: str, kinds: tuple[str, ...]):
    """R4's bdl-3 and bdl-4: every entry has ``name`` exactly when the Bundle's type is one of
    ``kinds`` (``entry.all(request.exists() = (%resource.type = 'batch' or …))``: %resource is
    the Bundle itself)."""

    def check(node: dict, kind: str, entries: list) -> bool | None:
        there = [_there(entry, name) for entry in entries]
        return None if None in there else all(found == (kind in kinds) for found in there)

    return _bundle_native(check)


def _no_search(node: dict, kind: str, entries: list) -> bool | None:
    """bdl-2: ``entry.search.empty() or (type = 'searchset')`` (R5 writes the two the other way)."""
    there = [_there(entry, "search") for entry in entries]
    return None if None in there else kind == "searchset" or not any(there)


def _no_total(node: dict, kind: str, entries: list) -> bool | None:
    """bdl-1: ``total.empty() or (type = 'searchset') or (type = 'history')``."""
    return "total" not in node or kind in ("searchset", "history")


def _no_issues(node: dict, kind: str, entries: list) -> bool | None:
    """R5's bdl-16: ``issues.exists() implies (…)``: true without issues, fhirpathpy otherwise."""
    return True if "issues" not in node else None


def _requests_match_resources(node: dict, kind: str, entries: list) -> bool | None:
    """R5's bdl-3c: a transaction's or batch's entries each have a request method, and a
    resource exactly when the method is POST, PATCH or PUT. An entry without a method makes
    the ``and`` false, whatever its other side."""
    if kind not in ("transaction", "batch"):
        return True
    found = []
    for entry in entries:
        request = entry.get("request")
        if request is None:
            found.append(False)
            continue
        if type(request) is not dict or not request:
            return None
        method = request.get("method")
        if method is None:
            found.append(False)
            continue
        resource = _there(entry, "resource")
        if type(method) is not str or resource is None:
            return None
        found.append((method in ("POST", "PATCH", "PUT")) == resource)
    return all(found)


# The Bundle's other invariants (bdl-1 … bdl-4, R5's bdl-16 and bdl-3c) answered in Python on a
# bundle the structure check passed, by their exact text (a release that words one otherwise
# leaves it to fhirpathpy): each projected the study's Bundle shell for its memo and digested it
# (~5 us; with ``_vacuous_native``'s, all of a Bundle's invariants are native now). A shape
# they do not read plainly (an empty object, a ``_method``) goes to fhirpathpy.
_STRUCTURED = {
    "total.empty() or (type = 'searchset') or (type = 'history')": _bundle_native(_no_total),
    "entry.search.empty() or (type = 'searchset')": _bundle_native(_no_search),
    "(type = 'searchset') or entry.search.empty()": _bundle_native(_no_search),
    "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or "
    "%resource.type = 'history'))": _entries_agree("request", ("batch", "transaction", "history")),
    "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = "
    "'transaction-response' or %resource.type = 'history'))": _entries_agree(
        "response", ("batch-response", "transaction-response", "history")
    ),
    "issues.exists() implies (issues.issue.severity = 'information' or issues.issue.severity = "
    "'warning')": _bundle_native(_no_issues),
    "type in ('transaction' | 'batch') implies entry.all(request.method.exists() and "
    "((request.method in ('POST' | 'PATCH' | 'PUT')) = resource.exists()))": _bundle_native(
        _requests_match_resources
    ),
}


NATIVE_R4 = {**NATIVE, "per-1": _period_ordered_r4, "drt-1": _duration_coded("value", "code")}
NATIVE_R5 = {**NATIVE, "per-1": _period_ordered, "drt-1": _duration_coded("code", "value")}


def _quiet(label, value) -> None:
    """trace() would print to stdout; an export's console is for the run summary."""


# fhirpathpy's as() demands a single item, while dom-3 applies it to descendants(); ofType() is
# the filtering form the invariant means.
_REWRITES = (
    (".as(canonical)", ".ofType(canonical)"),
    (".as(uri)", ".ofType(uri)"),
    (".as(url)", ".ofType(url)"),
)


@cache
def _compiled(expression: str, version: str):
    for old, new in _REWRITES:
        expression = expression.replace(old, new)
    options = {"userInvocationTable": _HAS_VALUE, "traceFn": _quiet}
    return fhirpathpy.compile(expression, models[version.lower()], options=options)


def _evaluate(expression: str, version: str, node: dict, type_name: str, context: dict) -> bool:
    # A typed node lets fhirpathpy resolve choice elements (``value`` -> ``valueString``).
    return _holds(_compiled(expression, version)(ResourceNode.create_node(node, type_name), context))


_MEMO: dict[tuple, bool] = {}
_MEMO_LIMIT = 65536

# An invariant reads its node through element names only, unless it walks the whole node: then
# it sees everything, and is evaluated on everything.
_WHOLE_NODE = ("children()", "descendants()", "$this", "repeat(", "resolve()", "%context")
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@cache
def _names(expression: str) -> frozenset[str] | None:
    """Every name the expression could navigate by (over-approximated: every identifier outside
    string literals), or None when it walks the whole node."""
    if any(marker in expression for marker in _WHOLE_NODE):
        return None
    return frozenset(_NAME.findall(_LITERAL.sub("", expression)))


@cache
def _kept(key: str, names: frozenset[str]) -> bool:
    """Whether an element (``_status`` is ``status``'s; ``valueString`` is ``value``'s, a choice)
    can be reached by one of ``names``; ``resourceType`` always (it types the node)."""
    name = key[1:] if key.startswith("_") else key
    if name == "resourceType" or name in names:
        return True
    return any(name.startswith(n) and name[len(n) : len(n) + 1].isupper() for n in names)


def _projected(value, names: frozenset[str]):
    """The node with only the elements the invariant can reach, at every depth. Its result on
    the projection is its result on the node (what it cannot name, it cannot read), and a
    projection recurs across studies far more often than the node: ``Bundle.type`` for bdl-1,
    not the whole bundle with its study's full URLs."""
    if isinstance(value, dict):
        return {k: _projected(v, names) for k, v in value.items() if _kept(k, names)}
    if isinstance(value, list):
        return [_projected(v, names) for v in value]
    return value


# An invariant that only asks whether elements are there, or how many (ref-2, org-1, cpt-2, dom-4,
# dom-5, …): paths each followed by .exists() / .empty() / .hasValue() / .count(), joined by logic.
_PRESENCE = re.compile(
    r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\.(?:exists|empty|hasValue|count)\(\)(?:\.not\(\))?"
)
_LOGIC = re.compile(r"(?:\s|[()+<>=!0-9]|\band\b|\bor\b|\bxor\b|\bimplies\b|\bnot\(\))*")


@cache
def _presence_only(expression: str) -> bool:
    return _LOGIC.fullmatch(_PRESENCE.sub("", expression)) is not None


def _shape(value, counted: bool):
    """What a presence-only invariant can see of a (projected) value: which elements are there,
    and, when it counts, how many; a primitive's value is not looked at. Without count(), equal
    items of a list are one (a site list of 1,200 contained Locations is one Location)."""
    if isinstance(value, list):
        items = [_shape(v, counted) for v in value]
        if counted or len(items) < 2:
            return items
        return list({orjson.dumps(i, option=orjson.OPT_SORT_KEYS): i for i in items}.values())
    if isinstance(value, dict):
        return {k: v if k == "resourceType" else _shape(v, counted) for k, v in value.items()}
    return True if isinstance(value, bool) else 0 if isinstance(value, int | float) else "x"


def _digest(value) -> bytes:
    return hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


def _memoised(expression: str, version: str, type_name: str, node: dict, context: dict) -> bool:
    """Evaluated on the node's projection (``_projected``), memoised by a 16-byte digest of it
    (and of the projected ``%resource`` / ``%rootResource`` it reads): keeping whole nodes as
    keys made the cache hold tens of MB of JSON; cleared when full."""
    names = _names(expression)
    if names is not None and not context and _presence_only(expression):
        flat = _flat_shape(node, names)
        if flat is not None:  # cpt-2 on each of a study's thousands of ContactPoints, …
            return _looked_up((expression, version, type_name, flat), expression, version, type_name, node)
    # a context value that is the node itself (the Bundle is its own %resource and
    # %rootResource) is projected and digested once, not once per name
    whole = node
    if names is not None:
        node = _projected(node, names)
        context = {k: node if v is whole else _projected(v, names) for k, v in context.items()}
        if not context and _presence_only(expression):
            node = _shape_view(node, "count()" in expression)
    digest = _digest(node)
    key = (
        expression,
        version,
        type_name,
        digest,
        *(digest if v is node else _digest(v) for v in context.values()),
    )
    return _looked_up(key, expression, version, type_name, node, context)


def _looked_up(
    key: tuple, expression: str, version: str, type_name: str, node: dict, context: dict | None = None
) -> bool:
    """The memo's answer for ``key``, or the expression evaluated on ``node`` and remembered; a
    node without ``context`` is a presence-only invariant's, evaluated on its shape."""
    found = _MEMO.get(key)
    if found is None:
        if len(_MEMO) >= _MEMO_LIMIT:
            _MEMO.clear()
        if context is None:
            names = _names(expression)
            assert names is not None  # a flat shape is taken only from a projection
            node = _shape_view(_projected(node, names), "count()" in expression)
            context = {}
        found = _MEMO[key] = _evaluate(expression, version, node, type_name, context)
    return found


def _shape_view(node: dict, counted: bool) -> dict:
    """What a presence-only invariant reads of a projected node: each element's shape
    (``_shape``); primitive extensions (``_x``) and the resource type whole."""
    return {k: v if k[0] == "_" or k == "resourceType" else _shape(v, counted) for k, v in node.items()}


def _flat_shape(node: dict, names: frozenset[str]) -> tuple | None:
    """What a presence-only invariant sees of a node whose reachable elements are all
    primitives, as a tuple: the same tuple for two nodes means the same shape (``_shape`` of
    the projection), so it is a memo key as it is, with no digest; None for any other node."""
    shape = []
    for key, value in node.items():
        if not _kept(key, names):
            continue
        if isinstance(value, dict | list):
            return None
        if key[0] != "_" and key != "resourceType":
            value = True if isinstance(value, bool) else 0 if isinstance(value, int | float) else "x"
        shape.append((key, value))
    return tuple(shape)


# What a Bundle's and a Bundle entry's invariants (bdl-*, R4 and R5) read of an entry's resource:
# whether it is there, its type, id and meta.versionId. Each resource's own invariants are
# checked when the walk reaches it; evaluating bdl-* over a shell of the bundle, instead of the
# whole of it, took a millisecond off every study.
_SHELL_KEYS = ("resourceType", "id", "meta")


# Invariants that only say what contained resources may not have ("contained.X.empty()", joined
# by "and"): they hold on every resource without contained ones, which is most of them.
_ABOUT_CONTAINED = re.compile(r"contained\.[\w.]+\.empty\(\)(?: and contained\.[\w.]+\.empty\(\))*")


def _bundle_shell(node: dict, type_name: str) -> dict:
    if type_name == "Bundle" and isinstance(node.get("entry"), list):
        return {**node, "entry": [_bundle_shell(e, "Bundle.entry") for e in node["entry"]]}
    if type_name == "Bundle.entry" and isinstance(node, dict) and isinstance(node.get("resource"), dict):
        return {**node, "resource": {k: node["resource"][k] for k in _SHELL_KEYS if k in node["resource"]}}
    return node


_SHELLED = ("Bundle", "Bundle.entry")


@cache
def _about_contained(expression: str) -> bool:
    return _ABOUT_CONTAINED.fullmatch(expression) is not None


# Native checks that read only a node's contained resources (dom-4, dom-5): true on a resource
# that contains none, like the expressions ``_about_contained`` recognises.
_CONTAINED_NATIVES = frozenset({"dom-4", "dom-5"})


def _reads_only_contained(constraint: dict, native) -> bool:
    if native is _fhirpath:
        return _about_contained(constraint["expression"])
    return constraint["key"] in _CONTAINED_NATIVES


# What the walk does with one element of a type: the type it descends into (None: a primitive,
# or a type without checks of its own, nothing to walk below it) and the element's required
# binding ((system|code pairs, bare codes, value set), or None).
Binding = tuple[frozenset[str], frozenset[str], str]
_Step = tuple[str | None, Binding | None]


@cache
def plan(version: str, type_name: str, structured: bool = False) -> tuple[list, dict[str, _Step]] | None:
    """A type's checks in the order of its constraints (those checked elsewhere left out: they
    add nothing here), each with whether it only says what contained resources may not have,
    and its elements the walk has anything to do with; None for a type without a definition.
    ``structured``: for nodes of a bundle the structure check passed, whose Bundle's
    invariants are answered in Python (``_STRUCTURED``, ``_vacuous_native``)."""
    types = _definitions(version)["types"]
    spec = types.get(type_name)
    if spec is None:
        return None
    natives = NATIVE_R5 if version == "R5" else NATIVE_R4
    checks = []
    for constraint in spec["constraints"]:
        native = natives.get(constraint["key"], _fhirpath)
        if native is _fhirpath:
            expression, elements = constraint["expression"], spec["elements"]
            native = _presence_native(expression, elements)
            if native is None and structured and type_name == "Bundle":
                native = _STRUCTURED.get(expression) or _vacuous_native(expression, elements)
            native = native or _fhirpath
        if native is not None:
            checks.append((constraint, native, _reads_only_contained(constraint, native)))
    steps: dict[str, _Step] = {}
    for element, child in spec["elements"].items():
        into = child if child == "Resource" or child in types else None
        bound = None
        if element in spec["bindings"]:
            bound = (*_codes(version, type_name, element), spec["bindings"][element]["valueSet"])
        if into is not None or bound is not None:
            steps[element] = (into, bound)
    return checks, steps


def native_checks(checks: list, type_name: str) -> tuple | None:
    """The native checks ``ProfileWalk.invariants`` would run on a node of the type without
    contained resources, in their order, when every one it would run is native; None when one
    is evaluated by fhirpathpy, or the type's checks read a shell of the node (``_SHELLED``).
    All of them returning True means ``invariants`` would report nothing there."""
    if type_name in _SHELLED:
        return None
    natives = []
    for _, native, about_contained in checks:
        if about_contained:
            continue
        if native is _fhirpath:
            return None
        natives.append(native)
    return tuple(natives)


def element_names(version: str, type_name: str) -> list[str]:
    """Every element a type has (choices spelt out: ``valueString``, …)."""
    return list(_definitions(version)["types"][type_name]["elements"])


def _holds(result: list) -> bool:
    return not result or result == [True]  # an empty result does not violate an invariant


class ProfileWalk:
    """A type-directed walk of a resource: each node's invariants, then each element's binding,
    then the elements of a type with checks of its own. ``resource`` is the resource a node is
    in (``%resource``), ``root`` the resource that holds it (``%rootResource``).

    validation/fhir.py's bundle walk extends it to read the bundle rules on the same pass."""

    structured = False  # whether every node walked passed the structure check (``plan``)

    def __init__(self, version: str):
        self.version = version
        self.issues: list[Issue] = []
        self.types = _definitions(version)["types"]
        self._plans: dict[str, tuple[list, dict[str, _Step]] | None] = {}

    def resource(self, resource: dict, where: Where, container: dict | None) -> None:
        rtype = resource.get("resourceType")
        if isinstance(rtype, str) and rtype in self.types:
            self.node(resource, rtype, where, resource, container or resource)

    def node(self, node: dict, type_name: str, where: Where, resource: dict, root: dict) -> None:
        try:
            planned = self._plans[type_name]
        except KeyError:
            planned = self._plans[type_name] = plan(self.version, type_name, self.structured)
        if planned is None:
            return
        checks, steps = planned
        if checks:
            self.invariants(checks, node, type_name, where, resource, root)
        for key, value in node.items():
            step = steps.get(key)
            if step is None:  # a primitive without a binding, or no element of the type
                if key.startswith("_"):  # a primitive's id/extension: only its extensions to check
                    self.primitive_extensions(value, (where, key, None), resource, root)
                continue
            into, bound = step
            if bound is not None:
                self.binding(bound, value, (where, key, None))
            if into is not None:
                self.descend(value, into, key, where, resource, root)

    def descend(self, value, into: str, key: str, where: Where, resource: dict, root: dict) -> None:
        if into == "Resource":  # contained (or a Bundle entry's) resources
            items = enumerate(value) if isinstance(value, list) else [(None, value)]
            for i, item in items:
                if isinstance(item, dict):
                    self.inner_resource(item, key, (where, key, i), resource)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    self.node(item, into, (where, key, i), resource, root)
        elif isinstance(value, dict):
            self.node(value, into, (where, key, None), resource, root)

    def invariants(
        self, checks: list, node: dict, type_name: str, where: Where, resource: dict, root: dict
    ) -> None:
        subject = _bundle_shell(node, type_name) if type_name in _SHELLED else node
        for constraint, native, about_contained in checks:
            if about_contained and "contained" not in subject:
                continue  # dom-2, dom-4, dom-5 on a resource that contains nothing: true by their form
            # a native check reads what fhirpathpy would (a Bundle entry's shell: bdl-5 is a
            # presence check); None: not a shape it reads, fhirpathpy decides
            ok = None if native is _fhirpath else native(subject)
            if ok is None:
                # the Bundle is its own %resource and %rootResource: both its shell (bdl-3 and
                # bdl-4 read %resource; the whole bundle as %rootResource was projected for nothing)
                shell_resource = subject if resource is node else resource
                shell_root = subject if root is node else root
                self.invariant(constraint, subject, type_name, where, shell_resource, shell_root)
            elif not ok:
                self.issues.append(
                    error_at("fhir-invariant", where, f"{constraint['key']} violated: {constraint['human']}")
                )

    def primitive_extensions(self, value: Any, where: Where, resource: dict, root: dict) -> None:
        for item in value if isinstance(value, list) else [value]:
            for i, ext in enumerate((item or {}).get("extension", [])):
                self.node(ext, "Extension", (where, "extension", i), resource, root)

    def inner_resource(self, item: dict, key: str, at: Where, resource: dict) -> None:
        """A resource inside a node of ``resource``: contained by it, or a Bundle entry's (held
        by none: its own root)."""
        self.resource(item, at, resource if key == "contained" else None)

    def binding(self, bound: Binding, value, where: Where) -> None:
        pairs, bare, value_set = bound
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                ok, shown = item in bare, item
            elif isinstance(item, dict) and "coding" in item:
                codings = item["coding"]
                ok = any(f"{c.get('system')}|{c.get('code')}" in pairs for c in codings)
                shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings)
            elif isinstance(item, dict) and "code" in item:
                ok, shown = (
                    f"{item.get('system')}|{item['code']}" in pairs,
                    f"{item.get('system')}|{item['code']}",
                )
            else:
                ok, shown = False, "no coding"
            if not ok:
                self.issues.append(
                    error_at("fhir-binding", where, f"'{shown}' is not in the required value set {value_set}")
                )

    def invariant(
        self, constraint: dict, node: dict, type_name: str, where: Where, resource: dict, root: dict
    ):
        expression = constraint["expression"]
        try:
            context = {}
            if "%resource" in expression or "%rootResource" in expression:
                context = {"resource": resource, "rootResource": root}
            ok = _memoised(expression, self.version, type_name, node, context)
        except Exception as exc:  # an engine gap must not pass silently, nor stop the run
            where = place(where)
            self.issues.append(
                Issue(
                    severity="warning",
                    code="fhir-invariant-not-evaluated",
                    field=where,
                    message=f"{where}: {constraint['key']} not evaluated ({type(exc).__name__}: {exc})",
                )
            )
            return
        if not ok:
            self.issues.append(
                error_at("fhir-invariant", where, f"{constraint['key']} violated: {constraint['human']}")
            )


def check_resource(resource: dict, version: str = "R4", where: str | None = None) -> list[Issue]:
    """Bindings and invariants of one resource (and everything it contains)."""
    walk = ProfileWalk(version)
    walk.resource(resource, where or resource.get("resourceType", "Resource"), None)
    return walk.issues
