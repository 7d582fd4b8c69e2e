"""References, links and the responsible party in every output (fields added for CT.gov sources)."""

from lxml import etree

from mappers.context import MappingSettings
from mappers.export import export_study
from mappers.model import (
    Design,
    Identifier,
    Link,
    Organization,
    Provenance,
    Reference,
    ResponsibleParty,
    StatusInfo,
    Study,
)

STUDY = Study(
    identifiers=[Identifier(kind="nct", value="NCT01234567")],
    brief_title="A study",
    sponsor=Organization(name="Sponsor", agency_class="OTHER"),
    status=StatusInfo(overall_status="COMPLETED"),
    design=Design(study_type="INTERVENTIONAL"),
    references=[
        Reference(citation="Background paper. J Test. 2001;1:1-2.", pmid="11111111", type="BACKGROUND"),
        Reference(citation="Results paper. J Test. 2020;9:3-4.", pmid="22222222", type="RESULT"),
        Reference(citation="A citation without PMID."),
    ],
    links=[
        Link(url="https://example.org/study", description="Study website"),
        Link(url="https://example.org/bare"),
    ],
    responsible_party=ResponsibleParty(
        type="PRINCIPAL_INVESTIGATOR",
        investigator_name="Jane Doe, MD",
        investigator_title="Professor",
        investigator_affiliation="Example University",
    ),
    provenance=Provenance(source="test", layout="test", content_hash="0"),
)


def _export():
    out = export_study(STUDY, MappingSettings())
    assert out.status == "exported", [i.message for i in out.issues if i.severity == "error"]
    return out


def _xml(out, name: str):
    data = next(v for k, v in out.files.items() if k.endswith(name))
    return etree.fromstring(data)


def test_fhir_related_artifacts_and_responsible_investigator():
    out = _export()
    study = out.resources["ResearchStudy"][0]
    source, tool, *artifacts = study["relatedArtifact"]
    assert source == {
        "type": "derived-from",
        "display": "ClinicalTrials.gov record NCT01234567",
        "url": "https://clinicaltrials.gov/study/NCT01234567",
    }
    assert tool["display"].startswith("Transformed with trialexport ")
    classifier = "http://hl7.org/fhir/5.0/StructureDefinition/extension-RelatedArtifact.classifier"
    ctgov = "https://clinicaltrials.gov/data-about-studies/study-data-structure#enum-ReferenceType"
    # R4's label is a citation label ("[1]"): the CT.gov reference type goes to R5's classifier
    assert artifacts[0] == {
        "extension": [
            {
                "url": classifier,
                "valueCodeableConcept": {
                    "coding": [{"system": ctgov, "code": "BACKGROUND", "display": "Background"}],
                    "text": "Background",
                },
            }
        ],
        "type": "citation",
        "citation": "Background paper. J Test. 2001;1:1-2.",
        "url": "https://pubmed.ncbi.nlm.nih.gov/11111111/",
    }
    assert not any("label" in a for a in artifacts)
    assert artifacts[1]["extension"][0]["valueCodeableConcept"]["text"] == "Result"
    assert artifacts[2] == {"type": "citation", "citation": "A citation without PMID."}
    assert artifacts[3] == {
        "type": "documentation",
        "url": "https://example.org/study",
        "display": "Study website",
    }
    assert artifacts[4] == {"type": "documentation", "url": "https://example.org/bare"}
    # the responsible party is the principal investigator: R4's principalInvestigator, a
    # PractitionerRole holding their affiliation and official title
    assert study["principalInvestigator"] == {
        "reference": "#principal-investigator-role",
        "display": "Jane Doe, MD",
    }
    [role] = [c for c in study["contained"] if c["id"] == "principal-investigator-role"]
    assert role["practitioner"] == {"reference": "#principal-investigator"}
    assert role["organization"] == {"display": "Example University"} and role["code"] == [
        {"text": "Professor"}
    ]


def test_prs_references_links_and_responsible_party():
    root = _xml(_export(), "prs.xml")
    refs = root.findall("clinical_study/reference")
    assert [r.findtext("pubmed_id") for r in refs] == ["11111111", "22222222", None]
    assert [r.findtext("is_results_ref") for r in refs] == [None, "yes", None]
    assert [link.findtext("url") for link in root.findall("clinical_study/link")] == [
        "https://example.org/study"
    ]
    party = root.find("clinical_study/sponsors/resp_party")
    assert party.findtext("resp_party_type") == "Principal Investigator"
    assert party.findtext("investigator_affiliation") == "Example University"


def test_public_references_links_and_responsible_party():
    root = _xml(_export(), "public.xml")
    assert [r.findtext("PMID") for r in root.findall("reference")] == ["11111111", None]
    assert [r.findtext("PMID") for r in root.findall("results_reference")] == ["22222222"]
    assert [link.findtext("description") for link in root.findall("link")] == ["Study website", None]
    party = root.find("responsible_party")
    assert [child.tag for child in party] == [
        "responsible_party_type",
        "investigator_affiliation",
        "investigator_full_name",
        "investigator_title",
    ]
    assert party.findtext("investigator_full_name") == "Jane Doe, MD"
