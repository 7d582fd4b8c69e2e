"""Which study a record is: the one rule, applied where a study is read.

A study is known by one identifier: its NCT id, else its org study id, else (a free-text
document) its local id, the document's file name. Output folders, resource ids and the
conditional PUTs that keep a FHIR server in step all key on it, so a record without one cannot
be exported: the readers' build step rejects it with the reason (``mappers.readers``), and
everything after reading may rely on :func:`identity` finding one. Secondary ids (EudraCT,
grant numbers, sponsor aliases) are not unique to a study and never stand in for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from mappers.model import Identifier

KEY_KINDS = ("nct", "org_study_id", "local")  # in order of preference


def identity(identifiers: Sequence[Identifier]) -> Identifier | None:
    """The identifier the study is known by (the first of the most preferred kind), if any."""
    for kind in KEY_KINDS:
        found = next((i for i in identifiers if i.kind == kind), None)
        if found is not None:
            return found
    return None


def missing_identity(identifiers: Sequence[Identifier]) -> str:
    """Why a record without an identity cannot be exported, in words a user can act on."""
    secondary = [i.value for i in identifiers if i.kind == "secondary"]
    having = f"only secondary ids ({', '.join(secondary)})" if secondary else "no identifier at all"
    return (
        "no study identifier: a record needs an NCT id or an org study id (a free-text document "
        f"its file name) to be exported, and this one has {having}"
    )
