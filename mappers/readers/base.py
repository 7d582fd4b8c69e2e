"""The reader contract: recognise a source layout by its content, then read it into studies."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

from mappers.model import Issue, Provenance, Severity, Study

_LEADING_SPACE = re.compile(r"\s*")  # for str, the whitespace str.lstrip() strips


def head_start(text: str, limit: int) -> int:
    """Where ``text[:limit].lstrip()`` begins in ``text`` (``limit`` or the text's length when
    that is all space), without copying the head twice: the recognisers ask ``text[at:limit]``
    about the layout's marks in place, on every input."""
    found = _LEADING_SPACE.match(text, 0, limit)
    assert found is not None  # a pattern that matches the empty string always matches
    return found.end()


class RejectedInput(ValueError):
    """This input cannot be read at all; ``reason`` says why in words a user can act on."""

    def __init__(self, reason: str, issues: list[Issue] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.issues = issues or []


@dataclass(frozen=True)
class RejectedRecord:
    """One record of a many-record input that cannot be read; its siblings still can.

    Readers yield it in place of a ``Draft`` (a list page's malformed study, a CSV row that
    breaks the model), so that one bad record costs that record only."""

    reason: str
    record: int | None = None  # 1-based position in the input, set by read_document


@dataclass
class Draft:
    """What a reader collects before the strict model is built: values plus where each came from."""

    values: dict = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def put(self, name: str, value, where: str) -> None:
        if value in (None, "", []):
            return
        self.values[name] = value
        self.sources[name] = where

    def note(
        self, severity: Severity, code: str, message: str, field: str | None = None, where: str | None = None
    ) -> None:
        self.issues.append(Issue(severity=severity, code=code, message=message, field=field, location=where))

    def build(self, provenance: Provenance, issues: list[Issue]) -> Study:
        provenance = provenance.model_copy(update={"field_sources": dict(self.sources)})
        # lax, not strict: a value that converts exactly ("12" for a count) is taken (mappers.model)
        return Study.model_validate(
            {**self.values, "provenance": provenance, "issues": [*issues, *self.issues]}, strict=False
        )


class Reader(ABC):
    """One source layout. ``layout`` names it in provenance and reports."""

    layout: str

    @abstractmethod
    def recognises(self, text: str) -> bool:
        """Whether ``text`` is in this layout; decided by content, never by file name."""

    def missing(self, text: str) -> str:
        """What recognition looked for in ``text`` and did not find, for the "unknown layout"
        reason; empty where the layout's name says it all."""
        return ""

    @abstractmethod
    def read(self, text: str, source: str) -> Iterable[Draft | RejectedRecord]:
        """Every study in ``text``, in order (a generator for many-record inputs, so that a large
        export is mapped row by row); raise RejectedInput when the document as a whole is
        unreadable, yield a RejectedRecord for a single bad record."""

    def read_encoded(self, text: str, encoded: bytes | None, source: str) -> Iterable[Draft | RejectedRecord]:
        """``read``, given also the input's bytes where they are exactly ``text`` in UTF-8
        (None where decoding or repair changed anything): a layout parsed from bytes need not
        encode the text again."""
        return self.read(text, source)
