"""Which source values did not reach an output — found by looking, not by predicting.

Templates decide what each format can hold; rather than restating their conditions in Python
(a second copy of the mapping that drifts), the exporter checks the rendered outputs: every
free-text or numeric value of the study must appear among an output's values, else it is
reported as ``not-mapped`` for that output. Coded values (enums), yes/no flags, dates and ages
are translated by the templates (to codes, ISO dates, Ranges) and are not traced; a person's
name counts as mapped when its surname is there, since PRS splits names into parts. Two bulky
registry-derived values are not traced either: a site's coordinates (no XML format has an
element for them: two warnings per site per XML file, and the most costly values to look for in
a study of hundreds of sites) and the MeSH ancestors (the hierarchy above each heading, dozens a
study); README.md lists them among the values the XML formats do not write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Set
from functools import partial
from itertools import compress, count
from operator import itemgetter
from typing import Any

from ahocorasick_rs import AhoCorasick, Implementation, MatchKind
from lxml import etree

from mappers.context import mesh_code
from mappers.model import Study
from mappers.names import split_name
from mappers.threads import PerThread

# dotted paths into Study.model_dump(); "*" is every item of a list
TRACED = (
    "identifiers.*.value",
    "nct_aliases.*",
    "brief_title",
    "official_title",
    "acronym",
    "brief_summary",
    "detailed_description",
    "conditions.*",
    "keywords.*",
    "condition_browse.meshes.*.term",
    "condition_browse.meshes.*.id",
    "interventions.*.name",
    "interventions.*.description",
    "interventions.*.other_names.*",
    "intervention_browse.meshes.*.term",
    "intervention_browse.meshes.*.id",
    "arms.*.label",
    "arms.*.description",
    "arms.*.dose.text",
    "outcomes.*.measure",
    "outcomes.*.description",
    "outcomes.*.time_frame",
    "design.target_duration",
    "design.intervention_model_description",
    "design.masking_description",
    "design.number_of_arms",
    "design.bio_spec_description",
    "design.endpoint_classification",
    "enrollment.count",
    "status.why_stopped",
    "expanded_access_info.nct_id",
    "oversight.authorities.*",
    "organization.name",
    "sponsor.name",
    "collaborators.*.name",
    "officials.*.name",
    "officials.*.affiliation",
    "contacts.*.name",
    "contacts.*.phone",
    "contacts.*.phone_ext",
    "contacts.*.email",
    "sites.*.facility",
    "sites.*.city",
    "sites.*.state",
    "sites.*.zip",
    "sites.*.country",
    "sites.*.contacts.*.name",
    "sites.*.contacts.*.phone",
    "sites.*.contacts.*.phone_ext",
    "sites.*.contacts.*.email",
    "sites.*.investigators.*.name",
    "removed_countries.*",
    "eligibility.criteria",
    "eligibility.gender_description",
    "eligibility.study_population",
    "responsible_party.investigator_name",
    "responsible_party.investigator_title",
    "responsible_party.investigator_affiliation",
    "responsible_party.old_name_title",
    "responsible_party.old_organization",
    "references.*.citation",
    "references.*.pmid",
    "links.*.url",
    "links.*.description",
    "ipd_sharing_statement.description",
    "ipd_sharing_statement.time_frame",
    "ipd_sharing_statement.access_criteria",
    "ipd_sharing_statement.url",
    "avail_ipds.*.id",
    "avail_ipds.*.type",
    "avail_ipds.*.url",
    "avail_ipds.*.comment",
    "large_docs.*.label",
    "large_docs.*.filename",
    "large_docs.*.url",
)
_NAMES = {"name"}
# values an output writes in a normal form: traced in that form (MeSH ids unpadded, D000001943 -> D001943)
_NORMAL_FORM = {"condition_browse.meshes.*.id": mesh_code, "intervention_browse.meshes.*.id": mesh_code}


def _spec_tree() -> dict:
    """TRACED as one tree of attribute names ("*": every item), a leaf holding its spec's index:
    the study is walked once for all specs, each list once, not once per spec."""
    root: dict = {}
    for index, spec in enumerate(TRACED):
        node = root
        for part in spec.split("."):
            node = node.setdefault(part, {})
        node[None] = index
    return root


_TREE = _spec_tree()
_IS_NAME = [
    spec.split(".")[-1] in _NAMES and spec.split(".")[0] in ("officials", "contacts", "sites")
    for spec in TRACED
]
_NORMAL = [_NORMAL_FORM.get(spec, str) for spec in TRACED]


# A value's place in the study as (parent's place, attribute name or 1-based index), from None
# at the study: written out (``sites[3].contacts[1].name``) only for a value no output holds.
Place = tuple | None


def path_of(place: Place) -> str:
    steps = []
    while place is not None:
        place, step = place
        steps.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return "".join(reversed(steps)).removeprefix(".")


# per spec of TRACED, (place, value as the outputs write it, is_person_name) in the study's order
Found = list[list[tuple[Place, str, bool]]]
Walker = Callable[[Any, Place, Found], None]
# A step of a node's walk: the attribute ("*": each item), the spec it ends (or None), the walk
# below it (or None), whether the spec's value is written as it is (a text needs no conversion)
# and whether it is a person's name.
_Step = tuple[str, int | None, Walker | None, bool, bool]


def _walker(node: dict) -> Walker:
    """The walk of one node of the spec tree, made once: for each attribute (or, ``*``, each
    item) the spec it ends (or None) and the walk below it (or None). A generic walk of the tree
    took two calls and three look-ups in it per value of the study."""
    steps: list[_Step] = []
    for key, child in node.items():
        if key is not None:
            leaf = child.get(None)
            deeper = _walker(child) if len(child) > (leaf is not None) else None
            plain = leaf is not None and _NORMAL[leaf] is str
            steps.append((key, leaf, deeper, plain, leaf is not None and _IS_NAME[leaf]))
    return _walk(steps)


def _written(leaf: int, value: object) -> str:
    """A traced value as the outputs write it (``_NORMAL``): a number as ``str`` writes it, a
    MeSH id unpadded."""
    normal = _NORMAL[leaf]
    return str(value) if normal is str else str(normal(value))


def _walk(steps: list[_Step]) -> Walker:
    """``_walker``'s walk over its steps: each attribute's value (its place made only when it
    has one), noted where a spec ends there, as the entry ``traced_values`` lists (no second
    pass over them), and walked further where the tree goes on; a list's node (``*``, its only
    step) is ``_walk_list``'s. A node's walk (a site's, a thousand times in a large study)
    tests no step for ``*``."""
    if steps[0][0] == "*":
        if len(steps) != 1:
            raise ValueError("a list's node of the spec tree has no attributes")
        return _walk_list(*steps[0][1:])

    def walk(value: Any, where: Place, found: Found) -> None:
        for key, leaf, deeper, plain, is_name in steps:
            item = getattr(value, key, None)
            if item is None or (not item and isinstance(item, str | list)):  # no model's __eq__
                continue
            at: Place = (where, key)
            if leaf is not None:
                text = item if plain and type(item) is str else _written(leaf, item)
                found[leaf].append((at, text, is_name))
            if deeper is not None:
                deeper(item, at, found)

    return walk


def _walk_list(leaf: int | None, deeper: Walker | None, plain: bool, is_name: bool) -> Walker:
    """The walk of each item of a list, the spec's list of entries looked up once per list."""
    written = partial(_written, leaf) if leaf is not None else str  # a value not a plain text

    def walk_items(items: Any, where: Place, found: Found) -> None:
        note = found[leaf].append if leaf is not None else None
        for index, item in enumerate(items, 1):
            if item is None or (not item and isinstance(item, str | list)):
                continue
            at = (where, index)
            if note is not None:
                note((at, item if plain and type(item) is str else written(item), is_name))
            if deeper is not None:
                deeper(item, at, found)

    return walk_items


_WALK = _walker(_TREE)
_TEXT = itemgetter(1)  # a traced entry's value


class Traced(list[tuple[Place, str, bool]]):
    """``traced_values``' list, with its values in the same order (``text_list``) and as a set
    (``texts``), made once for all the outputs it is checked against."""

    text_list: list[str]
    texts: frozenset[str]

    def indexes_of(self, values: Set[str]) -> Iterator[int]:
        """The indexes, ascending, of the list's items whose value is one of ``values``: one
        pass in C (``compress`` over set look-ups) for an output's absent values. An index of
        every value, built for the first output, cost more than a pass per output, as most
        values (ten thousand in a study of a thousand sites) are never asked for."""
        return compress(count(), map(values.__contains__, self.text_list))


def traced_values(study: Study) -> Traced:
    """(place, value, is_person_name) for every traced value the study has, in TRACED order and,
    within a spec, in the order of the study's lists (``path_of(place)`` writes the place out).
    Read from the model itself: dumping it first cost more than the walk."""
    found: Found = [[] for _ in TRACED]
    _WALK(study, None, found)
    traced = Traced()
    for values in found:
        traced += values
    traced.text_list = list(map(_TEXT, traced))  # in C: no generator step per value
    traced.texts = frozenset(traced.text_list)
    return traced


def json_values(value) -> list[str]:
    """Every string and number of a JSON value (numbers written as ``str`` writes them), depth
    first: what the trace looks for in a JSON output. The export gathers its bundle's while
    finishing it (``finish.prune``, which a test holds to this, narratives aside); this reads
    any other JSON value."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in json_values(item)]
    if isinstance(value, list):
        return [text for item in value for text in json_values(item)]
    if isinstance(value, str):
        return [value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [str(value)]
    return []


# Every text node below an element, its own text and each descendant's text and tail (not a
# comment's or processing instruction's own text: they are not text nodes), as plain strings,
# collected by libxml2: walking the elements in Python made a proxy object per element. One axis
# step (the text children of the element and of its descendants are its text descendants): the
# two-step ``descendant-or-self::node()/text()`` made libxml2 gather every node first and merge
# the text children of each into one node-set.
_TEXT_NODES = PerThread(lambda: etree.XPath("descendant::text()", smart_strings=False))


def xml_values(document: bytes | etree._Element) -> list[str]:
    """Every non-blank text of an XML output, stripped: what ``itertext()`` gives, in another
    order. ``document`` is its bytes or a tree of them (``finish.finish_xml_tree``: the export
    traces the tree it already parsed)."""
    return list(filter(None, map(str.strip, _text_nodes(document))))


def xml_texts(document: bytes | etree._Element) -> set[str]:
    """``xml_values`` as a set, made in C from the text nodes (no list of them first): what the
    export traces an XML output against."""
    texts = set(map(str.strip, _text_nodes(document)))
    texts.discard("")
    return texts


def _text_nodes(document: bytes | etree._Element) -> list[str]:
    if isinstance(document, bytes):
        document = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    return _TEXT_NODES()(document)


_CONTIGUOUS = Implementation.ContiguousNFA
_JOINT = "\x00"  # between output values in the searched text: no value holds it (XML cannot)
# Up to this many values not found whole, each is looked for by ``in`` (a C substring search,
# ~2 us over a study's joined values) rather than by building an automaton for them (~40 us for
# the first few): of 1,315 outputs of the real and generated records, 809 had at most five such
# values (10 us against 44 by ``in``), 441 six to twenty (36 against 70); from a few dozen on,
# the automaton's one pass wins (2.4 ms against 0.55 at a hundred and more).
_FEW = 24


def untraced(study: Study, output_values: Iterable[str], traced: Traced | None = None) -> list[str]:
    """Paths of the study's values that appear nowhere in one output's values: neither as a
    value nor inside one (a value rendered within a longer text).

    ``traced`` is ``traced_values(study)`` when the caller checks several outputs of one study:
    dumping and walking the study once instead of once per output. The values not found whole
    are looked for inside the output's values all at once, by Aho-Corasick (``ahocorasick_rs``):
    one ``in`` search of the joined values per value was quadratic on a study of a thousand
    sites (thousands of values, a text of 100,000 characters); up to ``_FEW`` are looked for
    one by one, which is cheaper than building the automaton."""
    # a set is taken as it is: the export gathers the XML texts as sets (xml_texts)
    values = output_values if isinstance(output_values, set | frozenset) else set(output_values)
    traced = traced_values(study) if traced is None else traced
    absent: Set[str] = traced.texts - values
    if absent:
        text = _JOINT.join(values)
        if len(absent) <= _FEW:  # most outputs: a handful of values rendered inside longer ones
            absent = {value for value in absent if value not in text}
        else:
            needles = list(absent)
            # a contiguous NFA: built in a third of the time of the default (a DFA for few
            # needles), which was most of this search's cost on a study's few dozen absent values
            search = AhoCorasick(needles, matchkind=MatchKind.Standard, implementation=_CONTIGUOUS)
            matches = search.find_matches_as_indexes(text, overlapping=True)
            absent -= {needles[index] for index, _, _ in matches}
    if not absent:
        return []
    missing = []
    for index in traced.indexes_of(absent):
        place, value, is_name = traced[index]
        if is_name and (last := split_name(value).last) and last in values:
            continue
        missing.append(path_of(place))
    return missing
