"""Hostile and damaged input: no exception but ``RejectedInput`` may leave ``read_document``.

Property tests (hypothesis) feed every reader mutated seed documents (lines dropped, duplicated,
reordered, truncated), mutated CT.gov XML/JSON/CSV, JSON with values of the wrong type, random
bytes, mixed encodings, huge lines, deeply nested JSON and XML bombs. Every result must be a list
of valid studies, and every rejection must carry a reason: a reader bug must never cost a whole
batch, and a document that cannot be read must say why. The export tests then check that no text
breaks out of a template. Example counts add up to just over 10,000 and run in under a minute;
``derandomize`` keeps CI reproducible (set ``HYPOTHESIS_RANDOM=1`` to explore new examples).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from mappers.context import MappingSettings
from mappers.export import export_study
from mappers.model import Enrollment, Outcome, Study
from mappers.readers import RejectedInput, read_document
from tests.conftest import ROOT, SEED_A, SEED_B

# tests/flows' session-wide Prefect server runs in a background thread that draws from the global
# ``random``; in a full run Hypothesis sees the state move while it draws and blames our strategies
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

FIXTURES = ROOT / "tests" / "fixtures" / "ctgov"
CTGOV_XML = FIXTURES / "xml" / "NCT00581919.xml"
CTGOV_JSON = FIXTURES / "json" / "v2" / "NCT00973089.json"
CTGOV_JSON_V1 = FIXTURES / "json" / "v1" / "NCT04780763.json"
CTGOV_CSV = FIXTURES / "csv" / "ctg-studies_20cols_AML_CAR-T.csv"

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=not os.environ.get("HYPOTHESIS_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

SOURCES = st.sampled_from(
    [
        "seeds/000_7c5a8bd566a2bac6.txt",
        "in/NCT00000000.json",
        "a dir/ü név (1).txt",
        "x",
        "deep/" * 40 + "name-" + "n" * 200 + ".txt",
        "..txt",
        "in/%00;<script>{{x}}.xml",
    ]
)
# lines that steer the text readers' layout and field detection
STEERING = [
    "Study Type",
    "INTERVENTIONAL",
    "Allocation",
    "RANDOMIZED",
    "Enrollment",
    "-3",
    "99999999999999999999999999",
    "Time frame:",
    "Time frame: 2 years",
    "DRUG: aspirin|DEVICE: x",
    "Shanghai, China",
    "This platform is for informational purposes only",
    "0.25*10^6 cells/kg; 1e308 mg/kg; 1e309 mg; NaN mg",
    "Outcome, description, 3 years|",
    "|||",
    "NCT Number,Title,Status",
    '{"protocolSection": {}}',
    "<clinical_study>",
]


def lines_of(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8").split("\n")


SEED_LINES = {path.name: lines_of(path) for path in (SEED_A, SEED_B)}


def check(data: bytes, source: str = "in/document.txt") -> list[Study]:
    """The property itself: a list of valid studies, or a rejection that says why."""
    try:
        studies = read_document(data, source)
    except RejectedInput as exc:
        assert isinstance(exc.reason, str) and exc.reason.strip()
        if currently_in_test_context():  # --hypothesis-show-statistics
            event("rejected", exc.reason.split(":")[0][:40])
        return []
    assert isinstance(studies, list) and studies
    if currently_in_test_context():
        event("read", studies[0].provenance.layout)
    for study in studies:
        assert isinstance(study, Study)
        assert study.provenance.source == source
        assert Study.model_validate_json(study.model_dump_json()) == study  # survives study.json
    return studies


@st.composite
def mutated(draw, lines: list[str], steering: list[str]) -> str:
    """A document with up to eight line edits, then perhaps cut short anywhere."""
    lines = list(lines)
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["drop", "dup", "swap", "cut", "blank", "insert", "steer"]))
        if not lines:
            lines.append("")
        i = draw(st.integers(0, len(lines) - 1))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "blank":
            lines[i] = ""
        elif op == "insert":
            lines.insert(i, draw(st.text(max_size=60)))
        else:
            lines.insert(i, draw(st.sampled_from(steering)))
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


@settings(FUZZ, max_examples=2600)
@given(
    seed=st.sampled_from(sorted(SEED_LINES)),
    data=st.data(),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    bom=st.booleans(),
    source=SOURCES,
)
def test_mutated_seed_documents(seed, data, newline, bom, source):
    text = data.draw(mutated(SEED_LINES[seed], STEERING))
    raw = text.replace("\n", newline).encode("utf-8", "surrogatepass")
    check((b"\xef\xbb\xbf" if bom else b"") + raw, source)


CTGOV = {path.name: lines_of(path) for path in (CTGOV_XML, CTGOV_JSON)}
CTGOV_CSV_LINES = lines_of(CTGOV_CSV)[:6]  # header and five rows: enough to damage, quick to read


@settings(FUZZ, max_examples=1200)
@given(name=st.sampled_from([*sorted(CTGOV), CTGOV_CSV.name]), data=st.data())
def test_mutated_ctgov_documents(name, data):
    lines = CTGOV.get(name, CTGOV_CSV_LINES)
    steering = [
        *STEERING,
        "<!DOCTYPE x [",
        '<!ENTITY a "b">',
        "]>",
        "&a;",
        '"studies": [',
        "{",
        "]",
        '"',
        ",",
    ]
    check(data.draw(mutated(lines, steering)).encode(), f"in/{name}")


PREFIXES = [
    b"",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"{",
    b'{"studies": [',
    b'{"protocolSection": ',
    b"<?xml version='1.0'?><clinical_study>",
    b"NCT Number,Title,Status\n",
    b"Title\nSummary\nCondition\nDRUG: x\n",
    b"Summary\nDescription\nStudy Type\nINTERVENTIONAL\n",
]


@settings(FUZZ, max_examples=2400)
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=3000))
@example(prefix=b"", body=b"\x00" * 10)
@example(prefix=b"", body=b" \n\t\r\n")
@example(prefix=b"\xff\xfe", body=b"\x00\xd8")  # a lone UTF-16 surrogate
def test_random_bytes(prefix, body):
    check(prefix + body)


ENCODINGS = ["utf-8", "utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252", "shift_jis", "gb18030", "koi8-r"]


@settings(FUZZ, max_examples=1800)
@given(
    segments=st.lists(
        st.tuples(st.one_of(st.text(max_size=200), st.sampled_from(STEERING)), st.sampled_from(ENCODINGS)),
        min_size=1,
        max_size=8,
    ),
    seed_line=st.sampled_from(SEED_LINES[SEED_B.name] + SEED_LINES[SEED_A.name]),
)
def test_mixed_encodings(segments, seed_line):
    """Seed text and random text, each piece in its own encoding, as files glued together are."""
    parts = [seed_line.encode("utf-8")]
    parts += [text.encode(encoding, "ignore") for text, encoding in segments]
    check(b"\n".join(parts))


@settings(FUZZ, max_examples=150)
@given(
    seed=st.sampled_from(sorted(SEED_LINES)),
    at=st.integers(0, 45),
    char=st.sampled_from(["x", "é", "Â±", "\u4e2d", "|", ",", " ", "\t", "0", "\x07", "*"]),
    size=st.sampled_from([5_000, 60_000, 300_000, 1_000_000]),
)
def test_huge_lines(seed, at, char, size):
    lines = list(SEED_LINES[seed])
    lines.insert(min(at, len(lines)), char * (size // max(1, len(char.encode()))))
    check("\n".join(lines).encode())


def nested_json(kind: str, depth: int, closed: bool) -> bytes:
    opening, closing = {
        "studies-lists": ('{"studies": [' + "[" * depth, "]" * depth + "]}"),
        "protocol-objects": ('{"protocolSection": ' + '{"a": ' * depth + "1", "}" * depth + "}"),
        "module-objects": (
            '{"studies": [{"protocolSection": {"identificationModule": ' + '{"nctId": ' * depth + '"x"',
            "}" * depth + "}}]}",
        ),
        "conditions": (
            '{"protocolSection": {"conditionsModule": {"conditions": ' + "[" * depth + '"c"',
            "]" * depth + "}}}",
        ),
    }[kind]
    return (opening + (closing if closed else "")).encode()


@settings(FUZZ, max_examples=300)
@given(
    kind=st.sampled_from(["studies-lists", "protocol-objects", "module-objects", "conditions"]),
    depth=st.one_of(st.integers(1, 3000), st.sampled_from([10_000, 100_000, 1_000_000])),
    closed=st.booleans(),
)
def test_deeply_nested_json(kind, depth, closed):
    check(nested_json(kind, depth, closed))


def billion_laughs(levels: int, fanout: int) -> str:
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * fanout}">' for n in range(1, levels)]
    return "<!DOCTYPE clinical_study [\n" + "\n".join(entities) + "\n]>\n"


XML_BOMBS = {
    "laughs": lambda n, f: billion_laughs(n, f) + f"<clinical_study>&lol{n - 1};</clinical_study>",
    "laughs-in-title": lambda n, f: (
        billion_laughs(n, f) + f"<clinical_study><brief_title>&lol{n - 1};</brief_title></clinical_study>"
    ),
    "comment-first": lambda n, f: (
        "<!-- <clinical_study> -->\n"
        + billion_laughs(n, f)
        + f"<clinical_study>&lol{n - 1};</clinical_study>"
    ),
    "external": lambda n, f: (
        '<!DOCTYPE clinical_study [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<clinical_study><brief_title>&x;</brief_title></clinical_study>"
    ),
    "parameter": lambda n, f: (
        '<!DOCTYPE clinical_study [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><clinical_study/>'
    ),
    "external-dtd": lambda n, f: (
        '<!DOCTYPE clinical_study SYSTEM "http://127.0.0.1:9/x.dtd">'
        "<clinical_study><brief_title>&x;</brief_title></clinical_study>"
    ),
    "deep": lambda n, f: (
        "<clinical_study>" + "<a>" * (n * f * 50) + "</a>" * (n * f * 50) + "</clinical_study>"
    ),
    "wide": lambda n, f: "<clinical_study>" + "<keyword>k</keyword>" * (n * f * 200) + "</clinical_study>",
    "attributes": lambda n, f: "<clinical_study " + " ".join(f'a{i}="v"' for i in range(n * f * 20)) + "/>",
}


@settings(FUZZ, max_examples=300)
@given(
    kind=st.sampled_from(sorted(XML_BOMBS)),
    levels=st.integers(2, 12),
    fanout=st.integers(2, 12),
    declaration=st.booleans(),
    cut=st.one_of(st.none(), st.integers(0, 400)),
)
def test_xml_bombs(kind, levels, fanout, declaration, cut):
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else "") + XML_BOMBS[kind](
        levels, fanout
    )
    if cut is not None:
        text = text[: len(text) - cut]
    studies = check(text.encode(), "in/bomb.xml")
    for study in studies:  # whatever was read holds no expanded entity and no file content
        assert "lollol" not in study.model_dump_json()
        assert "root:" not in study.model_dump_json()


def test_valid_ctgov_json_still_reads():
    """The fuzzed JSON fixture reads as-is, so the mutations start from a readable document."""
    [study] = check(CTGOV_JSON.read_bytes(), "in/x.json")
    assert (
        study.nct_id
        == json.loads(CTGOV_JSON.read_bytes())["protocolSection"]["identificationModule"]["nctId"]
    )


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["²", "١٢", "9" * 5000, "-1", "2024-13-45", "NCT", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


JSON_DOCUMENTS = {path.name: json.loads(path.read_bytes()) for path in (CTGOV_JSON, CTGOV_JSON_V1)}
JSON_EDITS = st.sampled_from(sorted(JSON_DOCUMENTS)).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.lists(
            st.tuples(
                st.sampled_from([p for p in _paths(JSON_DOCUMENTS[name]) if p]),
                st.one_of(JSON_VALUES, st.just(KeyError)),
            ),
            min_size=1,
            max_size=4,
        ),
    )
)


def _holds(node, key) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and key < len(node)


def set_at(document, path: tuple, value) -> None:
    """Replace (``KeyError``: remove) the value at ``path``, if an earlier edit left it there."""
    parent = document
    for key in path[:-1]:
        if not _holds(parent, key):
            return
        parent = parent[key]
    if value is KeyError and isinstance(parent, dict):
        parent.pop(path[-1], None)
    elif _holds(parent, path[-1]) or isinstance(parent, dict):
        parent[path[-1]] = None if value is KeyError else value


@settings(FUZZ, max_examples=1200)
@given(named_edits=JSON_EDITS, wrapped=st.booleans())
def test_json_with_values_of_the_wrong_type(named_edits, wrapped):
    """Every field of a registry record replaced by any JSON value (or removed): a schema, not a
    line, is what a JSON reader trusts, so this is how JSON gets broken."""
    name, edits = named_edits
    document = json.loads(json.dumps(JSON_DOCUMENTS[name]))
    for path, value in edits:
        set_at(document, path, value)
    if wrapped and name == CTGOV_JSON.name:
        document = {"studies": [document, document]}
    check(json.dumps(document).encode(), f"in/{name}")


@pytest.mark.parametrize("fixture", [CTGOV_JSON, CTGOV_JSON_V1], ids=["v2", "v1"])
@pytest.mark.parametrize("number", ["9" * 5000, "1e999", "-0", "1" + "0" * 400])
def test_json_numbers_python_cannot_hold(fixture, number):
    """JSON has no size limit on numbers; Python refuses ints of more than 4,300 digits."""
    text = fixture.read_text()
    check(text.replace("{", '{"x": ' + number + ", ", 2).encode(), f"in/{fixture.name}")


# --- Export: content cannot break out of a template -------------------------------------------

BREAKOUTS = [
    "{{ 7 * 7 }} {% raw %}",
    "</textblock></brief_summary><x>",
    'say "hi" \\" \\u0022',
    "nul\u0000byte",
    "]]> <!-- --> <?pi?> &amp; &lt; &#0;",
    '{"resourceType": "Patient"}',
    "\\n\n\t tail",  # (no CR: XML reads a raw CR as a line end, by design)
]
TEXT_FIELDS = ("brief_title", "official_title", "brief_summary", "detailed_description", "acronym")
MAPPING = MappingSettings(prs_org_name="EXAMPLE-ORG")


@pytest.fixture(scope="module")
def seed_b_study() -> Study:
    [study] = read_document(SEED_B.read_bytes(), f"seeds/{SEED_B.name}")
    return study


def exported_or_rejected(study: Study):
    """The export property: valid, parseable outputs, or a rejection with a reason."""
    result = export_study(study, MAPPING)
    if result.status == "rejected":
        assert all(name.startswith("rejected/") for name in result.files)  # kept for inspection only
        assert not result.resources
        assert any(i.severity == "error" and i.message.strip() for i in result.issues)
        return result, None, None
    bundle = orjson.loads(result.files[f"studies/{result.key}/fhir-r4-bundle.json"])
    prs = etree.fromstring(result.files[f"studies/{result.key}/prs.xml"])
    return result, bundle, prs


def research_study(bundle: dict) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ResearchStudy")


@pytest.mark.parametrize("text", BREAKOUTS, ids=range(len(BREAKOUTS)))
def test_template_breakout_text_is_escaped_or_rejected(seed_b_study, text):
    study = seed_b_study.model_copy(
        update={
            **dict.fromkeys(TEXT_FIELDS, text),
            "conditions": [text],
            "keywords": [text],
            "outcomes": [Outcome(kind="primary", measure=text, description=text, time_frame=text)],
        }
    )
    result, bundle, prs = exported_or_rejected(study)
    if "\u0000" in text:  # XML 1.0 cannot hold NUL: refused, with the reason
        assert result.status == "rejected"
        assert any(i.code == "template-error" and "XML" in i.message for i in result.issues)
        return
    assert result.status == "exported", result.issues
    assert research_study(bundle)["title"] == text.strip()
    assert prs.findtext(".//brief_title") == text.strip()
    assert prs.find(".//x") is None and prs.find(".//brief_summary/textblock") is not None


def test_control_characters_from_a_source_are_repaired_before_export():
    lines = SEED_LINES[SEED_B.name]
    damaged = [lines[0] + "\u0007\u001b\u007f", *lines[1:]]  # (a NUL makes the file binary: refused)
    [study] = read_document("\n".join(damaged).encode(), f"seeds/{SEED_B.name}")
    summary = study.brief_summary
    assert summary is not None and not any(c in summary for c in "\u0007\u001b\u007f")
    result, _, _ = exported_or_rejected(study)
    assert result.status == "exported", result.issues


TEXT = st.one_of(
    st.text(max_size=80), st.sampled_from(BREAKOUTS), st.text(alphabet="{}%#<>&\"'\\/]!-?", max_size=30)
)


@settings(FUZZ, max_examples=150)
@given(
    texts=st.fixed_dictionaries({name: st.none() | TEXT for name in TEXT_FIELDS}),
    conditions=st.lists(TEXT.filter(str.strip), max_size=3),
    measure=TEXT.filter(str.strip),
    count=st.integers(0, 2**63 - 1),
)
def test_any_text_exports_valid_or_is_rejected(seed_b_study, texts, conditions, measure, count):
    study = seed_b_study.model_copy(
        update={
            **texts,
            "conditions": conditions,
            "outcomes": [Outcome(kind="primary", measure=measure)],
            "enrollment": Enrollment(count=count),
        }
    )
    exported_or_rejected(study)


@pytest.mark.parametrize(
    "update",
    [{"brief_title": "lone surrogate \ud800"}, {"enrollment": Enrollment(count=2**64)}],
    ids=["surrogate", "int-beyond-64-bit"],
)
def test_values_json_cannot_encode_are_rejected(seed_b_study, update):
    """No reader produces these (decoding refuses surrogates; counts stop at nine digits), but a
    Study built in code can."""
    exported_or_rejected(seed_b_study.model_copy(update=update))


COUNT_SITES = {  # (document, its enrollment as written) for each layout that reads a count from text
    "public-xml": (CTGOV_XML, ">32</enrollment>"),
    "json-v1": (CTGOV_JSON_V1, '"EnrollmentCount":"168"'),
    "text-b": (SEED_B, "Enrollment\n14\n"),
}


@pytest.mark.parametrize("layout", sorted(COUNT_SITES))
@pytest.mark.parametrize("count", ["²", "١٢", "9" * 5000, "12345678901", " 1,234 "])
def test_enrollment_counts_int_refuses(layout, count):
    """``str.isdigit`` says yes to all of these; ``int`` raises on the first and third."""
    path, written = COUNT_SITES[layout]
    text = path.read_text()
    assert written in text
    replaced = written.replace("32", count).replace('"168"', f'"{count}"').replace("\n14\n", f"\n{count}\n")
    [study] = check(text.replace(written, replaced).encode(), f"in/{path.name}")
    assert study.enrollment is None or study.enrollment.count == 1234
