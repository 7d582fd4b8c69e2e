"""mappers.finish: what the JSON templates' output becomes (trailing commas accepted, empty
values pruned, strings stripped) and the XML re-serialised."""

from __future__ import annotations

import pytest

from mappers.finish import TemplateOutputError, finish_json, prune


def test_prune_drops_empty_values_at_every_depth_and_keeps_false_and_zero():
    value = {
        "a": None,
        "b": "  ",
        "c": " x ",
        "d": [None, "", {}, [], {"e": [None]}, 0, False, " y", ["", "z"]],
        "f": {"g": {"h": None}},
        "i": 0,
        "j": False,
        "k": 1.5,
    }
    assert prune(value) == {"c": "x", "d": [0, False, "y", ["z"]], "i": 0, "j": False, "k": 1.5}


def test_prune_keeps_the_order_of_what_stays():
    pruned = prune({"z": [3, None, 2, "", 1], "y": "", "x": {"b": 1, "a": None, "c": 2}})
    assert list(pruned) == ["z", "x"] and pruned["z"] == [3, 2, 1] and list(pruned["x"]) == ["b", "c"]


@pytest.mark.parametrize("value, expected", [(" s ", "s"), (None, None), (3, 3), ([], []), ({}, {})])
def test_prune_of_a_bare_value(value, expected):
    assert prune(value) == expected


def test_finish_json_accepts_trailing_commas_and_prunes():
    text = '{"a": [1, null, {"b": ""},], "c": {"d": null,}, "e": " f ",}'
    assert finish_json(text) == {"a": [1], "e": "f"}


def test_finish_json_names_the_template_of_text_that_is_not_json():
    with pytest.raises(TemplateOutputError, match=r"bundle\.json\.j2"):
        finish_json('{"a": }', "bundle.json.j2")


def test_prune_gathers_the_values_it_keeps_as_json_values_lists_them_less_narratives():
    value = {
        "a": [" x ", "", 2, False, None, {"b": 1.5, "c": True}],
        "text": {"status": "generated", "div": "<div>x y</div>"},
        "d": {"text": "a CodeableConcept's text is a value", "e": [{"text": {"div": "inner narrative"}}]},
    }
    values: list[str] = []
    pruned = prune(value, values)
    assert values == ["x", "2", "1.5", "a CodeableConcept's text is a value"]
    assert "text" in pruned and pruned["d"]["e"][0]["text"] == {"div": "inner narrative"}


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_finish_json_values_are_the_bundles_values_less_its_narratives(version):
    """The trace's values of a bundle as the export gathers them (during the prune) are those of
    the finished bundle, walked on its own, less its resources' narratives."""
    from mappers.context import MappingSettings, build_context
    from mappers.export import FHIR_TEMPLATES
    from mappers.render import render
    from mappers.trace import json_values
    from tests.templates.test_ctgov_xml import rich_study

    template = FHIR_TEMPLATES[version]
    text = render(template, build_context(rich_study(), MappingSettings(fhir_version=version)))
    values: list[str] = []
    bundle = finish_json(text, template, values)
    narratives = [e["resource"].pop("text") for e in bundle["entry"] if "text" in e["resource"]]
    assert narratives and values and sorted(values) == sorted(json_values(bundle))
