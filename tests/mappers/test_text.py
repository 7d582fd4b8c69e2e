"""mappers.text.repair: ftfy line by line, skipping only lines ftfy would leave as they are."""

from __future__ import annotations

import ftfy
from hypothesis import given, settings
from hypothesis import strategies as st

from mappers.text import _REPAIR, repair
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


def test_repair_is_ftfy_line_by_line_on_every_fixture():
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*")):
        if path.suffix in (".json", ".xml", ".csv", ".txt"):
            text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
            assert repair(text) == _reference(text), path.name
