"""The not-mapped check: values of the study that no element of an output holds."""

from mappers.context import MappingSettings, build_context
from mappers.finish import finish_json
from mappers.model import Intervention, Outcome, Person, Provenance, Site, Study
from mappers.render import render
from mappers.trace import json_values, untraced, xml_texts, xml_values
from tests.templates.test_ctgov_xml import rich_study


def study(**fields) -> Study:
    return Study(provenance=Provenance(source="s.txt", layout="text-a", content_hash="0"), **fields)


def test_values_found_anywhere_in_the_output_are_traced():
    s = study(
        brief_title="A title", conditions=["Flu"], outcomes=[Outcome(kind="primary", measure="Death rate")]
    )
    output = {
        "title": "A title",
        "condition": [{"text": "Flu"}],
        "goal": [{"description": {"text": "Death rate"}}],
    }
    assert untraced(s, json_values(output)) == []


def test_missing_values_are_named_by_path():
    s = study(
        brief_title="A title",
        interventions=[Intervention(name="Aspirin", description="Low dose aspirin daily")],
        sites=[Site(city="Lyon", country="France")],
    )
    assert untraced(s, json_values({"title": "A title", "focus": [{"text": "Aspirin"}]})) == [
        "interventions[1].description",
        "sites[1].city",
        "sites[1].country",
    ]


def test_a_person_is_traced_by_surname_when_the_output_splits_names():
    s = study(officials=[Person(name="Peter J Schmidt, M.D.")])
    xml = b"<o><first_name>Peter</first_name><middle_name>J</middle_name><last_name>Schmidt</last_name></o>"
    assert untraced(s, xml_values(xml)) == []
    assert untraced(s, xml_values(b"<o><first_name>Peter</first_name></o>")) == ["officials[1].name"]


def test_numbers_are_traced_as_values():
    from mappers.model import Enrollment

    s = study(enrollment=Enrollment(count=14))
    assert untraced(s, json_values({"quantity": 14})) == []
    assert untraced(s, json_values({"quantity": 15})) == ["enrollment.count"]


def test_the_r4_bundle_says_what_it_cannot_hold():
    rich = rich_study().model_copy(update={"removed_countries": ["Atlantis"]})
    bundle = finish_json(render("fhir/r4/bundle.json.j2", build_context(rich, MappingSettings())))
    # an official's affiliation (a PractitionerRole) and site contacts' names (the site's
    # ResearchStudy) have places in R4; a country whose sites the registry removed has none:
    # reported, not silently dropped.
    assert untraced(rich, json_values(bundle)) == ["removed_countries[1]"]


def test_an_xml_outputs_values_are_its_texts_as_itertext_gives_them():
    """Each element's text and tail, stripped, blank ones left out; a comment's or processing
    instruction's own text is not a value, its tail is; CDATA is text."""
    from lxml import etree

    document = (
        b"<r> lead <a>one<!-- note --> after note </a> tail of a <?pi data?> after pi "
        b"<b><![CDATA[x < y]]></b><c/>  <d> spaced  </d>\n</r>"
    )
    tree = etree.fromstring(document)
    expected = [t.strip() for t in tree.itertext() if t.strip()]
    assert sorted(xml_values(document)) == sorted(expected) == sorted(xml_values(tree))
    assert sorted(expected) == sorted(
        ["lead", "one", "after note", "tail of a", "after pi", "x < y", "spaced"]
    )
    inner = tree.find("a")  # a subtree: its own texts only, not its tail
    assert sorted(xml_values(inner)) == ["after note", "one"]
    # the set the export traces against: the same texts, each once
    assert xml_texts(document) == xml_texts(tree) == set(expected)
    assert xml_texts(b"<r>a<b>a</b> <c> </c></r>") == {"a"}


def test_json_values_are_every_string_and_number_depth_first():
    value = {"a": "x", "b": [1, 2.5, True, None, {"c": "y", "d": []}], "e": {"f": False, "g": "z"}}
    assert json_values(value) == ["x", "1", "2.5", "y", "z"]
    assert json_values("alone") == ["alone"] and json_values(7) == ["7"] and json_values(None) == []


def test_few_and_many_absent_values_are_looked_for_alike(monkeypatch):
    """Up to ``_FEW`` values not found whole are looked for one by one, more by Aho-Corasick:
    the two find the same values inside longer ones (among them one that spans no boundary
    between output values, and one found only across it, which neither may find)."""
    import mappers.trace as trace

    s = study(keywords=[f"kw{n}" for n in range(60)], conditions=["Flu", "Cold"])
    output = ["about kw1 and kw22", "kw3", "kw40x", "kw5", "Fl", "u", "Cold season", "kw59"]
    found = {}
    for few in (0, 1000):
        monkeypatch.setattr(trace, "_FEW", few)
        found[few] = untraced(s, output)
    assert found[0] == found[1000]
    assert untraced(s, set(output)) == untraced(s, frozenset(output)) == found[0]  # taken as they are
    assert "conditions[1]" in found[0] and "conditions[2]" not in found[0]
    assert "keywords[2]" not in found[0] and "keywords[7]" in found[0] and "keywords[41]" not in found[0]
