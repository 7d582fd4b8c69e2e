"""The study-count limit of one input: the records before it stand, the rest is a clear rejection."""

import json

import pytest

from mappers.readers import MAX_STUDIES_PER_FILE, RejectedRecord, TooManyStudies, iter_document
from tests.conftest import ROOT, SEED_A

CTGOV = ROOT / "tests" / "fixtures" / "ctgov"
LIST_PAGE = CTGOV / "json" / "list" / "studies_page_KRAS_10.json"
CSV = CTGOV / "csv" / "ctg-studies_full30cols_hypertension.csv"


def read_until_rejected(data: bytes, source: str, limit: int) -> tuple[list, TooManyStudies | None]:
    items, error = [], None
    try:
        for item in iter_document(data, source, max_studies=limit):
            items.append(item)
    except TooManyStudies as exc:
        error = exc
    return items, error


def test_a_list_page_over_the_limit_keeps_its_first_studies():
    items, error = read_until_rejected(LIST_PAGE.read_bytes(), "page.json", 4)
    assert [i.provenance.record for i in items] == [1, 2, 3, 4]
    assert error is not None and error.limit == 4
    assert "more than 4 studies in one file" in error.reason


def test_a_bad_record_counts_towards_the_limit():
    page = json.loads(LIST_PAGE.read_text())
    page["studies"][0]["protocolSection"] = []
    items, error = read_until_rejected(json.dumps(page).encode(), "page.json", 2)
    assert isinstance(items[0], RejectedRecord) and len(items) == 2 and error is not None


def test_a_csv_export_over_the_limit():
    items, error = read_until_rejected(CSV.read_bytes(), CSV.name, 25)
    assert len(items) == 25 and error is not None


@pytest.mark.parametrize("limit", [10, None])
def test_at_or_without_the_limit_nothing_is_rejected(limit):
    items, error = read_until_rejected(LIST_PAGE.read_bytes(), "page.json", limit)
    assert len(items) == 10 and error is None


def test_a_single_study_input_and_the_default_for_pure_callers():
    items, error = read_until_rejected(SEED_A.read_bytes(), SEED_A.name, 1)
    assert len(items) == 1 and items[0].provenance.record is None and error is None
    rows = CSV.read_text().count("\nNCT")
    assert MAX_STUDIES_PER_FILE >= 1000 > rows  # a real list page (1,000 studies) fits
    assert len(list(iter_document(CSV.read_bytes(), CSV.name))) == rows
