"""Source lines quoted next to the fields read from them, so a reviewer sees the evidence.

Provenance says "line 4"; the report page shows line 4 itself. The source is read again as the
reader saw it (decoded, newlines normalised, repaired), and only when its bytes still hash to the
``content_hash`` the run recorded: a file edited since the run is not quoted at all, rather than
quoted wrong. Only line locations are quoted (text layouts); element paths of XML/JSON sources
already say where to look.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from mappers.text import UndecodableInput, decode, repair

MAX_SOURCE_BYTES = 2_000_000  # a report must not re-read a huge export to quote a line
MAX_LINES = 6  # per location; a detailed description can span hundreds
MAX_CHARS = 240
_LINES = re.compile(r"^lines? (\d+)(?:-(\d+))?$")

Excerpt = list[tuple[int, str]]  # (line number, text)


def source_lines(source: str | None, content_hash: str | None) -> list[str] | None:
    if not source or not content_hash:
        return None
    path = Path(source)
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != content_hash:
        return None
    try:
        text, _ = decode(data)
    except UndecodableInput:
        return None
    text, _ = repair(text.replace("\r\n", "\n").replace("\r", "\n"))  # as read_document does
    return text.split("\n")


def names_lines(where: str) -> bool:
    """Whether a location is one ``excerpt`` can quote (a line or lines, not an element path)."""
    return _LINES.match(where.strip()) is not None


def excerpt(lines: list[str] | None, where: str) -> Excerpt:
    """The source lines a location names ("line 3", "lines 5-9"), shortened for a table cell."""
    match = _LINES.match(where.strip()) if lines else None
    if match is None or lines is None:
        return []
    first = int(match[1])
    last = int(match[2] or first)
    quoted = []
    for number in range(max(first, 1), min(last, len(lines), first + MAX_LINES - 1) + 1):
        text = lines[number - 1]
        quoted.append((number, text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"))
    if last > first + MAX_LINES - 1 and quoted:
        quoted.append((0, f"… {last - first + 1 - MAX_LINES} more lines"))
    return quoted
