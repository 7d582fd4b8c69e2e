"""The readers against 16 documents written from real records, each with the truth a reader
should recover (tests/fixtures/samples, copied from the project's shared material)."""

import json
import re
from pathlib import Path

import pytest

from mappers.readers import read_document

SAMPLES = Path(__file__).parents[2] / "fixtures" / "samples"
DOCS = sorted((SAMPLES / "docs").glob("*.txt"))
A_DOCS = [d for d in DOCS if d.stem.endswith("_A")]
B_DOCS = [d for d in DOCS if d.stem.endswith("_B")]


def _truth(doc: Path) -> dict:
    return json.loads((SAMPLES / "truth" / f"{doc.stem}.json").read_text())


def _flat(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _outcomes(outcomes) -> list[tuple]:
    return [(o["measure"], o["description"] or None, o["time_frame"] or None) for o in outcomes]


def _read(doc: Path):
    [study] = read_document(doc.read_bytes(), str(doc))
    return study, _truth(doc)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.stem)
def test_every_sample_is_read_in_its_layout(doc):
    study, truth = _read(doc)
    assert study.provenance.layout == {"A": "text-a", "B": "text-b"}[truth["layout"]]


@pytest.mark.parametrize("doc", A_DOCS, ids=lambda d: d.stem)
def test_layout_a_recovers_every_field_it_shows(doc):
    study, truth = _read(doc)
    t = truth["truth"]
    assert study.brief_title == t["title"]
    assert study.brief_summary == t["brief_summary"]
    assert study.detailed_description == (t["detailed_description"] or None)
    assert study.conditions == t["conditions"]
    assert [(i.type, i.name) for i in study.interventions] == [
        (i["type"], i["name"]) for i in t["interventions"]
    ]
    got = [(o.measure, o.description, o.time_frame) for o in study.outcomes_of("primary")]
    assert got == _outcomes(t["primary_outcomes"])
    got = [(o.measure, o.description, o.time_frame) for o in study.outcomes_of("secondary")]
    assert got == _outcomes(t["secondary_outcomes"])


@pytest.mark.parametrize("doc", B_DOCS, ids=lambda d: d.stem)
def test_layout_b_recovers_every_field_it_shows(doc):
    study, truth = _read(doc)
    t, shown = truth["truth"], truth["shown"]
    assert study.brief_title is None
    assert any(i.code == "missing-title" for i in study.issues)
    assert study.brief_summary == t["brief_summary"]
    assert _flat(study.detailed_description) == _flat(t["detailed_description"])
    design = study.design
    assert design.study_type == t["study_type"]
    assert (design.allocation or "") == t["allocation"]
    assert (design.primary_purpose or "") == t["primary_purpose"]
    assert (design.masking or "") == t["masking"]
    assert study.enrollment.count == t["enrollment"]
    assert [i.description for i in study.interventions] == shown["intervention_lines"]
    assert [p.name for p in study.officials] == ([shown["official"]] if shown["official"] else [])
    assert [[s.city, s.country] for s in study.sites] == shown["locations"]
    every = _outcomes(t["primary_outcomes"]) + _outcomes(t["secondary_outcomes"])
    assert [(o.measure, o.description, o.time_frame) for o in study.outcomes] == every
    if study.outcomes:
        assert [o.kind for o in study.outcomes] == ["primary"] + ["secondary"] * (len(study.outcomes) - 1)
        assert any(i.code == "assumed-outcome-kind" for i in study.issues)
