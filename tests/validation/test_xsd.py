"""XSD validation: real ClinicalTrials.gov records pass, broken ones fail with a message that names
the problem, and nothing outside the document is ever fetched or expanded."""

from __future__ import annotations

from pathlib import Path

import pytest

from validation import xsd
from validation.xsd import validate_xml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ctgov"
REAL_RECORDS = ["NCT02408601.xml", "NCT00001177.xml"]  # valid against public.xsd 2020.05.08

PRS_MINIMAL = b"""<?xml version="1.0" encoding="UTF-8"?>
<prs:study_collection xmlns:prs="http://clinicaltrials.gov/prs">
  <clinical_study>
    <id_info><org_name>ORG</org_name><org_study_id>S-1</org_study_id></id_info>
    <brief_title>A study</brief_title>
  </clinical_study>
</prs:study_collection>
"""


@pytest.mark.parametrize("name", REAL_RECORDS)
def test_real_public_records_are_valid(name):
    assert validate_xml((FIXTURES / name).read_bytes(), "public") == []


def test_mutated_record_is_rejected_with_a_message_naming_the_problem():
    data = (
        (FIXTURES / "NCT02408601.xml").read_bytes().replace(b"<phase>Phase 2/Phase 3<", b"<phase>Phase 2/3<")
    )
    (issue,) = validate_xml(data, "public")
    assert (issue.severity, issue.code) == ("error", "xsd-invalid")
    assert "phase" in issue.message and "'Phase 2/3'" in issue.message
    assert issue.location == "line 105" and issue.message.startswith("line 105: ")


def test_each_schema_error_is_one_issue():
    data = (FIXTURES / "NCT02408601.xml").read_bytes()
    data = data.replace(b"<nct_id>NCT02408601</nct_id>", b"").replace(b"<gender>All<", b"<gender>Both<")
    messages = [issue.message for issue in validate_xml(data, "public")]
    assert len(messages) == 2
    assert "nct_id" in messages[0] and "Both" in messages[1]


def test_prs_children_must_be_unqualified():
    assert validate_xml(PRS_MINIMAL, "prs") == []
    # The same document with a default namespace: children would inherit it unless undeclared.
    default_ns = PRS_MINIMAL.replace(b"prs:study_collection xmlns:prs", b"study_collection xmlns").replace(
        b"</prs:study_collection>", b"</study_collection>"
    )
    assert validate_xml(default_ns.replace(b"<clinical_study>", b'<clinical_study xmlns="">'), "prs") == []
    (issue,) = validate_xml(default_ns, "prs")
    assert "clinical_study" in issue.message


def test_prs_rejects_missing_required_element():
    data = PRS_MINIMAL.replace(b"<org_study_id>S-1</org_study_id>", b"")
    (issue,) = validate_xml(data, "prs")
    assert "org_study_id" in issue.message


def test_public_record_is_not_a_prs_document():
    issues = validate_xml((FIXTURES / "NCT00001177.xml").read_bytes(), "prs")
    assert issues and "'clinical_study': No matching global declaration" in issues[0].message


def test_malformed_document_is_one_issue():
    (issue,) = validate_xml(b"<clinical_study><brief_title>x</clinical_study>", "public")
    assert issue.code == "xml-malformed" and "line 1" in issue.message


@pytest.mark.parametrize(
    ("doctype", "body"),
    [
        (b'<!DOCTYPE clinical_study [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;"),
        (b'<!DOCTYPE clinical_study SYSTEM "http://127.0.0.1:9/public.dtd">', b""),
        (b'<!DOCTYPE clinical_study [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>', b"&b;"),
    ],
)
def test_documents_with_a_doctype_are_refused_without_loading_anything(doctype, body):
    issues = validate_xml(doctype + b"<clinical_study>" + body + b"</clinical_study>", "public")
    assert [i.code for i in issues] == ["xml-malformed"]
    assert "DOCTYPE" in issues[0].message


def test_schemas_are_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    xsd._SCHEMAS().clear()
    assert validate_xml(PRS_MINIMAL, "prs") == []
    assert validate_xml((FIXTURES / REAL_RECORDS[0]).read_bytes(), "public") == []


def test_schemas_are_compiled_once():
    assert xsd._compiled("public") is xsd._compiled("public")


def test_unknown_schema_name_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown schema"):
        validate_xml(PRS_MINIMAL, "fhir")  # type: ignore[arg-type]
