"""The template context's merge of a study's people: one key per person, from the one name
splitter, so the FHIR parties and the PRS name elements agree on who is who."""

from mappers.context import ResourceIds, parties, person_key, resource_id
from mappers.model import Identifier, Person, Provenance, Study
from mappers.names import split_name


def test_titles_degrees_case_and_accents_do_not_make_two_people():
    key = person_key("Imanol Otaegui")
    assert person_key("Imanol Otaegui, MD") == key
    assert person_key("Dr. IMANOL OTAEGUI, PhD") == key
    assert person_key("Otaegui, Imanol") == key
    assert person_key("Imanol Otaégui") == key
    assert person_key("Iñigo Otaegui") != key


def test_the_key_follows_the_name_splitter():
    for name in ("Ben Shore, Dr.", "Maria van der Berg MD", "Jean-Luc Picard", "Smith"):
        parts = split_name(name)
        first, last = person_key(name)
        assert (first, last) == ((parts.first.lower(), parts.last.lower()) if first else ("", last))


def test_a_text_that_is_not_a_person_keys_whole():
    # "Clinical Trials" would be first "Clinical", last "Trials" to a bare name parser
    assert person_key("Clinical Trials") == ("", "clinical trials")
    assert person_key("Gilead Study Director") == ("", "gilead study director")
    assert person_key("Call 1-877-CTLILLY") != person_key("Call  1-877-ctlilly x")


def test_parties_merge_an_official_and_a_contact_and_record_the_assumption():
    study = Study(
        officials=[Person(name="Anna Berg, MD", role="PRINCIPAL_INVESTIGATOR", affiliation="Uni")],
        contacts=[
            Person(name="Dr. Anna Berg", phone="555-0100", email="a@example.org"),
            Person(name="Clinical Trials", phone="555-0199"),
        ],
        provenance=Provenance(source="tests/context", layout="test", content_hash="0" * 64),
    )
    found, issues = parties(study)
    assert [p.names for p in found] == [["Anna Berg, MD", "Dr. Anna Berg"], ["Clinical Trials"]]
    assert found[0].sources == ["officials[1]", "contacts[1]"]
    assert found[0].phones == ["555-0100"] and found[0].affiliations == ["Uni"]
    assert [i.code for i in issues] == ["assumed-same-person"]


def test_resource_ids_are_the_ids_of_each_resource_type_by_attribute():
    ident = Identifier(kind="nct", value="NCT01234567", system="http://clinicaltrials.gov")
    ids = ResourceIds.of(ident)
    assert ids.Bundle == resource_id("Bundle", ident)
    assert ids.ResearchStudy == resource_id("ResearchStudy", ident)
    assert ids.PlanDefinition == resource_id("PlanDefinition", ident)
    assert len({ids.Bundle, ids.ResearchStudy, ids.PlanDefinition}) == 3
