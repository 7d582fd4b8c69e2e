"""What both free-text layouts (A and B) share: document identity and dose groups read from prose."""

from __future__ import annotations

from pathlib import PurePath

from mappers.model import Arm, Dose, Identifier
from mappers.readers.base import Draft
from mappers.readers.doses import find_dose_groups


def local_identifier(draft: Draft, source: str) -> None:
    """Free-text pages carry no registry id: the document's name becomes its local identifier.

    The name, not the content hash, so that an edited document updates the same study on a
    FHIR server instead of creating a second one.
    """
    stem = PurePath(source).stem
    draft.put("identifiers", [Identifier(kind="local", value=stem)], "file name")
    draft.note(
        "information",
        "local-identifier",
        f"no registry identifier in the source; the document name '{stem}' is used as local identifier",
        field="identifiers",
    )


def arms_from_dose_groups(draft: Draft) -> None:
    """When the source lists no arms but its description names dose groups, those are the arms."""
    if draft.values.get("arms"):
        return
    for field in ("detailed_description", "brief_summary"):
        groups = find_dose_groups(draft.values.get(field))
        if not groups:
            continue
        arms = [
            Arm(
                label=g.label,
                description=g.text,
                dose=Dose(text=g.text, value=g.value, unit=g.unit, ucum=g.ucum),
            )
            for g in groups
        ]
        where = draft.sources.get(field, field)
        draft.put("arms", arms, where)
        draft.note(
            "warning",
            "assumed-dose-group-arms",
            f"{len(arms)} arms read from the dose groups listed in the {field.replace('_', ' ')}; "
            "their arm type and intervention links are not stated",
            field="arms",
            where=where,
        )
        for g in groups:
            if g.unit_note:
                draft.note("warning", "dose-unit-corrected", g.unit_note, field="arms", where=where)
        return
