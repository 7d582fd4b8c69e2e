"""Turn rendered template text into the bytes that are written.

Templates stay readable because they may write every element unconditionally, with a trailing
comma after each one: here trailing commas are dropped and empty values (``null``, ``""``,
``[]``, ``{}``) pruned, as FHIR forbids empty elements (ele-1). The same post-processing idea
drives Microsoft's FHIR-Converter. XML is re-serialised with lxml so that layout, declaration
and encoding are identical whatever whitespace a user's template leaves.
"""

from __future__ import annotations

import orjson
import rapidjson
from lxml import etree

from mappers.threads import PerThread


class TemplateOutputError(ValueError):
    """A template produced text that is not the format it claims (a template bug, not bad input)."""


def prune(value, values: list[str] | None = None):
    """Remove empty values recursively, in place; ``False`` and ``0`` are values and stay;
    strings are stripped (and dropped when nothing is left). One pass per container (a value is
    pruned, then kept only if it is not empty).

    In place because the value is the parser's fresh tree and nothing else holds it: building a
    second tree doubled the containers a study allocates, and with them the garbage collector's
    work, which was most of this stage's cost.

    ``values``, when given, receives every string and number kept (numbers as ``str`` writes
    them), as ``mappers.trace.json_values`` would list them, less those of narratives (a ``text``
    object: a resource's generated narrative restates its elements, so a value found only there
    has no element of its own): the not-mapped trace's values of the bundle, gathered by the
    walk that visits them anyway instead of a walk of their own (a few ms on a study of a
    thousand sites)."""
    add = values.append if values is not None else _discard
    kind = type(value)
    if kind is dict:
        return _prune_object(value, add)
    if kind is list:
        return _prune_array(value, add)
    value = value.strip() if kind is str else value
    _add_value(value, add)
    return value


def _discard(value: str) -> None:
    """``add`` where nothing is gathered (a narrative's values, or no ``values`` asked for)."""


def _add_value(value, add) -> None:
    if type(value) is str:
        if value:
            add(value)
    elif type(value) is int or type(value) is float:
        add(str(value))


# The parser gives exact dicts, lists and strs, so ``type(x) is`` tells them apart (cheaper than
# ``isinstance`` with a union, once per leaf); the two walks call each other directly. ``bool``
# is its own type: a flag is not a value gathered (``json_values`` leaves it out too). Each kind
# of item ends its own branch (kept: ``continue``, else on to be dropped): a text kept costs one
# truth test, and a dict with nothing to drop (three in four) allocates nothing for its keys.
def _prune_object(value: dict, add) -> dict:
    empty: tuple = ()  # the keys to drop: most dicts have none, and the empty tuple is shared
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            stripped = item.strip()
            if stripped:
                if stripped is not item:
                    value[key] = stripped  # a new value for a key: the dict's size is unchanged
                add(stripped)
                continue
        elif kind is dict:
            if _prune_object(item, _discard if key == "text" else add):
                continue
        elif kind is list:
            if _prune_array(item, add):
                continue
        elif item is not None:
            _add_value(item, add)  # a number (or a flag): kept
            continue
        empty += (key,)
    return _without(value, empty) if empty else value


def _without(value: dict, keys: tuple) -> dict:
    for key in keys:
        del value[key]
    return value


def _prune_array(value: list, add) -> list:
    kept = 0  # the items kept are moved down over the ones dropped: only visited slots are written
    for item in value:
        kind = type(item)
        if kind is str:
            item = item.strip()
            if not item:
                continue
            add(item)
        elif kind is dict:
            if not _prune_object(item, add):
                continue
        elif kind is list:
            if not _prune_array(item, add):
                continue
        elif item is None:
            continue
        else:
            _add_value(item, add)  # a number (or a flag): kept
        value[kept] = item
        kept += 1
    del value[kept:]
    return value


def finish_json(text: str, template: str = "<template>", values: list[str] | None = None) -> dict:
    """RapidJSON's parser accepts the trailing commas itself, in C: stripping them with a regex
    first (a Python callback per string literal) cost ten times the parse. ``values``: as
    ``prune``'s."""
    try:
        return prune(rapidjson.loads(text, parse_mode=rapidjson.PM_TRAILING_COMMAS), values)
    except rapidjson.JSONDecodeError as exc:
        raise TemplateOutputError(f"{template} did not render valid JSON: {exc}") from exc


def dump_json(value) -> bytes:
    """The one JSON serialisation every output file uses: stable, UTF-8, newline-terminated.

    orjson, because the standard library's indenting encoder is pure Python and was a third of
    a study's export time."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def dump_json_line(value) -> bytes:
    """One compact line, for NDJSON."""
    return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)


# One parser per thread: batches render in threads, and an lxml parser must not be shared.
_PARSER = PerThread(
    lambda: etree.XMLParser(
        remove_blank_text=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
)


def finish_xml_tree(text: str, template: str = "<template>") -> etree._Element:
    """The rendered XML as a tree (its blank text dropped); ``xml_bytes`` writes it. The export
    keeps the tree for the not-mapped trace and the XSD, instead of parsing the bytes again."""
    try:
        return etree.fromstring(text.encode("utf-8"), _PARSER())
    except etree.XMLSyntaxError as exc:
        raise TemplateOutputError(f"{template} did not render well-formed XML: {exc}") from exc


def xml_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def finish_xml(text: str, template: str = "<template>") -> bytes:
    return xml_bytes(finish_xml_tree(text, template))
