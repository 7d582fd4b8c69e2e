"""One identity rule, enforced where the study is read: a record with nothing to be known by is
rejected with the reason there, and folder names, resource ids and conditional PUTs agree."""

from __future__ import annotations

import json

import pytest

from mappers.context import MappingSettings, business_identifier
from mappers.export import export_study, study_key
from mappers.identity import identity
from mappers.model import Identifier
from mappers.readers import RejectedRecord, iter_document
from tests.conftest import ROOT

V2 = ROOT / "tests" / "fixtures" / "ctgov" / "json" / "v2" / "NCT03418623.json"
XML = ROOT / "tests" / "fixtures" / "ctgov" / "xml" / "NCT03723057.xml"
LIST_PAGE = ROOT / "tests" / "fixtures" / "ctgov" / "json" / "list" / "studies_page_KRAS_10.json"
EUDRACT = "2017-001234-56"


def _v2_without_registry_ids(secondary: bool = True) -> dict:
    record = json.loads(V2.read_text())
    ids = record["protocolSection"]["identificationModule"]
    del ids["nctId"], ids["orgStudyIdInfo"]
    if secondary:
        ids["secondaryIdInfos"] = [{"id": EUDRACT, "type": "EUDRACT_NUMBER"}]
    return record


@pytest.mark.parametrize("secondary", [True, False], ids=["secondary-id-only", "no-id"])
def test_a_ctgov_record_without_a_registry_id_is_rejected_when_read(secondary):
    data = json.dumps(_v2_without_registry_ids(secondary)).encode()
    [item] = list(iter_document(data, "in/record.json"))
    assert isinstance(item, RejectedRecord)
    assert item.reason.startswith("no study identifier:")
    assert (EUDRACT in item.reason) is secondary


def test_legacy_xml_with_only_secondary_ids_is_rejected_when_read():
    text = XML.read_text()
    start, end = text.index("<id_info>"), text.index("</id_info>") + len("</id_info>")
    data = (text[:start] + f"<id_info><secondary_id>{EUDRACT}</secondary_id></id_info>" + text[end:]).encode()
    [item] = list(iter_document(data, "in/record.xml"))
    assert isinstance(item, RejectedRecord) and f"only secondary ids ({EUDRACT})" in item.reason


def test_one_such_record_of_a_list_page_costs_that_record_only():
    page = json.loads(LIST_PAGE.read_text())
    ids = page["studies"][1]["protocolSection"]["identificationModule"]
    ids.pop("nctId"), ids.pop("orgStudyIdInfo", None)
    items = list(iter_document(json.dumps(page).encode(), "in/page.json"))
    assert len(items) == len(page["studies"])
    rejected = [i for i in items if isinstance(i, RejectedRecord)]
    assert [r.record for r in rejected] == [2]
    for study in (i for i in items if not isinstance(i, RejectedRecord)):
        assert export_study(study, MappingSettings()).status == "exported"


@pytest.mark.parametrize(
    ("identifiers", "expected"),
    [
        ([("secondary", "S-1"), ("org_study_id", "ORG-1"), ("nct", "NCT00000001")], "NCT00000001"),
        ([("secondary", "S-1"), ("org_study_id", "ORG 1/a")], "ORG 1/a"),
        ([("local", "doc"), ("secondary", "S-1")], "doc"),
        ([("org_study_id", "first"), ("org_study_id", "second")], "first"),
        ([("secondary", "S-1")], None),
        ([], None),
    ],
)
def test_the_identity_rule(identifiers, expected):
    found = identity([Identifier(kind=kind, value=value) for kind, value in identifiers])
    assert (found.value if found else None) == expected


def test_folder_and_conditional_put_key_on_the_same_identifier():
    [study] = list(iter_document(XML.read_bytes(), "in/record.xml"))
    assert not isinstance(study, RejectedRecord)
    ident = business_identifier(study, MappingSettings())
    found = identity(study.identifiers)
    assert found is not None and ident.value == found.value == study_key(study)
