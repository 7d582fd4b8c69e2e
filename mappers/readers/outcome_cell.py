"""Splitting an outcome cell of the CSV-row shape: ``measure, description, time frame``.

ClinicalTrials.gov's CSV export (and seed layout A, one of its rows written a field a line) joins
an outcome's measure, description and time frame with ``, `` and escapes nothing, although each
part may hold commas itself, and the description may be absent (``measure, time frame``). No rule
on the commas alone can undo that, so the split is a *scored segmentation*: the cell is cut on
the commas outside brackets into pieces, every way of grouping the pieces into a measure (at least
the first piece), a description (possibly none) and a time frame (the last pieces) is scored by
how much each part reads like its kind, and the best-scoring grouping wins.

- A **time frame** opens like one ("Up to 5 years", "Baseline", "Week 12", "From randomization
  …", "12 months", "pre-op") and every further piece continues one (a number, a time unit or a
  point in a study's course: "15 min", "and at 12mo.", "approximately 4.5 years"). Time frames
  are short and rarely hold a sentence.
- A **description** opens like a sentence (a capital), often ends with a full stop, and is
  absent in about a quarter of the registry's outcomes; registrants often repeat the measure
  there ("Angioplasty time, Angioplasty time, 1 day").
- A **measure** continues past its first piece only with pieces that read as more of the same
  heading: lower-case list items ("CV death, non-fatal MI, non-fatal stroke", closed by "... or
  stroke"), acronyms ("CR, PR, IR"; "..., GIMS" naming the heading again), its unit ("...,
  L/min") or, for a Title-Case measure, more Title Case (read outside brackets).
- Registrants **repeat** themselves: the measure again as the description, a time frame that
  repeats the pieces before it, a description that is the time frame again; where the
  measure's first piece comes back, the measure has ended.
- A piece ending in a full stop ends a sentence: a description ends there far more often than a
  time frame or a measure continues past it.

Besides these named features of the parts (``FEATURES``), each piece's shape (how it opens, what
it holds, how it ends, its first words and its last) is weighed by its role in the grouping (the
first, a further or the last piece of the measure, the description or the time frame), and each
comma by how the piece before it ends and the piece after it opens, against the parts it lies
between: a linear-chain model over the pieces. All the weights are those of a log-linear model
(the probability of a grouping is proportional to the exponential of its score) fitted on the
development part of the evaluation set in ``tests/mappers/readers/outcome_set.py`` (real
triples from ClinicalTrials.gov records) and read from ``WEIGHTS_FILE``; the held-out part
measures them (the README gives the figures). The split returns the cell's own text: parts are
slices of it, never re-joined pieces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, pairwise
from pathlib import Path


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# What holds a time: a number with a unit ("12 months", "30 min", "4.5 years", "12months",
# "Day14", "D28"), a point in a study's course ("baseline", "follow-up", "discharge"), a year.
# Read from the piece's lower-case tokens (letters or digits; hyphens split "pre-op"), which
# is several times faster than one regular expression of every spelling.
_UNITS = _word_set(
    "s sec secs second seconds min mins minute minutes h hr hrs hour hours d day days night nights "
    "wk wks week weeks mo mos month months y yr yrs year years cycle cycles visit visits session "
    "sessions dose doses course courses fraction fractions timepoint timepoints"
)
_NUMBER_WORDS = _word_set(
    "one two three four five six seven eight nine ten eleven twelve fifteen eighteen twenty thirty "
    "sixty ninety half"
)
_TIME_TOKENS = _word_set(
    "baseline screening followup enrollment enrolment randomization randomisation registration "
    "admission discharge surgery operation postop preop postoperative postoperatively preoperative "
    "preoperatively intraoperative intraoperatively infusion injection vaccination dosing predose "
    "postdose pretreatment posttreatment preintervention postintervention completion termination "
    "withdrawal onset daily weekly monthly quarterly annual annually yearly throughout continuous "
    "continuously ongoing period season timepoint timepoints trough prebaseline week weeks day days "
    "month months year years hour hours minute minutes visit visits cycle cycles date dates "
    "postpartum antepartum prenatal antenatal postnatal perioperative perioperatively"
)
_TIME_PAIRS = frozenset(
    [("end", "of"), ("start", "of"), ("follow", "up"), ("intra", "operative")]
    + [(a, b) for a in ("pre", "post") for b in ("op", "operative", "dose", "treatment", "intervention")]
    + [("pre", "baseline")]
    + [(a, b) for a in ("first", "last", "final", "each", "every") for b in ("dose", "infusion", "injection")]
)
_MONTHS = _word_set("jan feb mar apr jun jul aug sep sept oct nov dec")
_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
_STAGE_MARK = _word_set("d w m v t")  # "D28", "W12", "V3", "T0"


def _holds_time(text: str) -> bool:
    tokens = _TOKEN.findall(text.lower())
    if not _TIME_TOKENS.isdisjoint(tokens):
        return True
    for a, b in pairwise(tokens):
        number = a[0].isdigit() or a in _NUMBER_WORDS
        if (number and b in _UNITS) or (a, b) in _TIME_PAIRS:
            return True
        if b[0].isdigit() and (a in _STAGE_MARK or a in _MONTHS):
            return True
    return any(len(t) == 4 and t[:2] in ("19", "20") and t.isdigit() for t in tokens)


_UNIT = "(?:" + "|".join(sorted(_UNITS, key=len, reverse=True)) + ")"
_NUMBER = r"(?:\d+(?:[.,]\d+)?(?:\s*(?:-|–|to)\s*\d+(?:\.\d+)?)?|" + "|".join(sorted(_NUMBER_WORDS)) + ")"
_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# How a time frame opens.
_TIME_OPENER = re.compile(
    r"^(?:up ?to|upto|through(?:out)?|thru|baseline|prior to|end of|start of|the (?:first|last|end|"
    r"start|duration)|(?:the )?(?:entire|whole|total) (?:study|trial|treatment|follow|duration|"
    r"period|course|hospital|stay|participation|intervention)|immediately|immediate|"
    r"continuous(?:ly)?|approximately|approx\.?|about|around|estimated|time of|"
    r"(?:evaluated|assessed|measured|collected|recorded|performed|obtained|done|conducted)"
    r" (?:at|up|from|through|during|after|before|on|in|every|over|until|daily|weekly|for)|"
    r"(?:participants|patients|subjects) (?:will be |were |are )?(?:followed|assessed|evaluated|"
    r"seen|monitored)|duration of (?:the )?(?:hospital|stay|study|follow)|"
    r"(?:day|days|week|weeks|wk|month|months|year|years|hour|hours|minute|minutes|cycle|cycles|"
    rf"visit|visits)\s*[-–]?\s*(?:\d+(?:[A-Za-z]+\d+)*|{_NUMBER}\b)|screening|randomi[sz]ation|enrol?l?ment|admission|discharge|surgery|"
    r"follow[- ]?up|pre-?baseline|pre-?treatment|post-?treatment|pre-?intervention|"
    r"post-?intervention|pre-?op|post-?op|pre-?dose|post-?dose|predose|postdose|trough|daily|"
    r"weekly|monthly|annually|yearly|quarterly|ongoing|once|twice|"
    rf"{_MONTH_NAME}|(?:19|20)\d\d|[DWMVT]\d+|{_NUMBER}\s*-?\s*{_UNIT}|\d)(?![A-Za-z])",
    re.IGNORECASE,
)
# Prepositions that open a time frame only with a time in the piece ("at baseline", "by week 4";
# "by cancer type" is not one).
_TIME_PREPOSITION = re.compile(
    r"^(?:from|between|pre|post|before|after|during|until|till|within|at|on|by|over|every|each)\b",
    re.IGNORECASE,
)
# A change measured between two times: "Change from baseline to week 12" reads as a time frame
# only when a time is in it.
_CHANGE = re.compile(r"^change (?:from|in|between)\b", re.IGNORECASE)
# Pieces that only continue a list: "4 and 16.", "0", "±3 days" is a time piece already.
_NUMBERS = r"[\d.,;:%\-–x×±~ ]+"
_BARE_NUMBERS = re.compile(rf"^(?:(?:and|or|to|&) )?{_NUMBERS}(?: (?:and|or|to|&) {_NUMBERS})*\.?$", re.I)
_NUMBER_LIST = re.compile(r"^\d+(?:\.\d+)?\s*(?:and|or|to|-|–|&|,|;|$)", re.IGNORECASE)
# A time unit alone ("Days") is a heading, not a time frame.
_BARE_UNIT = re.compile(rf"^{_UNIT}$", re.IGNORECASE)
# Pieces that go on with the clause before them ("which ever occurs first", "whichever is later").
_CLAUSE = re.compile(r"^(?:which|whichever|whatever|that|if|unless|as|including|e\.g\.|i\.e\.)\b", re.I)
# Events a time frame runs until ("Until death from any cause", "until disease progression").
_EVENT = re.compile(r"\b(?:death|progression|relapse|recurrence|discharge|delivery|birth)\b", re.IGNORECASE)
# The end of a piece that starts a list: "...event: CV death", "... including frequency",
# "Comparison of frequency" (a short item after a colon, "including", "such as", "of", "e.g.").
_LIST_HEAD = re.compile(r"(?::|\bincluding|\bsuch as|\be\.g\.|\bof|\bfor)\s+(?:\S+\s+){0,2}\S+$")
# How a measure opens; a time frame does not ("Proportion of deaths at days 7, 14 and 28").
_MEASURE_OPEN = re.compile(
    r"^(?:the )?(?:number|proportion|percentage|percent|rate|incidence|prevalence|frequency|"
    r"change|changes|mean|median|level|levels|score|concentration|amount|total number|severity|"
    r"occurrence|assessment|evaluation|measurement|comparison|analysis|analyses)\b",
    re.IGNORECASE,
)
_CONJUNCTION = re.compile(r"^(?:and|or|&|then|as well as|but|plus|with)\b", re.IGNORECASE)
# Words of a sentence rather than a heading or a time.
_VERB = re.compile(
    r"\b(?:is|are|was|were|will|be|been|being|has|have|had|defined|calculated|determined|used|"
    r"using|reported|scored|consists?|includes?|indicates?|means?|refers?|occurs?|receives?|"
    r"that|which|who|whom|whose)\b"
)  # lower case only: "Mean" in a Title-Case heading is not a verb; relative pronouns open clauses
_ABBREVIATION_END = re.compile(
    r"(?:\b(?:approx|e\.g|i\.e|etc|vs|wk|wks|mo|mos|yr|yrs|hr|hrs|min|mins|sec|no|st|dr|fig|incl|"
    r"max|min|ca|resp|[A-Z])|\d(?:mo|wk|yr|h|d|m|min)|[A-Z]{2,})\.$"
)

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# Bracketed asides ("(Blood glucose <3.9 mmol/L)") say nothing of a heading's case.
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
# An acronym: "MI", "CR", "IL-10", "FEV1", "HbA1c" is not one (lower case inside).
_ACRONYM_TOKEN = re.compile(r"[A-Z][A-Z0-9\-]*[A-Z0-9]")
# A unit of measurement alone ("L/min", "(mg/dl)", "pg/ml", "mmHg", "%"): what the measure is in.
_UNIT_OF_MEASURE = re.compile(
    r"^\(?(?:[A-Za-zµμ%]{1,8}(?:/[A-Za-zµμ0-9²³\.]{1,8})+|mmHg|cmH2O|%|percent(?:age)?|kg|g|mg|mcg|"
    r"ng|pg|ml|mL|L|cm|mm|m|bpm|points?|units?|IU|U|seconds|ms|°C|Hz|dB)\)?\.?$"
)
# "and"/"or" among a piece's first words (not opening it): the piece closes a list
# ("eczematous or bullous disease", "MI or stroke", "total cholesterol and triglycerides").
_LIST_CLOSE = re.compile(r"^\S+(?:\s+\S+){0,2}\s+(?:and|or|and/or|&)\s", re.IGNORECASE)
# Words an acronym's letters skip ("Behavior Rating Inventory of Executive Function": BRIEF).
_ACRONYM_SKIP = _word_set("of and the for in on to with a an by at")
_CONTENT_WORD = re.compile(r"[A-Za-z][\w'\-]{2,}")
_ACRONYM = re.compile(r"[A-Z0-9\-]{2,8}")
_ENDS_NUMBER = re.compile(r"\d\)?$")
_DIGIT = re.compile(r"\d")

# The named features of a grouping's parts and what each says (the fit starts from these; the
# pieces' properties per role and the commas' joins per pair of parts are named by
# ``_shape_props`` and ``_Cell.joins``). Sizes and counts ("t_words:4", "d_pieces:2") are named
# by value.
FEATURES: dict[str, str] = {
    # the time frame: how it opens ...
    "t_opener": "'Up to 5 years', 'Baseline', '12 weeks', 'From randomization ...'",
    "t_change": "'Change from baseline to week 12'",
    "t_weak_opener": "'Until death', 'During the study': a preposition but no time",
    "t_time_word": "no opener, but a time in it ('Entire study participation ...')",
    "t_foreign_open": "nothing of a time in its first piece",
    "t_bare_open": "numbers only ('0, 15 min, ...')",
    "t_bare_after_number": "'4 and 16' right after 'at week 2': a list, not a start",
    "t_conjunction_open": "'and ...', 'or ...'",
    "t_measure_open": "'Proportion of deaths at day 28' is a description",
    "t_echoed": "the piece before ends in it ('... at days 7, 14 and 28, Days 7, 14 and 28')",
    "t_lower_open": "opens with a lower-case letter",
    "t_repeats_tail": "repeats the pieces before it ('... at 1, 2, 6 months, 1, 2, 6 months')",
    # ... how it goes on ...
    "t_continuation": "each further piece that continues a time",
    "t_foreign": "each further piece with nothing of a time ...",
    "t_clause": "... unless it goes on with a clause ('which ever occurs first')",
    "t_sentence_inside": "a sentence ends inside it",
    "t_long": "per word past 12",
    "t_verbs": "per sentence verb",
    "t_over_255": "longer than the registry's 255 characters (its limit since 2017)",
    # ... and what stands before it
    "t_after_sentence": "the part before it ends with a full stop",
    "t_absent": "the registry requires one; old records may lack it",
    # the description
    "d_absent": "a quarter of outcomes have none",
    "d_lower_open": "opens with a lower-case letter (a description opens with a capital ...)",
    "d_lower_open_after_title": "... all the more after a Title-Case measure",
    "d_bare_open": "... not with a bare number",
    "d_sentence_open": "... and like a sentence",
    "d_list_open": "opens with two short lower-case items: a list, the measure's",
    "d_continues_open": "'with ...', 'including ...': goes on with the measure",
    "d_lower_clause": "a lower-case opening with a verb is a sentence all the same",
    "d_overlap": "its opening repeats a word of the measure ('Change in d-dimer, plasma d-dimer ...')",
    "d_title": "a Title-Case 'description' after a Title-Case measure continues it",
    "d_echoes_measure": "opens with the measure's first piece ...",
    "d_repeats_measure": "... or is the measure again ('Angioplasty time, Angioplasty time, 1 day')",
    "d_same_word": "opens with the measure's first word ('Time to ...')",
    "d_opener_open": "opens like a time frame",
    "d_all_openers": "time openers only: part of the time frame",
    "d_bare_end": "ends in a bare number piece",
    "d_time_end": "ends in a piece that opens like a time frame",
    "d_items_only": "two or more short lower-case items and nothing else: a list",
    "d_short": "one or two words",
    "d_verbs": "per sentence verb (up to three)",
    "d_over_999": "longer than the registry's 999 characters",
    "d_echo_inside": "a later piece of it is the measure's first again: the measure runs to there",
    "d_late_sentence": "a later piece opens a sentence, its first does not: it starts there",
    "d_is_time_frame": "the time frame again ('..., from Day 1 to Day 42, From Day 1 to Day 42')",
    # the measure's pieces after its first
    "m_list_item": "short lower-case list items ('CV death, non-fatal MI, ...')",
    "m_list_after_head": "... after a first piece ending in a list's first item",
    "m_lower": "other lower-case pieces",
    "m_title": "Title Case after a Title-Case first piece",
    "m_bare": "bare numbers ('Weeks 2, 4, 8, and 12')",
    "m_bare_after_number": "... right after a piece ending in a number",
    "m_other": "anything else: most likely the description",
    "m_sentence_inside": "a sentence ends inside the measure",
    "m_verbs": "per sentence verb in a continuation",
    "m_and_close": "its last piece closes a list ('..., vital signs, and ECG')",
    "m_over_255": "longer than the registry's 255 characters",
    "m_echo_inside": "repeats its first piece",
}
# The fitted weights (log-odds) of every feature: data written by
# ``python -m tests.mappers.readers.outcome_set --fit`` (development part only), read by the split.
WEIGHTS_FILE = Path(__file__).with_name("outcome_cell_weights.json")
_MAX_MEASURE_PIECES = 16
_MAX_TIME_PIECES = 24


def split_top_level(text: str, sep: str = ", ") -> list[str]:
    """Split on ``sep`` outside (), [] and {}. A bracket that is never closed (or never opened)
    is text, so it does not swallow the rest: "(1=none, 2=mild, ..., Week 12" still splits."""
    return [text[start:end] for start, end in _spans(text, sep)]


def _spans(text: str, sep: str = ", ") -> list[tuple[int, int]]:
    """Where ``split_top_level``'s parts lie in ``text``.

    Jumps from bracket to separator with one regex instead of walking every character: CSV
    exports hold thousands of outcome cells, and this split is most of their parsing."""
    tokens = list(re.finditer(r"[(\[{)\]}]|" + re.escape(sep), text))
    paired: set[int] = set()
    stack: list[int] = []
    for index, match in enumerate(tokens):
        token = match.group()
        if token in ("(", "[", "{"):
            stack.append(index)
        elif token in (")", "]", "}") and stack:
            paired.update((stack.pop(), index))
    spans, depth, start = [], 0, 0
    for index, match in enumerate(tokens):
        token = match.group()
        if index in paired:
            depth += 1 if token in ("(", "[", "{") else -1
        elif token == sep and depth == 0 and match.start() >= start:
            spans.append((start, match.start()))
            start = match.end()
    spans.append((start, len(text)))
    return spans


@dataclass(frozen=True)
class OutcomeParts:
    measure: str
    description: str | None
    time_frame: str | None


def _title_case(text: str, long_words: list[str]) -> bool:
    """Title Case: most long words capitalised; a piece without long words ("C", "W-135 and Y")
    by its first character."""
    if not long_words:
        return text[:1].isupper()
    return sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.7


def _sentence_case(text: str, long_words: list[str]) -> bool:
    """Opens like a sentence: a capital, then (in its first words) mostly lower case."""
    rest = long_words[1:12]
    if not text[:1].isupper() or not rest:
        return False
    return sum(w[0].isupper() for w in rest) <= len(rest) * 0.3


@dataclass(slots=True)
class _Piece:
    """What one comma-separated piece of a cell looks like (cached by text: treat as frozen)."""

    text: str
    words: int
    lower: bool  # opens with a lower-case letter
    title: bool  # a Title-Case heading without sentence verbs
    sentence: bool  # opens like a sentence: a capital, then mostly lower-case words
    sentence_end: bool  # ends with a full stop that is not an abbreviation's
    bare: bool  # numbers only ("4 and 16", "0")
    ends_number: bool
    numeric_start: bool  # "18 and 24 after treatment start": goes on with a list of times
    conjunction: bool
    clause: bool  # goes on with the clause before it
    time_word: bool  # holds a time ("12 weeks", "baseline", "Day14", "2009")
    opener: bool  # opens like a time frame
    weak_opener: bool  # opens with a preposition of time but holds no time ("until death")
    opens_list: bool  # ends with a list's first item ("event: CV death", "including frequency")
    change: bool  # "Change from baseline to week 12"
    measure_open: bool  # opens like a measure ("Proportion of ...", "Number of ...")
    verbs: int
    first_word: str
    content: frozenset[str]  # its first words of three letters or more, lower-cased
    list_item: bool  # a short lower-case item of a list ("non-fatal MI", "vital signs", "ECG")
    props: tuple[str, ...] = ()  # what it is, as feature names (weighed per role in the grouping)
    starts: tuple[str, ...] = ()  # how it opens, weighed against how the piece before it ends
    ends: tuple[str, ...] = ()


_SIZES = ((1, "1"), (2, "2"), (4, "4"), (8, "8"), (16, "16"), (32, "32"))


def _size(words: int) -> str:
    """A count of words in a few classes: 1, 2, 3-4, 5-8, 9-16, 17-32, more."""
    return next((name for most, name in _SIZES if words <= most), "more")


def _shape_props(p: _Piece, head: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The piece's properties as feature names: how it opens, what it holds, how it ends."""
    text = p.text
    first = text[:1]
    shape = (
        "bare"
        if p.bare
        else "digit"
        if first.isdigit()
        else "lower"
        if p.lower
        else "upper"
        if first.isupper()
        else "bracket"
        if first in "([{"
        else "quote"
        if first in "\"'“‘"
        else "sym"
    )
    starts = [shape]
    tokens = text.split()
    if tokens and _ACRONYM_TOKEN.fullmatch(tokens[0].strip("()[],;:.")):
        starts.append("acronym")
    for name, on in (
        ("conj", p.conjunction),
        ("clause", p.clause),
        ("opener", p.opener),
        ("weak", p.weak_opener),
        ("title", p.title),
        ("sentence", p.sentence),
    ):
        if on:
            starts.append(name)
    last = _TOKEN.findall(text[-20:].lower())
    ends = [
        "stop"
        if p.sentence_end
        else "abbr"
        if text.endswith(".")
        else "num"
        if p.ends_number
        else "close"
        if text.endswith((")", "]"))
        else "unit"
        if last and last[-1] in _UNITS
        else "word"
    ]
    if p.title:
        ends.append("title")
    if tokens and _ACRONYM_TOKEN.fullmatch(tokens[-1].strip("()[],;:.")):
        ends.append("acronym")
    if p.words <= 2:
        ends.append("short")  # "Incidence, nature, and severity": a short piece opens a list
    content = [f"w{_size(p.words)}"]
    for name, on in (
        ("time", p.time_word),
        ("change", p.change),
        ("mopen", p.measure_open),
        ("verb", p.verbs > 0),
        ("verbs", p.verbs > 2),
        ("title", p.title),
        ("sentence", p.sentence),
        ("item", p.list_item),
        ("event", bool(_EVENT.search(head))),
        ("list_head", p.opens_list),
        ("digit", bool(_DIGIT.search(head))),
        ("unit", bool(_UNIT_OF_MEASURE.match(text))),
        ("list_close", bool(_LIST_CLOSE.match(head))),
    ):
        if on:
            content.append(name)
    first_token = _TOKEN.findall(head[:40].lower())[:2]
    lexical = [f"w:{'#' if t[0].isdigit() else t}" for t in first_token[:1]]
    lexical += (
        [f"ww:{' '.join('#' if t[0].isdigit() else t for t in first_token)}"] if len(first_token) == 2 else []
    )
    if last:
        lexical.append(f"l:{'#' if last[-1][0].isdigit() else last[-1]}")
    props = tuple(
        [f"s:{x}" for x in starts] + [f"c:{x}" for x in content] + [f"e:{x}" for x in ends] + lexical
    )
    return props, tuple(starts), tuple(ends)


def _abbreviates(before: str, text: str) -> tuple[str, ...]:
    """``("acronym_of",)`` when ``text`` is an acronym of words ending ``before`` ("Gender
    Identity Microaggression Scale, GIMS"): the same heading named twice."""
    letters = text.strip("()[]., ")
    if not 2 <= len(letters) <= 8 or not _ACRONYM_TOKEN.fullmatch(letters):
        return ()
    initials = "".join(w[0] for w in _WORD.findall(before) if w.lower() not in _ACRONYM_SKIP).upper()
    wanted = "".join(c for c in letters if c.isalpha())
    return ("acronym_of",) if len(wanted) >= 2 and wanted in initials else ()


@lru_cache(maxsize=8192)
def _piece(text: str) -> _Piece:
    words = text.split()
    head = text[:300]  # what a piece is opens it: a long description piece is not searched whole
    long_words = [w for w in _WORD.findall(head) if len(w) > 3]
    # a heading's case is read outside its brackets; a piece that is all brackets, within them
    plain = (
        [w for w in _WORD.findall(_BRACKETED.sub(" ", head)) if len(w) > 3]
        if "(" in head or "[" in head
        else long_words
    )
    time_word = _holds_time(head)
    bare = bool(_BARE_NUMBERS.match(text))
    verbs = len(_VERB.findall(text))
    lower = text[:1].islower()
    piece = _Piece(
        text=text,
        words=len(words),
        lower=lower,
        title=len(words) <= 30 and not verbs and _title_case(text, plain or long_words),
        sentence=len(words) >= 4 and _sentence_case(text, long_words),
        sentence_end=text.endswith(".") and not _ABBREVIATION_END.search(text[-12:]),
        bare=bare,
        ends_number=bool(_ENDS_NUMBER.search(text[-4:])),
        numeric_start=bool(_NUMBER_LIST.match(text)),
        conjunction=bool(_CONJUNCTION.match(text)),
        time_word=time_word,
        # a digit opens a time frame only as a time ("12 weeks") or a list of them ("0", "3, 6")
        opener=(
            bool(_TIME_OPENER.match(text))
            and (time_word or bare or not text[:1].isdigit())
            and not _BARE_UNIT.match(text)
        )
        or (bool(_TIME_PREPOSITION.match(text)) and (time_word or bool(_EVENT.search(head)))),
        weak_opener=not time_word and bool(_TIME_PREPOSITION.match(text)) and not _EVENT.search(head),
        opens_list=bool(_LIST_HEAD.search(text[-60:])),
        clause=bool(_CLAUSE.match(text)),
        change=bool(_CHANGE.match(text)) and time_word and bool(_DIGIT.search(head)),
        measure_open=bool(_MEASURE_OPEN.match(text)) and not _CHANGE.match(text),
        verbs=verbs,
        first_word=words[0].lower() if words else "",
        content=frozenset(w.lower() for w in _CONTENT_WORD.findall(head)) - _STOP_WORDS,
        list_item=(lower or bool(_ACRONYM.fullmatch(text))) and len(words) <= 4 and not verbs,
    )
    piece.props, piece.starts, piece.ends = _shape_props(piece, head)
    return piece


# words too common in outcomes to say that a description repeats its measure
_STOP_WORDS = frozenset(
    {
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "than",
        "into",
        "over",
        "per",
        "are",
        "was",
        "were",
        "will",
        "who",
        "which",
        "its",
        "their",
        "change",
        "changes",
        "number",
        "percentage",
        "proportion",
        "rate",
        "time",
    }
)
Features = dict[str, float]


def _add(features: Features, name: str, value: float = 1.0) -> None:
    if value:
        features[name] = features.get(name, 0.0) + value


class _Cell:
    """One cell cut into pieces, with running totals so that any part's features cost O(1)."""

    def __init__(self, cell: str):
        self.cell = cell
        self.spans = [(a, b) for a, b in _spans(cell) if cell[a:b].strip()]
        self.texts = [cell[a:b].strip() for a, b in self.spans]
        self.pieces = [_piece(t) for t in self.texts]
        self.n = len(self.pieces)

        def running(values) -> list[int]:
            return [0, *accumulate(values)]

        self._words = running(p.words for p in self.pieces)
        self._verbs = running(p.verbs for p in self.pieces)
        self._sentence_ends = running(p.sentence_end for p in self.pieces)
        self._not_openers = running(not p.opener for p in self.pieces)
        self._not_items = running(not (p.list_item and p.words <= 3) for p in self.pieces)
        self._not_titles = running(not (p.title or p.bare) for p in self.pieces)
        self._sentences = running(p.sentence for p in self.pieces)
        # later pieces that repeat the first: where a repeated measure starts again
        self._echoes = running(k > 0 and t == self.texts[0] for k, t in enumerate(self.texts))
        self._lower = [t.lower() for t in self.texts]
        goes_on = [p.time_word or p.bare or p.opener or p.numeric_start for p in self.pieces]
        self._time_pieces = running(goes_on)
        self._clauses = running(p.clause and not on for p, on in zip(self.pieces, goes_on, strict=True))
        # how each comma joins its pieces: the end of the piece before it against the opening of
        # the piece after it (none before the first piece)
        self.joins: list[tuple[str, ...]] = [()] + [
            tuple(f"{end}>{start}" for end in a.ends for start in b.starts) + _abbreviates(a.text, b.text)
            for a, b in pairwise(self.pieces)
        ]

    @staticmethod
    def _between(totals: list[int], start: int, end: int) -> int:
        return totals[end] - totals[start]

    def _chars(self, start: int, end: int) -> int:
        """How long pieces ``[start:end]`` are in the cell."""
        return self.spans[end - 1][1] - self.spans[start][0]

    def text(self, start: int, end: int) -> str:
        """Pieces ``[start:end]`` as the cell writes them (its own spaces and commas kept)."""
        if start >= end:
            return ""
        return self.cell[self.spans[start][0] : self.spans[end - 1][1]].strip()

    def time_frame(self, j: int) -> Features:
        """The time frame ``[j:]`` (none when ``j == n``), given what precedes it."""
        f: Features = {}
        pieces, n = self.pieces, self.n
        if j == n:
            _add(f, "t_absent")
            return f
        first = pieces[j]
        if first.conjunction:
            _add(f, "t_conjunction_open")
        elif first.bare:
            _add(f, "t_bare_open")
        elif first.change:
            _add(f, "t_change")
        elif first.opener:
            _add(f, "t_opener")
        elif first.weak_opener:
            _add(f, "t_weak_opener")
        elif first.time_word:
            _add(f, "t_time_word")
        else:
            _add(f, "t_foreign_open")
        if first.bare and pieces[j - 1].ends_number:
            _add(f, "t_bare_after_number")
        _add(f, "t_lower_open", first.lower)
        _add(f, "t_measure_open", first.measure_open)
        before = self.texts[j - 1].lower()
        _add(f, "t_echoed", len(before) > len(self.texts[j]) and before.endswith(self.texts[j].lower()))
        _add(f, "t_repeats_tail", self._repeats_tail(j))
        more = n - j - 1
        timely = self._between(self._time_pieces, j + 1, n)
        clauses = self._between(self._clauses, j + 1, n)
        _add(f, "t_continuation", timely)
        _add(f, "t_clause", clauses)
        _add(f, "t_foreign", more - timely - clauses)
        _add(f, "t_sentence_inside", self._between(self._sentence_ends, j, n - 1))
        _add(f, "t_long", max(0, self._between(self._words, j, n) - 12))
        _add(f, "t_verbs", self._between(self._verbs, j, n))
        _add(f, f"t_words:{_size(self._between(self._words, j, n))}")
        _add(f, "t_over_255", self._chars(j, n) > 255)  # the registry's limit since 2017
        _add(f, f"t_pieces:{min(n - j, 5)}")
        _add(f, "t_after_sentence", pieces[j - 1].sentence_end)
        return f

    def _repeats_tail(self, j: int) -> bool:
        """Whether the time frame ``[j:]`` (two pieces or more) repeats the pieces right before
        it, its first piece the end of theirs ("FEV1 at 1, 2, 6 months, 1, 2, 6 months")."""
        n, lower = self.n, self._lower
        size = n - j
        if size < 2 or j - size < 0:
            return False
        return lower[j + 1 : n] == lower[j - size + 1 : j] and lower[j - size].endswith(lower[j])

    def measure(self, i: int) -> Features:
        """The measure ``[:i]``."""
        f: Features = {}
        pieces = self.pieces
        title = pieces[0].title
        for k in range(1, i):
            p = pieces[k]
            if p.bare:
                _add(f, "m_bare")
                _add(f, "m_bare_after_number", pieces[k - 1].ends_number)
            elif title and p.title:
                _add(f, "m_title")
            elif p.list_item:
                _add(f, "m_list_item")
                _add(f, "m_list_after_head", pieces[0].opens_list)
            elif p.lower:
                _add(f, "m_lower")
            else:
                _add(f, "m_other")
            _add(f, "m_verbs", p.verbs)
        _add(f, "m_sentence_inside", self._between(self._sentence_ends, 0, i - 1))
        _add(f, "m_and_close", i > 1 and pieces[i - 1].conjunction)
        _add(f, "m_echo_inside", self._between(self._echoes, 1, i) > 0)
        _add(f, f"m_words:{_size(self._words[i])}")
        _add(f, "m_over_255", self._chars(0, i) > 255)  # the registry's limit since 2017
        _add(f, f"m_pieces:{min(i, 5)}")
        return f

    def opening(self, i: int) -> Features:
        """What a description starting at ``i`` opens with."""
        f: Features = {}
        opening, first = self.pieces[i], self.pieces[0]
        _add(f, "d_lower_open", opening.lower)
        _add(f, "d_lower_open_after_title", opening.lower and first.title)
        _add(f, "d_lower_clause", opening.lower and opening.verbs > 0)
        _add(f, "d_continues_open", opening.conjunction or opening.clause)
        _add(f, "d_overlap", bool(opening.content & first.content))
        _add(f, "d_bare_open", opening.bare)
        _add(f, "d_sentence_open", opening.sentence)
        _add(f, "d_opener_open", opening.opener)
        if self.texts[i] == self.texts[0]:
            _add(f, "d_echoes_measure")
        elif opening.first_word == first.first_word:
            _add(f, "d_same_word")
        return f

    def ending(self, j: int) -> Features:
        """What a description of two or more pieces ending before ``j`` ends with."""
        f: Features = {}
        _add(f, "d_bare_end", self.pieces[j - 1].bare)
        _add(f, "d_time_end", self.pieces[j - 1].opener)
        return f

    def span(self, i: int, j: int) -> Features:
        """What the description ``[i:j]`` holds as a whole."""
        f: Features = {}
        pieces = self.pieces
        _add(f, "d_list_open", j > i + 1 and pieces[i].list_item and pieces[i + 1].list_item)
        _add(f, "d_title", pieces[0].title and not self._between(self._not_titles, i, j))
        _add(f, "d_repeats_measure", j - i == i and self.texts[i:j] == self.texts[:i])
        _add(f, "d_all_openers", not self._between(self._not_openers, i, j))
        _add(f, "d_short", self._between(self._words, i, j) <= 2)
        _add(f, "d_items_only", j > i + 1 and not self._between(self._not_items, i, j))
        _add(f, "d_verbs", min(3, self._between(self._verbs, i, j)))
        _add(f, f"d_words:{_size(self._between(self._words, i, j))}")
        _add(f, "d_over_999", self._chars(i, j) > 999)
        _add(f, "d_echo_inside", self._between(self._echoes, i + 1, j) > 0)
        _add(f, "d_late_sentence", not pieces[i].sentence and self._between(self._sentences, i + 1, j) > 0)
        n = self.n
        _add(
            f,
            "d_is_time_frame",
            j - i == n - j and self._lower[i] == self._lower[j] and self._lower[i:j] == self._lower[j:n],
        )
        _add(f, f"d_pieces:{min(j - i, 5)}")
        return f

    def description(self, i: int, j: int) -> Features:
        """The description ``[i:j]`` (none when ``i == j``)."""
        if i == j:
            return {"d_absent": 1.0}
        f = self.opening(i)
        for part in (self.ending(j) if j - 1 > i else {}, self.span(i, j)):
            for name, value in part.items():
                _add(f, name, value)
        return f

    def piece_features(self, i: int, j: int) -> Features:
        """Every piece's properties weighed by its role (first or further piece of the
        measure, description or time frame, and the last of each), and every comma weighed by
        how it joins its pieces and which parts it lies between (what ``best_grouping`` adds up
        in O(1) a grouping)."""
        f: Features = {}
        n = self.n
        for k, p in enumerate(self.pieces):
            roles = [ROLES[_role(k, i, j)]]
            if k == i - 1:
                roles.append("ML")
            elif i < j and k == j - 1:
                roles.append("DL")
            elif j < n and k == n - 1:
                roles.append("TL")
            for role in roles:
                for prop in p.props:
                    _add(f, f"{role}|{prop}")
            if k:
                for join in self.joins[k]:
                    _add(f, f"{PAIRS[_pair(k, i, j)]}|{join}")
        return f

    def features(self, i: int, j: int) -> Features:
        """Everything the grouping (i, j) is scored on (the reference ``best_grouping`` keeps to)."""
        f: Features = {}
        for part in (self.measure(i), self.description(i, j), self.time_frame(j), self.piece_features(i, j)):
            for name, value in part.items():
                _add(f, name, value)
        return f

    def groupings(self) -> list[tuple[int, int]]:
        """Every (i, j) the search weighs: a measure of 1 to 16 pieces, a time frame of up to 24."""
        n = self.n
        return [
            (i, j)
            for i in range(1, min(n, _MAX_MEASURE_PIECES) + 1)
            for j in range(max(i, n - _MAX_TIME_PIECES), n + 1)
        ]

    def _time_scores(
        self,
        starts: range,
        roles: list[list[float]],
        joins: list[list[float]],
        tc: list[float],
        tt: list[float],
        named: dict[str, float],
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Each time frame ``[j:]``'s score with the comma before it, after a measure with no
        description (that absence counted) and after a description."""
        n = self.n
        alone, after = {}, {}
        absent = named.get("d_absent", 0.0)
        for j in starts:
            score = _score(self.time_frame(j), named)
            if j < n:
                score += roles[j][T1] + tc[n] - tc[j + 1] + tt[n] - tt[j + 1] + roles[n - 1][TL]
            alone[j] = score + absent + (joins[j][MT] if j < n else 0.0)
            after[j] = score + (joins[j][DT] if j < n else 0.0)
        return alone, after

    def best_grouping(self, weights: Weights | None = None) -> tuple[int, int]:
        """The (i, j) whose measure ``[:i]``, description ``[i:j]`` and time frame ``[j:]``
        score highest; the measure has at least one piece. The parts' features are scored
        apart (measure per end, time frame per start, the description's opening per start and
        its ending per end, pieces and commas by running totals per role), so only the
        description's span is scored per (i, j)."""
        weights = weights or fitted_weights()
        named = weights.named
        n = self.n
        roles = [weights.piece(p) for p in self.pieces]
        joins = [weights.join(js) for js in self.joins]
        mc, dc, tc, mm, dd, tt = _running(roles, joins)
        starts = range(max(1, n - _MAX_TIME_PIECES), n + 1)
        alone, after = self._time_scores(starts, roles, joins, tc, tt, named)
        endings = {j: _score(self.ending(j), named) + roles[j - 1][DL] for j in starts if j > 1}
        best, best_score = (1, n), float("-inf")
        for i in range(1, min(n, _MAX_MEASURE_PIECES) + 1):
            head = _score(self.measure(i), named) + mc[i] - mc[1] + mm[i] - mm[1] + roles[i - 1][ML]
            opening = 0.0
            if i < n:
                opening = _score(self.opening(i), named) + roles[i][D1] + joins[i][MD]
            for j in starts:
                if j < i:
                    continue
                if j == i:
                    score = head + alone[j]
                else:
                    score = head + after[j] + opening + _score(self.span(i, j), named)
                    score += dc[j] - dc[i + 1] + dd[j] - dd[i + 1]
                    score += endings[j] if j - 1 > i else roles[j - 1][DL]
                if score > best_score:
                    best, best_score = (i, j), score
        return best


# The roles a piece's properties are weighed in: the first, a further and the last piece of the
# measure, the description and the time frame (a piece may be first or further, and last).
ROLES = ("M1", "Mc", "ML", "D1", "Dc", "DL", "T1", "Tc", "TL")
M1, MC, ML, D1, DC, DL, T1, TC, TL = range(len(ROLES))
# The parts a comma lies between.
PAIRS = ("MM", "MD", "MT", "DD", "DT", "TT")
MM, MD, MT, DD, DT, TT = range(len(PAIRS))


def _role(k: int, i: int, j: int) -> int:
    """Piece ``k``'s role as first or further piece of its part in the grouping (i, j)."""
    if k < i:
        return M1 if k == 0 else MC
    if k < j:
        return D1 if k == i else DC
    return T1 if k == j else TC


def _pair(k: int, i: int, j: int) -> int:
    """Which parts the comma before piece ``k`` lies between in the grouping (i, j)."""
    if k < i:
        return MM
    if k == i:
        return MD if i < j else MT
    if k < j:
        return DD
    return DT if k == j and i < j else TT


def _running(roles: list[list[float]], joins: list[list[float]]) -> list[list[float]]:
    """Running totals (``total[k]``: pieces or commas before ``k``) of the pieces' scores as
    further pieces of each part (Mc, Dc, Tc) and of the commas' inside each part (MM, DD, TT)."""
    totals = [[0.0] for _ in range(6)]
    for r, c in zip(roles, joins, strict=True):
        for running, value in zip(totals, (r[MC], r[DC], r[TC], c[MM], c[DD], c[TT]), strict=True):
            running.append(running[-1] + value)
    return totals


class Weights:
    """Fitted weights arranged for the search: for each piece property its weight in
    each role, for each way a comma joins its pieces its weight between each pair of parts."""

    def __init__(self, weights: dict[str, float]):
        self.named = weights
        self.props: dict[str, list[float]] = {}
        self.joins: dict[str, list[float]] = {}
        roles, pairs = {r: k for k, r in enumerate(ROLES)}, {p: k for k, p in enumerate(PAIRS)}
        for name, value in weights.items():
            head, _, rest = name.partition("|")
            if head in roles:
                self.props.setdefault(rest, [0.0] * len(ROLES))[roles[head]] = value
            elif head in pairs:
                self.joins.setdefault(rest, [0.0] * len(PAIRS))[pairs[head]] = value

    def piece(self, piece: _Piece) -> list[float]:
        """The piece's score in each role."""
        return _sum_rows([self.props.get(prop) for prop in piece.props], len(ROLES))

    def join(self, joins: tuple[str, ...]) -> list[float]:
        """A comma's score between each pair of parts."""
        return _sum_rows([self.joins.get(join) for join in joins], len(PAIRS))


def _sum_rows(rows: list[list[float] | None], width: int) -> list[float]:
    """The rows added up column by column (a row of ``width`` zeros when none is weighed)."""
    present = [row for row in rows if row]
    return [sum(column) for column in zip(*present, strict=True)] if present else [0.0] * width


def _score(features: Features, weights: dict[str, float]) -> float:
    return sum(weights.get(name, 0.0) * value for name, value in features.items())


@lru_cache(maxsize=1)
def fitted_weights() -> Weights:
    """The weights fitted on the development part (``WEIGHTS_FILE``), read once, when first
    needed."""
    with WEIGHTS_FILE.open(encoding="utf-8") as f:
        return Weights(json.load(f)["weights"])


def reads_as_time(text: str) -> bool:
    """Whether ``text`` reads as a time frame: it holds a time ("12 weeks", "baseline") or opens
    like one ("Up to ...", "Until death")."""
    piece = _piece(text.strip())
    return piece.time_word or piece.opener


def one_piece(cell: str) -> bool:
    """Whether a cell is a single piece (no ``, `` outside brackets): a measure alone, an outcome
    with neither description nor time frame. ClinicalTrials.gov has asked for an outcome's time
    frame since 2007; a record with such an outcome was registered before and never restructured,
    and its outcomes are each one text (``fields.record_outcomes``)."""
    return sum(1 for a, b in _spans(cell) if cell[a:b].strip()) == 1


def split_outcome(cell: str) -> OutcomeParts:
    """``measure, description, time frame`` -> its parts (see the module docstring)."""
    parts = _Cell(cell)
    texts = parts.texts
    if not texts:
        return OutcomeParts("", None, None)
    if len(texts) == 1:
        return OutcomeParts(texts[0], None, None)
    i, j = parts.best_grouping()
    return OutcomeParts(parts.text(0, i), parts.text(i, j) or None, parts.text(j, parts.n) or None)
