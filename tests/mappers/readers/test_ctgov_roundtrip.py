"""Legacy public XML -> model -> public XML: the same values come back for every covered element.

Every fixture that is itself valid against public.xsd 2020.05.08 is read, exported, and its
written public XML is compared with the input, element by element, over the elements the model
covers (COVERED). Values are compared as the registry means them: whitespace in textblocks is
layout; names are compared after the same first/middle/last/degrees split the writer makes;
dates and coded values through the reader's own normalisation (``Estimated`` = ``Anticipated``).
It runs the whole export (FHIR and PRS too) on the reader fixtures; the leaf-by-leaf measure over
every legacy record is tests/templates/test_ctgov_public_leaf_parity.py.
"""

import re
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from mappers.context import MappingSettings
from mappers.export import export_study
from mappers.names import split_name
from mappers.readers.ctgov_values import coded, iso_date
from tests.mappers.readers.ctgov_fixtures import XML_FILES, ident, studies
from validation.xsd import validate_xml

VALID_2020 = [p for p in XML_FILES if not validate_xml(p.read_bytes(), "public")]

# (path, how to compare); paths are relative to clinical_study, repeated elements keep their order
COVERED = [
    ("id_info/org_study_id", "text"),
    ("id_info/secondary_id", "text"),
    ("id_info/nct_id", "text"),
    ("brief_title", "text"),
    ("acronym", "text"),
    ("official_title", "text"),
    ("sponsors/lead_sponsor/agency", "text"),
    ("sponsors/lead_sponsor/agency_class", "text"),
    ("sponsors/collaborator/agency", "text"),
    ("sponsors/collaborator/agency_class", "text"),
    ("brief_summary/textblock", "text"),
    ("detailed_description/textblock", "text"),
    ("overall_status", "text"),
    ("why_stopped", "text"),
    ("start_date", "date"),
    ("completion_date", "date"),
    ("primary_completion_date", "date"),
    ("phase", "text"),
    ("study_type", "study_type"),
    ("study_design_info/allocation", "text"),
    ("study_design_info/intervention_model", "text"),
    ("study_design_info/primary_purpose", "text"),
    ("study_design_info/masking", "masking"),
    ("primary_outcome", "outcome"),
    ("secondary_outcome", "outcome"),
    ("other_outcome", "outcome"),
    ("enrollment", "typed"),
    ("condition", "text"),
    ("arm_group/arm_group_label", "text"),
    ("arm_group/arm_group_type", "text"),
    ("arm_group/description", "text"),
    ("intervention", "intervention"),
    ("eligibility/criteria/textblock", "text"),
    ("eligibility/gender", "sex"),
    ("eligibility/minimum_age", "text"),
    ("eligibility/maximum_age", "text"),
    ("eligibility/healthy_volunteers", "text"),
    ("overall_official", "official"),
    ("overall_contact", "contact"),
    ("overall_contact_backup", "contact"),
    ("location/facility/name", "text"),
    ("location/facility/address", "address"),
    ("location/status", "text"),
    ("location/contact", "contact"),
    ("location/contact_backup", "contact"),
    ("location_countries/country", "set"),
    ("link", "children"),
    ("reference", "children"),
    ("results_reference", "children"),
    ("responsible_party", "responsible_party"),
    ("keyword", "text"),
]


def _flat(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _text(el, path: str = ".") -> str:
    found = el.find(path)
    return "" if found is None else _flat("".join(found.itertext()))


def _name(el) -> str:
    if el.find("first_name") is not None:
        parts = [_text(el, p) for p in ("first_name", "middle_name", "last_name", "degrees")]
    else:
        n = split_name(_text(el, "last_name"))
        parts = [n.first, n.middle, n.last, n.degrees]
    return " ".join(p for p in parts if p)


def _phone(el) -> str:
    ext = _text(el, "phone_ext")
    return f"{_text(el, 'phone')} ext {ext}" if ext else _text(el, "phone")


def _intervention(el) -> tuple:
    labels = tuple(_text(x) for x in el.findall("arm_group_label"))
    others = tuple(_text(x) for x in el.findall("other_name"))
    parts = ("intervention_type", "intervention_name", "description")
    return (*(_text(el, p) for p in parts), labels, others)


_RESPONSIBLE_PARTY = (
    "responsible_party_type",
    "investigator_full_name",
    "investigator_title",
    "investigator_affiliation",
)
# how COVERED compares an element -> what of it is compared
_VALUE: dict[str, Callable[[Any], object]] = {
    "text": _text,
    "date": lambda el: (iso_date(_text(el)), coded("date_type", el.get("type"))),
    "typed": lambda el: (_text(el), coded("date_type", el.get("type"))),
    "study_type": lambda el: coded("study_type", _text(el)),
    "masking": lambda el: coded("masking", _text(el)),
    "sex": lambda el: coded("sex", _text(el)),
    "outcome": lambda el: tuple(_text(el, p) for p in ("measure", "time_frame", "description")),
    "intervention": _intervention,
    "official": lambda el: (_name(el), _text(el, "role"), _text(el, "affiliation")),
    "contact": lambda el: (_name(el), _phone(el), _text(el, "email")),
    "address": lambda el: tuple(_text(el, p) for p in ("city", "state", "zip", "country")),
    "children": lambda el: tuple(sorted((child.tag, _text(child)) for child in el)),
    "responsible_party": lambda el: tuple(_text(el, p) for p in _RESPONSIBLE_PARTY),
}


def _value(el, how: str):
    if how not in _VALUE:
        raise AssertionError(how)
    return _VALUE[how](el)


def covered_values(root) -> dict[str, list]:
    values = {}
    for path, how in COVERED:
        found = [_value(el, "text" if how == "set" else how) for el in root.findall(path)]
        values[path] = sorted(found) if how == "set" else found  # the registry sorts countries
    return values


def test_enough_records_take_part():
    assert len(VALID_2020) >= 25


@pytest.mark.parametrize("path", VALID_2020, ids=ident)
def test_public_xml_round_trip_keeps_every_covered_value(path):
    [study] = studies(path)
    out = export_study(study, MappingSettings())
    written = next((data for name, data in out.files.items() if name.endswith("public.xml")), None)
    if b"<study_type>N/A</study_type>" in path.read_bytes():
        # public.xsd allows study type N/A; the model (API v2) has no such type, so the public XML
        # cannot be written without inventing one: the run report says so instead.
        assert written is None and study.design.study_type is None
        assert any(i.code == "public-xml-not-written" and "study_type" in i.message for i in out.issues)
        return
    assert written is not None, [i.message for i in out.issues if i.severity != "information"][:3]
    assert validate_xml(written, "public") == []
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    source = covered_values(etree.fromstring(path.read_bytes(), parser))
    result = covered_values(etree.fromstring(written, parser))
    differences = {p: (source[p], result[p]) for p in source if source[p] != result[p]}
    assert not differences
