"""One bad record of a many-record input costs that record only (iter_document)."""

import json

import pytest

from mappers.readers import RejectedInput, RejectedRecord, iter_document, read_document
from tests.conftest import ROOT

LIST_PAGE = ROOT / "tests" / "fixtures" / "ctgov" / "json" / "list" / "studies_page_KRAS_10.json"


@pytest.fixture
def page() -> dict:
    return json.loads(LIST_PAGE.read_text())


def test_a_malformed_study_in_a_list_page_is_rejected_alone(page):
    count = len(page["studies"])
    page["studies"][1]["protocolSection"] = "not an object"
    items = list(iter_document(json.dumps(page).encode(), "page.json"))
    assert len(items) == count
    rejected = [i for i in items if isinstance(i, RejectedRecord)]
    assert [(r.record, "protocolSection" in r.reason) for r in rejected] == [(2, True)]
    assert [s.provenance.record for s in items if not isinstance(s, RejectedRecord)] == [
        n for n in range(1, count + 1) if n != 2
    ]
    with pytest.raises(RejectedInput):  # the all-or-nothing form keeps its contract
        read_document(json.dumps(page).encode(), "page.json")


def test_csv_rows_come_one_at_a_time():
    csv_file = next((ROOT / "tests" / "fixtures" / "ctgov" / "csv").glob("ctg-studies*.csv"))
    items = iter_document(csv_file.read_bytes(), str(csv_file))
    first = next(items)
    assert first.provenance.record == 1  # mapped before the rest of the file is read
    assert all(not isinstance(i, RejectedRecord) for i in items)
