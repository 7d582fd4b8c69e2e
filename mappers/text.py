"""Decoding and repair of source text, shared by every text reader.

Registry text arrives double-encoded (``Â±`` for ``±``), with web-page markdown escapes
(``0.25\\*10\\^6``) and stray control characters. Repair is done with ftfy, configured to fix
only what is broken: quotes, full-width characters and ligatures are content, not damage.
Each repair is reported so that the study records what was changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import charset_normalizer
import ftfy
from ftfy.badness import BADNESS_RE
from ftfy.chardata import CONTROL_CHARS

from mappers.model import Issue

_REPAIR = ftfy.TextFixerConfig(
    uncurl_quotes=False,
    fix_character_width=False,
    fix_latin_ligatures=False,
    unescape_html=False,
    normalization="NFC",
)

# CommonMark: a backslash before any ASCII punctuation character is an escape.
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


class UndecodableInput(ValueError):
    """The bytes are not text in any encoding we can trust."""


_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


def looks_binary(data: bytes) -> bool:
    """NUL bytes or a high share of control bytes mean this is not a text document."""
    sample = data[:4096]
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))  # counted in C
    return controls > len(sample) * 0.05


def decode(data: bytes) -> tuple[str, list[Issue]]:
    """Bytes -> text. UTF-8 (with or without BOM) is expected; anything else is detected and
    reported, and bytes that no encoding explains are refused rather than guessed."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as exc:
            raise UndecodableInput(f"invalid UTF-16: {exc.reason} at byte {exc.start}") from exc
    best = charset_normalizer.from_bytes(data).best()
    if best is None or best.chaos > 0.2:
        raise UndecodableInput("not valid UTF-8 and no other encoding fits the bytes")
    issue = Issue(
        severity="warning",
        code="decoded-legacy-encoding",
        message=f"file is not UTF-8; decoded as {best.encoding}",
    )
    return str(best), [issue]


# What ftfy could change: a character outside printable ASCII, tab and newlines.
_SUSPECT = re.compile(r"[^\t\n\r\x20-\x7e]")
# Characters some step of ftfy (as configured in _REPAIR) rewrites whatever surrounds them: the
# control characters it removes (its own table), C1 controls, line breaks it converts, surrogates.
_FTFY_REWRITES = re.compile(
    "[" + "".join(re.escape(chr(c)) for c in sorted(CONTROL_CHARS)) + "\r\x80-\x9f\u2028\u2029\ud800-\udfff]"
)


# ftfy's mojibake heuristic (``ftfy.badness.is_bad``) matches at most _BAD_WIDTH characters, at
# least one of them outside ASCII (its character classes hold none): so a line is bad exactly
# when some window around its non-ASCII characters is. tests/mappers/test_text.py checks both.
_BAD_WIDTH = 7
_NOT_ASCII_RUN = re.compile(r"[^\t\n\r\x20-\x7e](?:[\t\n\r\x20-\x7e]{0,12}[^\t\n\r\x20-\x7e])*")

# What _SUSPECT leaves alone, as bytes; and the stretch of text asked about at once.
_PLAIN_ASCII = bytes([9, 10, 13, *range(0x20, 0x7F)])
_CHUNK = 1024


def _suspect_spans(text: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """The stretches of ``text[start:]`` that may hold a character ``_SUSPECT`` matches, in
    order, each as long as it can be: everything outside them is plain ASCII.

    A regular expression looks at every character in Python's own engine; a chunk of
    ``_CHUNK`` characters is asked in C whether it is ASCII (a copy, then a flag) and, if so,
    whether any byte is a control (a bytes ``translate``), in under half the time. Registry
    text is long stretches of ASCII between a few accented names, so the expressions then
    search only the stretches these answers leave. A match of ``_SUSPECT`` or
    ``_NOT_ASCII_RUN`` lies inside one stretch (the characters either side of it are plain),
    so searching the stretches finds what searching the whole text finds."""
    end = len(text)
    open_at = None  # where the stretch being built began
    for at in range(start, end, _CHUNK):
        chunk = text[at : at + _CHUNK]
        plain = chunk.isascii() and not chunk.encode("ascii").translate(None, _PLAIN_ASCII)
        if plain and open_at is not None:
            yield open_at, at
            open_at = None
        elif not plain and open_at is None:
            open_at = at
    if open_at is not None:
        yield open_at, end


def _runs(line: str) -> Iterator[re.Match]:
    """``_NOT_ASCII_RUN.finditer(line)``, searching only the stretches that may hold one."""
    for start, end in _suspect_spans(line):
        yield from _NOT_ASCII_RUN.finditer(line, start, end)


def _next_suspect(text: str, start: int) -> int:
    """``_SUSPECT.search(text, start).start()``, or -1 where there is none."""
    for span_start, span_end in _suspect_spans(text, start):
        match = _SUSPECT.search(text, span_start, span_end)
        if match is not None:
            return match.start()
    return -1


def is_bad(line: str) -> bool:
    """``ftfy.badness.is_bad(line)``, searching only around the line's non-ASCII characters: its
    regular expression tries some forty alternatives at every position, 85 ms on a 370 KB API
    record, which the registry sends as one line."""
    return any(_bad_around(line, *run.span()) for run in _runs(line))


def _bad_around(line: str, start: int, end: int) -> bool:
    """Whether ftfy's mojibake heuristic matches in reach of ``line[start:end]``."""
    reach = _BAD_WIDTH - 1
    return bool(BADNESS_RE.search(line, max(0, start - reach), end + reach))


def _ftfy_leaves_alone(line: str) -> bool:
    """True only when ``ftfy.fix_and_explain(line, config=_REPAIR)`` would return the line as it
    is, with no step: its encoding fixes start only on text its own ``is_bad`` flags, its other
    steps only on the characters of ``_FTFY_REWRITES``, and NFC normalisation only on text not
    in NFC. Most lines with a non-ASCII character are plain accented text (``é``, ``±``, ``µ``);
    this asks those questions of the line's non-ASCII runs (``_NOT_ASCII_RUN``), in one pass,
    instead of running ftfy's fixers on it or scanning a one-line 300 KB record three times:

    * every character of ``_FTFY_REWRITES`` but the carriage return is outside printable
      ASCII, so lies in a run;
    * NFC has a boundary before every ASCII character (combining class 0, NFC quick check Yes),
      and normalising text cut at boundaries normalises each piece alone: a line whose runs,
      each with the character before it (a combining mark composes with it), are in NFC is in
      NFC, the ASCII between them being so. Where a run is not, the line decides.
    """
    if "\r" in line:
        return False
    runs_normalized = True
    for run in _runs(line):
        start, end = run.span()
        if _FTFY_REWRITES.search(line, start, end) or _bad_around(line, start, end):
            return False
        runs_normalized = runs_normalized and unicodedata.is_normalized("NFC", line[max(0, start - 1) : end])
    return runs_normalized or unicodedata.is_normalized("NFC", line)


def repair(text: str) -> tuple[str, list[str]]:
    """Fix mojibake and control characters; return the text and the fixes applied.

    Line by line, as ftfy's own ``fix_text`` works, and only on lines ftfy could change (a
    line of plain ASCII without control characters has no mojibake, nor has a line
    ``_ftfy_leaves_alone``): registry JSON and CSV files are megabytes of mostly ASCII. One
    pass (``_suspect_spans``) finds the other lines: a Python loop over every line was most of
    the reading time of a large record."""
    suspect = _next_suspect(text, 0)
    parts: list[str] = []
    fixes: list[str] = []
    done = 0  # text[:done] is settled
    while suspect >= 0:
        start = text.rfind("\n", 0, suspect) + 1
        end = text.find("\n", suspect + 1)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if not _ftfy_leaves_alone(line):
            fixed, steps = ftfy.fix_and_explain(line, config=_REPAIR)
            parts += [text[done:start], fixed]
            for action, detail in steps or []:
                if action != "normalize" and f"{action} {detail}" not in fixes:
                    fixes.append(f"{action} {detail}")
            done = end
        suspect = _next_suspect(text, end)
    if not parts:
        return text, []
    parts.append(text[done:])
    return "".join(parts), fixes


def unescape_markdown(text: str) -> str:
    return _MARKDOWN_ESCAPE.sub(r"\1", text)


def parse_count(text: str | None) -> int | None:
    """A count written in ASCII digits, or None.

    ``str.isdigit`` also accepts '²' and 5,000-digit strings, both of which ``int`` refuses with a
    ValueError; and beyond nine digits it is not a count of participants (FHIR's ``integer`` stops
    at 2^31)."""
    text = (text or "").strip().replace(",", "")
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def squash(text: str | None) -> str | None:
    """Trim, collapse runs of spaces; an empty result is no value."""
    if text is None:
        return None
    text = re.sub(r"[ \t]+", " ", text).strip()
    return text or None
