"""mappers.text.repair: ftfy line by line, skipping only lines ftfy would leave as they are."""

from __future__ import annotations

import importlib
import unicodedata

import ftfy
import ftfy.badness
from hypothesis import given, settings
from hypothesis import strategies as st

from mappers.text import (
    _BAD_WIDTH,
    _FTFY_REWRITES,
    _NOT_ASCII_RUN,
    _REPAIR,
    _SUSPECT,
    _ftfy_leaves_alone,
    _next_suspect,
    _runs,
    is_bad,
    repair,
)
from tests.conftest import ROOT


def _reference(text: str) -> tuple[str, list[str]]:
    """ftfy on every line, as repair did before it learnt which lines to skip."""
    lines, fixes = [], []
    for line in text.split("\n"):
        fixed, steps = ftfy.fix_and_explain(line, config=_REPAIR)
        lines.append(fixed)
        for action, detail in steps or []:
            if action != "normalize" and f"{action} {detail}" not in fixes:
                fixes.append(f"{action} {detail}")
    return "\n".join(lines), fixes


# Pieces of real damage and of text that only looks unusual.
PIECES = [
    "plain words",
    "Ã©tude",  # é read as Latin-1
    "â€™s",  # ’ read as Windows-1252
    "Â±5 mg",
    "0.25\\*10\\^6",
    "café",
    "cafe\u0301",  # NFD: normalised, not reported
    "µg/kg ± 2",
    "\u2028",
    "\x85",
    "\x0b",
    "\x1b[31m",
    "\ufeff",
    "“quoted”",
    "ﬁne",  # a ligature: content, left alone
    "ＦＵＬＬ",  # full width: content, left alone
    "Ã ",
    "\x9d",
    "日本語",
    "\t",
    " ",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, "\n"]), max_size=12))
def test_repair_is_ftfy_line_by_line(pieces):
    text = "".join(pieces)
    assert repair(text) == _reference(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, "\n", "x" * 700, "y" * 1500]), max_size=12))
def test_repair_is_ftfy_line_by_line_on_long_lines(pieces):
    """Lines longer than the chunks repair skips at once when they are plain ASCII."""
    text = "".join(pieces)
    assert repair(text) == _reference(text)


def test_repair_is_ftfy_line_by_line_on_every_fixture():
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*")):
        if path.suffix in (".json", ".xml", ".csv", ".txt"):
            text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
            assert repair(text) == _reference(text), path.name


def test_the_mojibake_heuristic_is_short_and_never_all_ascii():
    """What mappers.text.is_bad relies on to search windows around non-ASCII characters only."""
    pattern = ftfy.badness.BADNESS_RE
    sre = importlib.import_module("re._parser")  # the regular expression's width (untyped module)
    assert sre.parse(pattern.pattern, pattern.flags).getwidth()[1] <= _BAD_WIDTH
    for category in ftfy.badness.MOJIBAKE_CATEGORIES.values():
        assert all(ord(c) > 127 for c in category.replace("-", "")), category


# Characters of ftfy's mojibake patterns and the ASCII around them, a few at a time: short
# texts of these hit the heuristic's alternatives (and their edges) often.
_CHARS = sorted(
    set("ÃÂÎÐ€œŠš¢£ŸžØÙà²µ¹¼½¾√±∂†≠®™´≤≥¥ø≈°‚Äìîïòôúùûπâóäê×³вЂВГРСў.βΆΒΓΞΟāŒ¦¤¨¬éaz AZ.,?!()\t\u00a0\u2028")
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_CHARS), max_size=12), st.integers(0, 30), st.integers(0, 30))
def test_is_bad_is_ftfys_is_bad(chars, before, after):
    text = "x" * before + "".join(chars) + "y" * after
    assert is_bad(text) == ftfy.badness.is_bad(text)


def test_is_bad_sees_ascii_on_either_side_of_the_mojibake():
    for text in ("a Ã ", "words a Ã  more", "ГўВЂВx ", "Ã ", "pre ГўВЂВ.a post", "x.Â ("):
        assert is_bad(text) == ftfy.badness.is_bad(text), text
    assert is_bad("a Ã ") and is_bad("ГўВЂВx ")


# Characters ftfy rewrites wherever they stand (its control characters, C1, line separators),
# among plain and accented text and the gaps that join non-ASCII runs.
_LINE_CHARS = sorted(
    set("ab é±\u0301\r\t\x00\x0b\x1b\x7f\x85\x9d\u2028\u2029\u206a\ufeff\ufffcÃ ")
    # and what NFC composes or reorders: a combining mark after ASCII or after another mark
    # (cedilla, acute, overlay; "<" + overlay is "≮"), the Kelvin sign, Hangul jamo
    | set("e<\u0327\u0338\u212a\u1100\u1161\u11a8\uac00")
)


@settings(max_examples=5000, deadline=None)
@given(st.lists(st.sampled_from(_LINE_CHARS), max_size=10), st.integers(0, 20), st.integers(0, 20))
def test_leaves_alone_asks_the_three_questions(chars, gap, after):
    """_ftfy_leaves_alone asks its questions of the non-ASCII runs only."""
    line = "".join(chars[:5]) + "x" * gap + "".join(chars[5:]) + "y" * after
    expected = (
        not _FTFY_REWRITES.search(line)
        and not ftfy.badness.is_bad(line)
        and unicodedata.is_normalized("NFC", line)
    )
    assert _ftfy_leaves_alone(line) == expected


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 2100).map(lambda n: "x" * n),  # stretches across the 1,024-character chunks
            st.sampled_from(["é", "\x0b", "\x7f", "\n", "\t", "\ud800", "Ã ", "\u2028", "日"]),
        ),
        max_size=12,
    )
)
def test_the_stretches_hold_every_run_and_suspect(pieces):
    """_runs and _next_suspect, which skip plain-ASCII chunks, find what the expressions find."""
    text = "".join(pieces)
    assert [m.span() for m in _runs(text)] == [m.span() for m in _NOT_ASCII_RUN.finditer(text)]
    for start in (0, len(text) // 3, len(text) // 2):
        found = _SUSPECT.search(text, start)
        assert _next_suspect(text, start) == (found.start() if found else -1)
