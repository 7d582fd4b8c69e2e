"""Names: a contact text is split for PRS only when it reads as a person's name; nothing is dropped.

The unit cases are the shapes seen in ClinicalTrials.gov records; the record cases are the ones
issue 12 names; the invariant runs over every person of every ClinicalTrials.gov fixture.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from mappers.context import MappingSettings
from mappers.export import export_study
from mappers.names import NameParts, _plain_parts, _split_name, is_person_name, split_name
from tests.mappers.readers.ctgov_fixtures import ALL_FILES, FIXTURES, studies

PARITY_FILES = sorted((FIXTURES / "xml_parity").glob("*.xml"))
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Mehmet S. Copur", ("Mehmet", "S.", "Copur", "")),
        ("Robert Knight, MD", ("Robert", "", "Knight", "MD")),
        ("Jean-Pierre Dupont, MD, PhD", ("Jean-Pierre", "", "Dupont", "MD, PhD")),
        ("Neil H White, M.D.", ("Neil", "H", "White", "M.D.")),
        ("Stacy D. D'Andre", ("Stacy", "D.", "D'Andre", "")),
        ("Ludwig van Beethoven", ("Ludwig", "", "van Beethoven", "")),
        ("Arbelaez, Ana Maria", ("Ana", "Maria", "Arbelaez", "")),
        ("John Smith MD", ("John", "", "Smith", "MD")),
        ("Linh Do", ("Linh", "", "Do", "")),  # "Do" is a surname here, not the DO degree
        ("Danai Pino, FMD, CRC", ("Danai", "", "Pino", "FMD, CRC")),
        ("Humbert (Drew) G Sullivan, MD", ("Humbert (Drew)", "G", "Sullivan", "MD")),
        ("Meng zhang, MD", ("Meng", "", "zhang", "MD")),
        # titles are no name part: PRS's name elements leave them the degrees
        ("Ben Shore, Dr.", ("Ben", "", "Shore", "Dr.")),
        ("Holger Till, Prof.", ("Holger", "", "Till", "Prof.")),
        ("Dr. Jane Q. Smith, MD", ("Jane", "Q.", "Smith", "Dr., MD")),
        ("Madonna", ("", "", "Madonna", "")),
    ],
)
def test_a_persons_name_is_split(text, parts):
    assert is_person_name(text)
    assert split_name(text) == NameParts(*parts)


@pytest.mark.parametrize(
    "text",
    [
        "Clinical Trials",
        "Gilead Study Director",
        "Lead Nurse",
        "Site Public Contact",
        "Novartis Pharmaceuticals",
        "Call 1-877-CTLILLY (1-877-285-4559) or 1-317-615-4559 Mon - Fri 8 AM - 8 PM Eastern time "
        "(UTC/GMT - 5 hours, EST)",
        "Trial questions or participation questions: 1-877-CTLILLY (1-877-285-4559) or",
        "Physicians interested in becoming principal investigators please contact",
        "Reference Study ID Number: CO40115 www.roche.com/about_roche/roche_worldwide.htm",
    ],
)
def test_a_text_that_is_no_persons_name_stays_whole(text):
    assert not is_person_name(text)
    assert split_name(text) == NameParts(last=text)


def _words(text: str) -> list[str]:
    return sorted(w for w in re.split(r"[\s,()]+", text) if w)


@cache
def fixture_names() -> list[str]:
    names = set()
    for path in [*ALL_FILES, *PARITY_FILES]:
        for study in studies(path):
            people = study.officials + study.contacts
            people += [p for site in study.sites for p in site.contacts + site.investigators]
            names |= {p.name for p in people}
    return sorted(names)


def test_every_word_of_every_fixture_name_lands_in_one_part():
    names = fixture_names()
    assert len(names) > 600
    for name in names:
        parts = split_name(name)
        assert parts.last, name
        assert _words(" ".join([parts.first, parts.middle, parts.last, parts.degrees])) == _words(name), name


def test_plain_names_split_without_nameparser_split_as_nameparser_does_on_every_fixture_name():
    names = fixture_names()
    plain = [n for n in names if is_person_name(n) and _plain_parts(" ".join(n.split()))]
    assert len(plain) > 250  # many names take the fast path
    for name in names:
        assert _split_name(name) == _split_name(name, plain=False), name


# Words of every kind nameparser treats apart (titles, suffixes, ambiguous acronyms, particles,
# conjunctions, compound first names), initials, cases and hyphens around plain names.
_NAME_WORDS = _words(
    "Ana Maria John Smith Wei Meng Linh Do Ed Ma Chi Lee Van Dean Major King Bishop Rose "
    "van der de la bin abu Abu Abd al- y e and the St St. Mc Mac O'Brien D'Andre "
    "Jr Jr. Sr II III IV MD Md PhD Dr Dr. Prof Mr Mrs Sir Dame Esq J J. K. Q x X. JOHN SMITH "
    "john smith Jean-Pierre Smith-Jones Al-Farsi Ng Li Xu Yu Ho Ann Mary Jo Lou "
    "E E. Y Y. I V V. O. Víctor Díaz Gökbuget Łukasz Ștefan ÉRIC Pérez-Müller"
)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_NAME_WORDS), min_size=1, max_size=4))
def test_plain_names_split_as_nameparser_does(words):
    name = " ".join(words)
    assert _split_name(name) == _split_name(name, plain=False), name


# --- the records issue 12 names ------------------------------------------------------------------------


@cache
def exported(nct: str):
    study = next(s for path in [*ALL_FILES, *PARITY_FILES] for s in studies(path) if s.nct_id == nct)
    out = export_study(study, MappingSettings())
    assert out.status == "exported"
    files = {
        name.rsplit("/", 1)[-1]: etree.fromstring(data, _PARSER)
        for name, data in out.files.items()
        if name.endswith(".xml")
    }
    return study, files


def _person(el) -> dict[str, str]:
    return {child.tag: child.text for child in el}


def test_a_title_after_the_name_is_not_the_first_name():
    """NCT03211546: "Ben Shore, Dr." was written first name "Dr. Ben"."""
    _, files = exported("NCT03211546")
    prs = files["prs.xml"].xpath("clinical_study")[0]
    contacts = [_person(c) for c in prs.iterfind("location/contact")]
    assert {"first_name": "Ben", "last_name": "Shore", "degrees": "Dr."} in contacts
    assert "Ben Shore, Dr." in [c.text for c in files["public.xml"].iterfind("location/contact/last_name")]


def test_an_organisation_is_not_split_into_first_and_last_name():
    """NCT03424005: its study director is "Clinical Trials" (Hoffmann-La Roche)."""
    _, files = exported("NCT03424005")
    official = _person(files["prs.xml"].xpath("clinical_study/overall_official")[0])
    assert official["last_name"] == "Clinical Trials" and "first_name" not in official
    contact = _person(files["prs.xml"].xpath("clinical_study/overall_contact")[0])
    assert contact["last_name"].startswith("Reference Study ID Number: CO40115")
    assert contact["phone"] == "888-662-6728 (U.S. and Canada)"


def test_call_center_hours_are_not_a_name_and_no_phone_number_is_dropped():
    """NCT04956640: the study director is a call-centre text holding two phone numbers."""
    study, files = exported("NCT04956640")
    text = study.officials[0].name
    assert "8 AM - 8 PM Eastern time" in text
    official = _person(files["prs.xml"].xpath("clinical_study/overall_official")[0])
    assert official == {"last_name": text, "role": "Study Director", "affiliation": "Eli Lilly and Company"}
    contact = _person(files["prs.xml"].xpath("clinical_study/overall_contact")[0])
    assert "1-877-285-4559" in contact["last_name"] and contact["phone"] == "1-317-615-4559"


def test_a_phone_extension_stays_apart():
    """NCT00001177: PRS and the public record have phone_ext beside phone."""
    study, files = exported("NCT00001177")
    [site] = study.sites
    assert (site.contacts[0].phone, site.contacts[0].phone_ext) == ("800-411-1222", "TTY8664111010")
    for name, path in (("prs.xml", "clinical_study/location/contact"), ("public.xml", "location/contact")):
        contact = _person(files[name].xpath(path)[0])
        assert (contact["phone"], contact["phone_ext"]) == ("800-411-1222", "TTY8664111010"), name
