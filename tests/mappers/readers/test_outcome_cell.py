"""Outcome cells of the CSV-row shape (``measure, description, time frame``) split back into their
parts, measured on real ClinicalTrials.gov outcomes (``outcome_set``) and on the failure kinds
seen in real documents, written here as cells of our own."""

import json

import pytest

from mappers.model import OutcomeKind
from mappers.readers.fields import parse_outcomes, record_outcomes, untimed_record
from mappers.readers.outcome_cell import WEIGHTS_FILE, split_outcome, split_top_level
from tests.mappers.readers import outcome_set

# The README quotes the held-out figures; these are the floors they must not fall under
# (measured once, after the fit, and once more after records older than the time-frame field
# were read whole; the issue asks 98 %): the shared records' held-out part (98.7 % of time
# frames, 96.8 % of measures), the fresh held-out set taken before the features and prior were
# chosen (97.5 %, 95.6 %), and the third held-out set, taken after them (99.2 %, 97.0 %).
HELD_OUT_TIME_FRAMES = 0.983
HELD_OUT_MEASURES = 0.965
FRESH_TIME_FRAMES = 0.973
FRESH_MEASURES = 0.953
HELD_OUT_2_TIME_FRAMES = 0.989
HELD_OUT_2_MEASURES = 0.967


def test_the_evaluation_set_is_real_sized_and_split_by_record():
    triples = outcome_set.load()
    development, held_out = outcome_set.development(), outcome_set.held_out()
    extra = outcome_set.load(outcome_set.EXTRA_DEVELOPMENT)
    more = outcome_set.load(outcome_set.MORE_DEVELOPMENT)
    fresh, held_out_2 = outcome_set.fresh_held_out(), outcome_set.held_out_2()
    assert len(triples) > 1200 and len(held_out) > 500 and len(extra) > 400
    assert len(development) + len(held_out) == len(triples) + len(extra)
    assert not {t.nct for t in development} & {t.nct for t in held_out}  # a record is on one side
    assert {t.nct for t in development} >= outcome_set.SAMPLE_RECORDS & {t.nct for t in triples}
    assert len(fresh) > 10000 and len({t.nct for t in fresh}) > 2500
    assert len(held_out_2) > 1500 and len({t.nct for t in held_out_2}) > 250
    files = [triples, extra, fresh, more, held_out_2]
    for k, one in enumerate(files):  # no record in two files
        for other in files[k + 1 :]:
            assert not {t.nct for t in one} & {t.nct for t in other}
    assert all(outcome_set.in_held_out_2(t.nct) for t in held_out_2)
    assert not any(outcome_set.in_held_out_2(t.nct) for t in more)


def test_held_out_time_frames_and_measures(capsys):
    """The figures the README gives. Never tuned on: the features and weights were set on the
    development part; the fresh set's and the third set's misses are not read."""
    old, fresh, third = outcome_set.held_out(), outcome_set.fresh_held_out(), outcome_set.held_out_2()
    scores = {"held out": outcome_set.score(old), "fresh held out": outcome_set.score(fresh)}
    scores["held out 2"] = outcome_set.score(third)
    scores["the three held-out sets"] = outcome_set.score(old + fresh + third)
    with capsys.disabled():
        for name, score in scores.items():
            print(f"\noutcome cells, {name}: {score}", end="")
        print()
    old_score, fresh_score = scores["held out"], scores["fresh held out"]
    assert old_score.share(old_score.time_frames) >= HELD_OUT_TIME_FRAMES
    assert old_score.share(old_score.measures) >= HELD_OUT_MEASURES
    assert fresh_score.share(fresh_score.time_frames) >= FRESH_TIME_FRAMES
    assert fresh_score.share(fresh_score.measures) >= FRESH_MEASURES
    third_score = scores["held out 2"]
    assert third_score.share(third_score.time_frames) >= HELD_OUT_2_TIME_FRAMES
    assert third_score.share(third_score.measures) >= HELD_OUT_2_MEASURES


def test_development_time_frames_and_measures(capsys):
    """In sample (the weights were fitted on this part); the README also gives the figure
    cross-validated by record (``outcome_set --cv``), which is what chose the features."""
    score = outcome_set.score(outcome_set.development())
    with capsys.disabled():
        print(f"\noutcome cells, development (in sample): {score}")
    assert score.share(score.time_frames) >= 0.98 and score.share(score.measures) >= 0.98


def test_the_weights_were_fitted_on_the_development_part_as_it_is():
    """Weights fitted on another set (or on the held-out part) would make the figures lie."""
    fitted_on = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))["fitted_on"]
    development = outcome_set.development()
    assert fitted_on["cells"] == len(development)
    assert fitted_on["records"] == len({t.nct for t in development})


# The issue's cases, as the records hold them (NCT03475563, NCT01147250, NCT00939211,
# NCT01055574, NCT01042769); the last three are records of the held-out part, never tuned on.
ISSUE_CASES = [
    ("Angioplasty time", "Angioplasty time", "1 day"),
    (
        "Time to the first occurrence of the primary cardiovascular (CV) event: CV death, non-fatal MI, "
        "non-fatal stroke, hospitalization for unstable angina, positively adjudicated by the "
        "Cardiovascular Events Adjudication Committee (CAC)",
        None,
        "week 0 to week 203",
    ),
    (
        "Forced Expiratory Volume in One Second (FEV1), Peak Effect Within 0 - 24 Hours Post-dose",
        "Maximum FEV1 value",
        "0, 15 min, 30 min, 60 min, 2 h, 4 h, 6 h, 8 h, 10 h, 12 h, 14 h, 18 h, 22 h, 24 h",
    ),
    ("EQ-5D Health Questionnaire", None, "pre-op, at 6mo., and at 12mo."),
    ("Tolerability and long-term safety profile", None, "Throughout study, approximately 4.5 years"),
]


@pytest.mark.parametrize("triple", ISSUE_CASES, ids=lambda t: t[0][:30])
def test_the_issue_cases(triple):
    assert parts(", ".join(p for p in triple if p)) == triple


def parts(cell: str) -> tuple:
    got = split_outcome(cell)
    return got.measure, got.description, got.time_frame


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        # the measure repeated as the description
        (
            "Time to discharge, Time to discharge, 7 days",
            ("Time to discharge", "Time to discharge", "7 days"),
        ),
        # measures holding commas: a list after a colon, a Title-Case heading
        (
            "Composite of major events: death, stroke, myocardial infarction, or bleeding, Through week 52",
            (
                "Composite of major events: death, stroke, myocardial infarction, or bleeding",
                None,
                "Through week 52",
            ),
        ),
        (
            "Antibody Titers Against Serotypes 1, 3, 5 and 7, Titers measured by ELISA., Day 28",
            ("Antibody Titers Against Serotypes 1, 3, 5 and 7", "Titers measured by ELISA.", "Day 28"),
        ),
        # time frames holding commas
        (
            "Plasma glucose, Glucose measured with a glucometer., 0, 30 min, 60 min, 90 min, 120 min",
            ("Plasma glucose", "Glucose measured with a glucometer.", "0, 30 min, 60 min, 90 min, 120 min"),
        ),
        (
            "Knee range of motion, Measured with a goniometer, before surgery, at 3mo., and at 9mo.",
            ("Knee range of motion", "Measured with a goniometer", "before surgery, at 3mo., and at 9mo."),
        ),
        (
            "Overall survival, Until death from any cause, approximately 6 years",
            ("Overall survival", None, "Until death from any cause, approximately 6 years"),
        ),
        (
            "Serum ferritin, Baseline, Week 12, Week 24",
            ("Serum ferritin", None, "Baseline, Week 12, Week 24"),
        ),
        # a description whose last clause reads like a time, closed by a full stop
        (
            "Pain score, Pain on a 0-10 scale, recorded at rest and after 2 hours., 24 hours",
            ("Pain score", "Pain on a 0-10 scale, recorded at rest and after 2 hours.", "24 hours"),
        ),
        # the registry's own time-frame templates
        (
            "Adverse events, Number of AEs., through study completion, an average of 1 year",
            ("Adverse events", "Number of AEs.", "through study completion, an average of 1 year"),
        ),
        (
            "Length of stay, Number of days in hospital., participants will be followed for the duration "
            "of hospital stay, an expected average of 5 weeks",
            (
                "Length of stay",
                "Number of days in hospital.",
                "participants will be followed for the duration of hospital stay, "
                "an expected average of 5 weeks",
            ),
        ),
        # no description; a bare unit is a heading, not a time frame
        ("Number of falls, 12 months", ("Number of falls", None, "12 months")),
        ("Viral clearance, Days, Day 7", ("Viral clearance", "Days", "Day 7")),
        # a single piece is a measure; an unclosed bracket does not swallow the time frame
        ("Adverse events", ("Adverse events", None, None)),
        (
            "Pain, Rated on a scale (0=none, 10=worst, Week 4",
            ("Pain", "Rated on a scale (0=none, 10=worst", "Week 4"),
        ),
    ],
)
def test_failure_kinds(cell, expected):
    assert parts(cell) == expected


KNOWN_MISS = "a short description holding a time word ('Days in hospital') joins the time frame"


@pytest.mark.xfail(strict=True, reason=KNOWN_MISS)
def test_a_short_description_that_holds_a_time():
    cell = (
        "Length of stay, Days in hospital, participants will be followed for the duration of "
        "hospital stay, an expected average of 5 weeks"
    )
    assert parts(cell)[1] == "Days in hospital"


def test_split_top_level_brackets():
    assert split_top_level("a (b, c), d") == ["a (b, c)", "d"]
    assert split_top_level("a (b, c, d") == ["a (b", "c", "d"]  # never closed: plain text
    assert split_top_level("a) b, c") == ["a) b", "c"]  # never opened
    assert split_top_level("x [1, (2, 3)], y") == ["x [1, (2, 3)]", "y"]


def test_parse_outcomes_reads_every_item_of_a_list():
    cell = "Angina, Chest pain episodes, 6 months|Blood pressure, 12 weeks"
    got = [(o.kind, o.measure, o.description, o.time_frame) for o in parse_outcomes(cell, "secondary")]
    assert got == [
        ("secondary", "Angina", "Chest pain episodes", "6 months"),
        ("secondary", "Blood pressure", None, "12 weeks"),
    ]


def test_a_record_registered_before_time_frames_keeps_each_outcome_whole():
    """One outcome of one piece (a measure alone) marks a registration older than the 2007
    time-frame field: the record's other outcomes are one text each too, their commas the
    measure's own (the split read "Safety, tolerability" as a measure and a description)."""
    old: list[tuple[str, OutcomeKind]] = [
        ("Safety, tolerability, and pharmacokinetics of two doses", "primary"),
        ("Response rate", "secondary"),
    ]
    got = [(o.kind, o.measure, o.description, o.time_frame) for o in record_outcomes(old)]
    assert got == [
        ("primary", "Safety, tolerability, and pharmacokinetics of two doses", None, None),
        ("secondary", "Response rate", None, None),
    ]
    # every outcome with a time frame: each is split as before, whatever the other kinds hold
    timed: list[tuple[str, OutcomeKind]] = [
        ("Angina, Chest pain episodes, 6 months", "primary"),
        ("Blood pressure, 12 weeks", "secondary"),
    ]
    assert [(o.measure, o.description, o.time_frame) for o in record_outcomes(timed)] == [
        ("Angina", "Chest pain episodes", "6 months"),
        ("Blood pressure", None, "12 weeks"),
    ]
    assert not untimed_record(["Angina, 6 months|Blood pressure, 12 weeks"])
    assert untimed_record(["Angina, 6 months", "Overall survival (OS, by RECIST)"])  # commas in brackets
