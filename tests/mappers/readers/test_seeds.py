"""What the issue requires the reader to recover from each seed document."""

from tests.conftest import SEED_A


def codes(study):
    return {i.code for i in study.issues}


def test_seed_000_fields(seed_studies):
    s = seed_studies["000"]
    assert s.provenance.layout == "text-a"
    assert s.brief_title.startswith("Anti-CD22 Chimeric Antigen Receptor (CAR)-Modified T Cell Therapy")
    assert s.brief_summary.startswith("This is a single-center, open-label, single-arm study")
    assert s.conditions == ["B Cell Lymphoma", "Acute Lymphoblastic Leukemia"]
    assert [(i.type, i.name) for i in s.interventions] == [("GENETIC", "Third generation CAR-T cells")]
    primary, secondary = s.outcomes_of("primary"), s.outcomes_of("secondary")
    assert len(primary) == 1 and len(secondary) == 7
    assert all(o.measure and o.description and o.time_frame for o in s.outcomes)
    assert primary[0].measure == "Number of participants with adverse events"
    assert primary[0].description.endswith("(CTCAE, Version 4.0).")  # commas inside kept
    assert primary[0].time_frame == "3 years"
    assert secondary[0].time_frame == "1 month"
    assert "day 30 (±2)" in secondary[0].description and "Â" not in s.model_dump_json()
    paragraphs = s.detailed_description.split("\n\n")
    assert len(paragraphs) == 2 and paragraphs[1].startswith("This study aims")
    assert "text-repaired" in codes(s)


def test_seed_004_fields(seed_studies):
    s = seed_studies["004"]
    assert s.provenance.layout == "text-b"
    assert s.brief_title is None and "missing-title" in codes(s)
    assert s.brief_summary.startswith(
        "The purpose of this study is to evaluate the safety and efficacy of CAR T"
    )
    assert "0.25*10^6" in s.detailed_description and "\\" not in s.detailed_description
    d = s.design
    assert (d.study_type, d.allocation, d.primary_purpose, d.masking) == (
        "INTERVENTIONAL",
        "NA",
        "TREATMENT",
        "NONE",
    )
    assert s.enrollment.count == 14
    assert [a.dose.value for a in s.arms] == [0.25, 0.5, 1.0]
    assert {a.dose.ucum for a in s.arms} == {"10*6{cells}/kg"}
    assert "assumed-dose-group-arms" in codes(s) and "dose-unit-corrected" in codes(s)
    [intervention] = s.interventions
    assert intervention.description.startswith("Administration with anti-CD7 CAR-T cells in the relapsed")
    assert intervention.name is None and intervention.type is None
    assert [(x.city, x.country) for x in s.sites] == [("Shanghai", "China")]
    assert [p.name for p in s.officials] == ["Xianmin General Song"]
    assert len(s.outcomes) == 8 and all(o.time_frame for o in s.outcomes)
    assert s.outcomes[0].kind == "primary" and "assumed-outcome-kind" in codes(s)
    assert s.outcomes[0].time_frame == "28 days post infusion"
    assert "informational purposes" not in s.model_dump_json()
    assert "disclaimer-dropped" in codes(s)


def test_nothing_invented(seed_studies):
    for s in seed_studies.values():
        assert s.status.overall_status is None and s.sponsor is None and s.eligibility is None
        assert s.design.phases == []
    assert seed_studies["000"].design.study_type is None  # layout A does not carry the design


def test_same_bytes_same_study():
    from mappers.readers import read_document

    data = SEED_A.read_bytes()
    assert read_document(data, "a.txt") == read_document(data, "a.txt")
