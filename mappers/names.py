"""A contact's name text -> the parts PRS wants (first, middle, last, degrees), or the text whole.

ClinicalTrials.gov keeps a person's name as one text (the public record writes it whole in
``last_name``), and that text is often not a person's name at all: "Clinical Trials", "Gilead
Study Director", "Call 1-877-CTLILLY … 8 AM - 8 PM Eastern time". Splitting those invents a
first name and loses the rest, so a text is split only when it reads as a person's name;
otherwise it stays whole, in ``last_name``, where PRS and the public record put it.

For a person's name:
- degrees are the comma-separated parts after the name made of degree words ("MD, PhD") and
  degree words closing the name without a comma when written as degrees ("John Smith MD");
- titles ("Dr.", "Prof.") are not name parts: PRS has no element for them, and its name
  elements are first/middle/last/degrees, so they travel with the degrees ("Ben Shore, Dr." ->
  Ben / Shore / "Dr."), in the order written;
- what remains is split by nameparser into first, middle and last (particles such as "van der"
  stay with the surname; "Last, First" is understood).
Nothing is dropped: the parts, joined, hold every word of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nameparser import HumanName
from nameparser.config import CONSTANTS

# Honorifics that precede (or, after a comma, follow) a name. nameparser's own title list also
# holds job words ("director", "nurse", "chief") that mark a role, not a person, here.
_TITLES = {
    "dr",
    "doctor",
    "prof",
    "professor",
    "assoc",
    "associate",
    "assistant",
    "pr",
    "pd",
    "priv-doz",
    "privdoz",
    "univ-prof",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "sir",
    "dame",
    "med",
    "habil",
}
# Degree and post-nominal words (nameparser's lists plus medical ones it lacks), compared
# lower-cased without periods: "M.D." -> "md".
_DEGREES = (
    set(CONSTANTS.suffix_acronyms)
    | set(CONSTANTS.suffix_not_acronyms)
    | {
        "mbbs",
        "mbchb",
        "frcpc",
        "frcp",
        "frcs",
        "frcsc",
        "mrcp",
        "mrcog",
        "frcog",
        "frcr",
        "fracp",
        "bsn",
        "msn",
        "ccrp",
        "ccrc",
        "crnp",
        "fnp",
        "mhs",
        "mscr",
        "mmed",
        "mhsc",
        "dphil",
        "mpharm",
        "master",
        "masters",
        "bachelor",
    }
)
# Words that mark an organisation, a role or a sentence rather than a person ("Clinical
# Trials", "Lead Nurse", "Site Public Contact", "Trial questions or participation …").
_NOT_NAME_WORDS = {
    "clinical",
    "clinic",
    "trial",
    "trials",
    "study",
    "studies",
    "center",
    "centre",
    "central",
    "director",
    "coordinator",
    "nurse",
    "manager",
    "officer",
    "office",
    "department",
    "dept",
    "research",
    "team",
    "unit",
    "group",
    "information",
    "info",
    "contact",
    "call",
    "site",
    "public",
    "medical",
    "patient",
    "patients",
    "recruitment",
    "hospital",
    "university",
    "institute",
    "foundation",
    "pharma",
    "pharmaceutical",
    "pharmaceuticals",
    "inc",
    "ltd",
    "llc",
    "gmbh",
    "corp",
    "corporation",
    "company",
    "services",
    "support",
    "desk",
    "hotline",
    "helpline",
    "email",
    "phone",
    "program",
    "programme",
    "sponsor",
    "investigator",
    "investigators",
    "principal",
    "registry",
    "lead",
    "head",
    "chief",
    "general",
    "global",
    "transparency",
}
# Lower-case English words that make a text a sentence or a direction, not a name ("Trial
# questions or participation questions", "please contact"); other lower-case words are allowed,
# names are often typed in lower case ("Meng zhang", "f m dabnon").
_SENTENCE_WORDS = {
    "a",
    "an",
    "the",
    "or",
    "and",
    "for",
    "to",
    "of",
    "in",
    "at",
    "with",
    "on",
    "by",
    "from",
    "please",
    "contact",
    "call",
    "send",
    "email",
    "questions",
    "information",
    "interested",
    "becoming",
    "site",
    "number",
    "operator",
    "lecturer",
}
_PARTICLES = set(CONSTANTS.prefixes) | set(CONSTANTS.conjunctions)
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_'’.\-]*(?:['’.\-][^\W\d_]*)*\.?$")
_NICKNAME = re.compile(r"^\([^\W\d_][^\W\d_'’.\-]*\)$")  # "Humbert (Drew) Sullivan"
_NOT_A_NAME = re.compile(r"[\d@:;/\[\]&?!#+=*_<>|\"]|https?|www\.|\((?![^\W\d_]+\))")
_POST_NOMINALS = re.compile(r"^(?:[A-Z]{2,6}|(?:[A-Z]\.){2,5})$")  # "FMD", "CRC", "M.S."


@dataclass(frozen=True)
class NameParts:
    first: str = ""
    middle: str = ""
    last: str = ""
    degrees: str = ""


def _key(word: str) -> str:
    return word.lower().replace(".", "").strip()


def _is_degree(word: str, after_comma: bool) -> bool:
    """A degree word: after a comma any spelling ("Md", "Ph.D."); closing a name without a comma
    only as degrees are written (upper case, periods or an inner capital: "MD", "M.D.", "PhD"),
    so that a surname like "Do" or "Ma" stays a surname."""
    key = _key(word)
    if after_comma and _POST_NOMINALS.match(word):  # "Danai Pino, FMD, CRC": letters after a name
        return True
    if key not in _DEGREES or not key:
        return False
    return after_comma or word.isupper() or "." in word or any(c.isupper() for c in word[1:])


_TITLE_KEYS = frozenset(t.replace("-", "") for t in _TITLES)


def _is_title(word: str) -> bool:
    return _key(word).replace("-", "") in _TITLE_KEYS


def _name_and_extras(text: str) -> tuple[str, list[str], list[str]] | None:
    """(the name without titles and degrees, titles, degrees), or None when the comma-separated
    parts are not a name followed by degrees/titles (or a "Last, First" pair)."""
    parts = [p.strip() for p in text.strip().rstrip(",").split(",")]
    if not all(parts):
        return None
    titles, degrees, names = [], [], []
    for index, part in enumerate(parts):
        words = part.split()
        if index and all(_is_title(w) for w in words):
            titles += words
        elif index and all(_is_degree(w, after_comma=True) or _is_title(w) for w in words):
            degrees.append(part)
        else:
            names.append(part)
    if not names or len(names) > 2:
        return None
    words = " ".join(reversed(names)).split()  # "Shore, Ben" -> "Ben Shore"
    while words and _is_title(words[0]):
        titles.append(words.pop(0))
    trailing: list[str] = []
    while len(words) > 1 and _is_degree(words[-1], after_comma=False):
        trailing.insert(0, words.pop())
    if len(names) == 2:  # keep the order nameparser understands: "Last, First"
        name = f"{names[0]}, {' '.join(words[: len(words) - len(names[0].split())])}"
        if not name.split(",", 1)[1].strip():
            return None
    else:
        name = " ".join(words)
    return name, titles, degrees + trailing


def is_person_name(text: str) -> bool:
    """Whether the text reads as a person's name (with or without titles and degrees)."""
    return _person_name(text) is not None


def _person_name(text: str) -> tuple[str, list[str], list[str]] | None:
    """``_name_and_extras`` of a text that reads as a person's name, else None (found once for
    both questions ``_split_name`` asks)."""
    if not text.strip() or _NOT_A_NAME.search(text):
        return None
    found = _name_and_extras(text)
    if found is None:
        return None
    words = found[0].replace(",", " ").split()
    if not 1 <= len(words) <= 6:
        return None
    for word in words:
        key = _key(word)
        if _NICKNAME.match(word):
            continue
        if not _NAME_WORD.match(word) or key in _NOT_NAME_WORDS:
            return None
        if word.islower() and key in _SENTENCE_WORDS and key not in _PARTICLES:
            return None
    return found


# Words on which nameparser's rules turn (titles, suffixes, particles, conjunctions, compound
# first names, ambiguous acronyms): a name with one of them goes to nameparser.
_PARSER_WORDS = frozenset(
    w.lower().replace(".", "")
    for table in (
        CONSTANTS.titles,
        CONSTANTS.first_name_titles,
        CONSTANTS.suffix_acronyms,
        CONSTANTS.suffix_not_acronyms,
        CONSTANTS.suffix_acronyms_ambiguous,
        CONSTANTS.prefixes,
        CONSTANTS.non_first_name_prefixes,
        CONSTANTS.conjunctions,
        CONSTANTS.bound_first_names,
    )
    for w in table
)
# Latin letters, accented ones too ("Víctor Díaz", "Nicola Gökbuget"): nameparser treats them as
# it treats ASCII ones; other scripts (Hangul, Han) it may segment, so they are not plain.
_LATIN = "A-Za-zÀ-ÖØ-öø-ɏ"
_PLAIN_WORD = re.compile(rf"[{_LATIN}]{{2,}}(?:-[{_LATIN}]{{2,}})?|[A-Z]\.?")
_INITIAL = re.compile(r"[A-Z]\.?")


def _plain_parts(name: str) -> tuple[str, str, str] | None:
    """(first, middle, last) of a plain "First [Middle] Last" name written in Latin letters
    (an initial may stand for a name), where nameparser's answer is the words in order; None
    for anything else. A middle initial is plain even when its letter is one of nameparser's
    words ("Philip E. Lammers", "Ki Y Chung": the conjunctions e and y, the numeral V): between
    two names nameparser reads it as an initial. tests/mappers/test_names.py compares the two
    on every fixture's names and on generated ones."""
    words = name.split(" ")
    if not 2 <= len(words) <= 3:
        return None
    for index, word in enumerate(words):
        if not _PLAIN_WORD.fullmatch(word):
            return None
        middle_initial = index == 1 and len(words) == 3 and _INITIAL.fullmatch(word)
        if word.lower().rstrip(".") in _PARSER_WORDS and not middle_initial:
            return None
    return words[0], words[1] if len(words) == 3 else "", words[-1]


@lru_cache(maxsize=16_384)
def split_name(text: str) -> NameParts:
    """The parts of a name; a text that is not a person's name is returned whole as ``last``.

    Cached: officials and site contacts are split once per XML output and again by the trace,
    and investigators recur across studies. A plain "First [Middle] Last" name is split without
    nameparser (150-200 microseconds a name, a thousand names in a large study's sites)."""
    return _split_name(text)


def _split_name(text: str, *, plain: bool = True) -> NameParts:
    text = " ".join(text.split())
    found = _person_name(text)
    if found is None:
        return NameParts(last=text)
    name, titles, degrees = found
    if plain and (parts := _plain_parts(name)):
        first, middle, last = parts
        return NameParts(first=first, middle=middle, last=last, degrees=", ".join([*titles, *degrees]))
    parsed = HumanName(name)
    # nameparser may still find a title or suffix of its own; they are not first/middle/last
    extras = [p for p in (parsed.title, parsed.suffix) if p]
    first, middle, last = parsed.first, parsed.middle, parsed.last
    if parsed.nickname:  # PRS has no element for it: it stays with the first name, as written
        first = f"{first} ({parsed.nickname})".strip()
    if not last:  # a single word: a surname
        first, last = "", first
    return NameParts(first=first, middle=middle, last=last, degrees=", ".join([*titles, *extras, *degrees]))
