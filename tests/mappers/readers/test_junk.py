"""Only trial records become studies (issue 17): a document is read on positive evidence of its
layout, measured on both sides.

The non-trial corpus is every text file of up to 128 KiB in this environment's site-packages
(source code, type stubs, docs, licences, package metadata, ``RECORD`` CSVs, JSON, XML, HTML,
translations; the set is fixed by ``requirements.lock``) plus hand-written near misses. The
trial side is every seed, sample and ClinicalTrials.gov fixture of the suite.
"""

import sysconfig
import time
from pathlib import Path

import pytest

from mappers.readers import RejectedInput, RejectedRecord, iter_document, read_document
from tests.conftest import ROOT, SEEDS

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
TEXT_SUFFIXES = {
    ".py",
    ".pyi",
    ".pyx",
    ".pxd",
    ".txt",
    ".md",
    ".rst",
    ".toml",
    ".cfg",
    ".ini",
    ".yaml",
    ".yml",
    ".json",
    ".xml",
    ".html",
    ".js",
    ".css",
    ".j2",
    ".jinja",
    ".mako",
    ".po",
    ".sh",
    ".tab",
    ".xsl",
    ".svg",
    ".h",
    ".c",
    ".cpp",
    ".lua",
    ".typed",
    ".csv",
}
MAX_BYTES = 128 * 1024
FIXTURES = ROOT / "tests" / "fixtures"


def non_trial_files() -> list[Path]:
    """Sorted, so that the corpus and its figures are the same on every run of a locked set."""
    return sorted(
        p
        for p in SITE_PACKAGES.rglob("*")
        if (p.suffix in TEXT_SUFFIXES or not p.suffix)
        and p.is_file()
        and not p.is_symlink()
        and p.stat().st_size <= MAX_BYTES
    )


def studies_in(data: bytes, source: str) -> int:
    """How many studies ``data`` gives (0 when it is rejected as a whole)."""
    try:
        return sum(not isinstance(item, RejectedRecord) for item in iter_document(data, source))
    except RejectedInput:
        return 0


def test_no_file_of_a_non_trial_corpus_becomes_a_study(capsys):
    files = non_trial_files()
    assert len(files) > 3000  # thousands of files, or the figure below means little
    started, read = time.process_time(), []
    for path in files:
        if studies_in(path.read_bytes(), path.name):
            read.append(str(path.relative_to(SITE_PACKAGES)))
    seconds = time.process_time() - started
    kinds = sorted({p.suffix or "(none)" for p in files})
    with capsys.disabled():
        print(
            f"\nnon-trial corpus: {len(files)} files ({', '.join(kinds)}), {len(files) - len(read)} "
            f"rejected, {len(read)} read as studies, {seconds:.1f} s CPU"
        )
    assert read == []


SHOPPING_LIST = b"Shopping list\neggs, milk, bread\napples\n"
NEAR_MISSES = {
    "shopping-list.txt": SHOPPING_LIST,
    "people.csv": b"name,age\nbob,3\n",
    "nct-mentions.csv": b"id,note\n1,see NCT Number column of the export\n2,NCT01234567\n",
    "readme.md": b"Foo\nFoo parses bar files into baz records, and fast.\nInstall\n\n\n\nUse pip.\n",
    "plan.txt": b"Project plan\nWe ship the report.\nTime frame: TBD\nOwner: Ann\n",
    "purpose.txt": b"Purpose\nTo explain things.\nAllocation\nsee budget\n",
    "letter.txt": b"Dear Ann,\nThank you for your letter of 3 May, which arrived on time.\nBest,\nBob\n",
    "code.py": b'"""Tools."""\nimport re\n\n\n\n\ndef f():\n    return re\n',
    "one-line.txt": b"just one line of prose with no layout at all",
    "list.md": b"- eggs\n- milk, 2 litres, by Friday\n",
    # JSON objects with a "studies" key that are not registry list pages
    "reading-group.json": b'{"studies": [{"title": "Sleep and memory", "year": 2021}]}',
    "course.json": b'{"name": "Biostatistics", "studies": "two terms"}',
}


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_near_misses_are_unknown_layouts_that_say_what_is_missing(name):
    with pytest.raises(RejectedInput) as rejected:
        read_document(NEAR_MISSES[name], name)
    reason = rejected.value.reason
    assert reason.startswith(f"unknown layout: '{name}' matches none of")
    assert "text-a (CSV row, a field a line): " in reason and "text-b (registry page): " in reason


def trial_documents() -> list[Path]:
    found = [*SEEDS.glob("*.txt"), *(FIXTURES / "samples" / "docs").glob("*.txt")]
    for pattern in ("*.xml", "*.json", "*.csv"):
        found += (FIXTURES / "ctgov").rglob(pattern)
    return sorted(found)


def test_the_trial_corpus_is_all_there():
    kinds = {p.suffix for p in trial_documents()}
    assert len(trial_documents()) > 80 and kinds == {".txt", ".xml", ".json", ".csv"}


@pytest.mark.parametrize("path", trial_documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_trial_document_is_still_read(path):
    assert studies_in(path.read_bytes(), path.name) >= 1


@pytest.mark.parametrize(
    "document",
    [
        # the CSV-row shape by its intervention line alone (no outcomes, no description)
        b"A trial of aspirin\nWe test aspirin for headache.\nHeadache\nDRUG: aspirin\n",
        # by an outcome cell ending in a time frame alone
        b"A trial\nWe test a thing.\nHeadache\n\nPain score, Pain on a 0-10 scale, 2 hours\n\n",
        # by its six field lines around a conditions line (a record without interventions/outcomes)
        b"Study of sleep\nThe purpose of this study is to describe how older adults sleep at home "
        b"over one week.\n"
        b"Insomnia|Sleep Apnea\n\n\n\nWe record sleep for a week.\n",
        # a registry page by its design block alone, or by its time frames alone
        b"A summary.\nStudy Type\nINTERVENTIONAL\nEnrollment\n20\n",
        b"A summary.\nPain\nPain on a scale\nTime frame: 24 hours\n",
    ],
    ids=["interventions", "timed-outcome", "conditions", "design-block", "time-frames"],
)
def test_the_least_evidence_each_layout_is_read_on(document):
    assert studies_in(document, "doc.txt") == 1


@pytest.mark.parametrize("page", [b'{"studies": []}', b'{\n  "studies" : [ ],\n  "totalCount": 0\n}'])
def test_an_empty_list_page_is_a_registry_page_that_holds_no_studies(page):
    with pytest.raises(RejectedInput) as rejected:
        read_document(page, "page.json")
    assert rejected.value.reason == "the list page holds no studies"
