"""Broken ClinicalTrials.gov inputs are refused as a whole, each with a reason a user can act on."""

import csv
import io
import os

import pytest

from mappers.readers import RejectedInput, read_document
from tests.mappers.readers.ctgov_fixtures import CSV_FILES, FIXTURES, JSON_FILES


def rejection(data: bytes, source: str) -> str:
    with pytest.raises(RejectedInput) as caught:
        read_document(data, source)
    return caught.value.reason


@pytest.mark.parametrize("path", [JSON_FILES[0], FIXTURES / "json" / "list" / "studies_page_KRAS_10.json"])
def test_truncated_json(path):
    data = path.read_bytes()
    reason = rejection(data[: len(data) // 2], path.name)
    assert reason.startswith("invalid or truncated JSON:") and "line" in reason


def test_csv_missing_a_required_column():
    path = next(p for p in CSV_FILES if "30cols" in p.name)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    drop = rows[0].index("Study Title")
    out = io.StringIO()
    csv.writer(out).writerows([r[:drop] + r[drop + 1 :] for r in rows])
    reason = rejection(out.getvalue().encode(), path.name)
    assert reason == "CSV export (current layout) lacks required column(s): Study Title"


def test_legacy_csv_missing_a_required_column():
    header = '"Rank","NCT Number","Title","Conditions"\n1,"NCT00000001","A title","Lymphoma"\n'
    assert "lacks required column(s): Status" in rejection(header.encode(), "SearchResults.csv")


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE clinical_study [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<clinical_study><id_info><nct_id>NCT00000001</nct_id></id_info><brief_title>&c;</brief_title></clinical_study>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE clinical_study [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<clinical_study><id_info><nct_id>NCT00000001</nct_id></id_info><brief_title>&secret;</brief_title></clinical_study>
"""


@pytest.mark.parametrize("document", [BOMB, EXTERNAL], ids=["expansion", "external"])
def test_xml_doctype_with_entities(document):
    assert (
        rejection(document, "NCT00000001.xml")
        == "XML DOCTYPE declares entities; entity declarations are refused"
    )


def test_malformed_xml():
    assert rejection(b"<clinical_study><brief_title>x</clinical_study>", "x.xml").startswith("malformed XML:")


def test_fifty_megabytes_of_junk(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(50 * 2**20))
    assert rejection(junk.read_bytes(), str(junk)) == "binary file, not a text document"
    text = tmp_path / "junk.txt"
    line = b"qwerty uiop asdf ghjkl zxcv bnm " * 40 + b"\n"
    text.write_bytes(line * (50 * 2**20 // len(line)))
    assert rejection(text.read_bytes(), str(text)).startswith("unknown layout: 'junk.txt' matches none of")
