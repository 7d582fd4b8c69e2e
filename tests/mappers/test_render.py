"""mappers.render: the template environment's JSON filter, per kind of template."""

from __future__ import annotations

import json

from mappers.render import render

VALUE = {"title": "<b>Tom & Jerry's</b>", "n": [1, 2.5, None, True]}


def test_tojson_in_a_json_template_is_plain_json(tmp_path):
    (tmp_path / "x.json.j2").write_text("{{ value|tojson }}")
    text = render("x.json.j2", {"value": VALUE}, str(tmp_path))
    assert json.loads(text) == VALUE
    assert "<b>" in text  # no HTML escapes: the JSON output is parsed again, not put in markup


def test_tojson_in_a_markup_template_stays_safe_in_html(tmp_path):
    (tmp_path / "x.html.j2").write_text("<p>{{ value|tojson }}</p>")
    text = render("x.html.j2", {"value": VALUE}, str(tmp_path))
    assert "<b>" not in text and "&" not in text.removeprefix("<p>").removesuffix("</p>")
    assert json.loads(text.removeprefix("<p>").removesuffix("</p>")) == VALUE
