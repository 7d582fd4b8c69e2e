"""Dose groups stated in free text ("three dose groups: 0.25*10^6 cells per kilogram …; 0.5*10^6 …").

Free-text registry pages often list a dose-escalation study's cohorts only inside the
description. Reading them into arms is an assumption, so the reader records it on the study;
the unit is normalised only when it is recognised, and the original wording is always kept.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# "dose groups:", "dose levels", "dose cohorts", preceded by anything ("three CAR T cell dose groups")
_ANNOUNCE = re.compile(r"\bdose[- ](?:groups?|levels?|cohorts?)\b\s*(?:will be|are|of|:)?\s*:?", re.I)
_DOSE = re.compile(
    r"(?P<value>\d+(?:\.\d+)?)\s*(?:(?:\*|×|x|X)\s*10\s*\^?\s*(?P<exp>\d+))?\s*"
    r"(?P<unit>[A-Za-zµμ]+)\s*(?:per|/)\s*(?P<per>kilogram|kg|square meter|m2|m\^2)"
    r"(?:\s+of\s+body\s+weight)?",
    re.I,
)
# amount units we recognise -> (display, UCUM)
_AMOUNT_UNITS = {"cells": ("cells", "{cells}"), "mg": ("mg", "mg"), "ug": ("µg", "ug"), "µg": ("µg", "ug")}
_PER = {"kilogram": ("kg", "kg"), "kg": ("kg", "kg"), "square meter": ("m2", "m2"), "m2": ("m2", "m2")}


@dataclass(frozen=True)
class StatedDose:
    text: str  # the source's words
    value: float
    unit: str | None  # e.g. "10^6 cells/kg"
    ucum: str | None  # e.g. "10*6{cells}/kg"
    label: str  # e.g. "0.25×10^6 cells/kg"
    unit_note: str | None  # set when a misspelt unit word was read as a known one


def _amount_unit(word: str) -> tuple[str, str, str | None] | None:
    key = word.lower()
    if key in _AMOUNT_UNITS:
        return (*_AMOUNT_UNITS[key], None)
    close = difflib.get_close_matches(key, list(_AMOUNT_UNITS), n=1, cutoff=0.8)
    if close:
        return (*_AMOUNT_UNITS[close[0]], f"unit word '{word}' read as '{close[0]}'")
    return None


def _stated(match: re.Match) -> StatedDose:
    value = float(match.group("value"))
    exp = match.group("exp")
    per = _PER.get(match.group("per").lower().replace("^", ""))
    amount = _amount_unit(match.group("unit"))
    scale_text, scale_ucum = (f"10^{exp} ", f"10*{exp}") if exp else ("", "")
    unit: str | None = None
    ucum: str | None = None
    note: str | None = None
    if amount and per:
        unit = f"{scale_text}{amount[0]}/{per[0]}"
        ucum = f"{scale_ucum}{amount[1]}/{per[1]}"
        note = amount[2]
    number = match.group("value")
    label = f"{number}×10^{exp} {amount[0]}/{per[0]}" if exp and amount and per else match.group(0).strip()
    if not exp and amount and per:
        label = f"{number} {unit}"
    return StatedDose(match.group(0).strip(), value, unit, ucum, label, note)


def find_dose_groups(text: str | None) -> list[StatedDose]:
    """Doses listed after a "dose groups/levels/cohorts" announcement, in the same sentence.

    Two or more doses are needed: one dose is a regimen, not a set of groups.
    """
    if not text:
        return []
    for announce in _ANNOUNCE.finditer(text):
        rest = text[announce.end() :]
        sentence = re.split(r"(?<=[a-z\d)])\.(?:\s|$)", rest, maxsplit=1)[0]
        doses = [_stated(m) for m in _DOSE.finditer(sentence)]
        if len(doses) >= 2:
            return doses
    return []
