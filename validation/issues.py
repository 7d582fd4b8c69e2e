"""How every validator names a place and reports an error there (one form for all layers).

A place is a FHIRPath-like string (``ResearchStudy.contained[3].telecom[0]``), or, while a
walker descends, its parent's place and its own step ``(where, key, index)``: written out only
for an issue, not for each of the thousands of nodes of a large study.
"""

from __future__ import annotations

from mappers.model import Issue

Where = str | tuple


def place(where: Where) -> str:
    """The place written out."""
    steps = []
    while isinstance(where, tuple):
        where, key, index = where
        steps.append(f".{key}" if index is None else f".{key}[{index}]")
    return where + "".join(reversed(steps))


def error_at(code: str, where: Where, message: str) -> Issue:
    """An error issue at a place; its message starts with the place, so it reads on its own."""
    written = place(where)
    return Issue(severity="error", code=code, field=written, message=f"{written}: {message}")


def rerooted(issue: Issue, root: str, where: Where) -> Issue:
    """An issue found at a place under ``root`` (``ResearchStudy.status``), placed under
    ``where`` instead (``Bundle.entry[0].resource.status``): its field and the place its message
    starts with (``error_at``'s form)."""
    written = place(where)
    field = issue.field or ""
    return issue.model_copy(
        update={"field": written + field[len(root) :], "message": written + issue.message[len(root) :]}
    )
