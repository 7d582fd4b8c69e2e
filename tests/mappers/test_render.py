"""mappers.render: the template environment's JSON filter per kind of template, and template
overlays in Jinja's sandbox: an overlay is code a deployment parameter can change, so it reads the
values it is given and never reaches Python's internals (issue 17)."""

from __future__ import annotations

import functools
import json
from typing import Any

import jinja2
import pydantic
import pytest

from mappers.render import environment, render

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


@pytest.mark.parametrize("user_dir", [None, "overlay"])
def test_both_environments_write_plain_json_in_json_templates(tmp_path, user_dir):
    """The shipped environment and an overlay's sandboxed one share the JSON filter (a string
    template is autoescaped by default: the block turns it off, as a .json.j2 name does)."""
    env = environment(str(tmp_path) if user_dir else None)
    assert isinstance(env, jinja2.sandbox.SandboxedEnvironment) == bool(user_dir)
    text = env.from_string("{% autoescape false %}{{ value|tojson }}{% endautoescape %}").render(value=VALUE)
    assert json.loads(text) == VALUE and "<b>" in text


def test_the_shipped_templates_alone_are_not_sandboxed():
    assert not isinstance(environment(None), jinja2.sandbox.SandboxedEnvironment)


@pytest.mark.parametrize(
    "escape",
    [
        "{{ study.__class__.__mro__ }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ render.__globals__ }}",
        "{{ study.model_config.__class__ }}",
    ],
)
def test_an_overlay_cannot_reach_pythons_internals(tmp_path, escape, seed_studies):
    (tmp_path / "ctgov").mkdir()
    (tmp_path / "ctgov" / "evil.xml.j2").write_text(f"<x>{escape}</x>")
    with pytest.raises(jinja2.exceptions.SecurityError):
        render("ctgov/evil.xml.j2", {"study": seed_studies["000"], "render": render}, str(tmp_path))


def test_an_overlay_still_reads_the_values_it_is_given(tmp_path, seed_studies):
    (tmp_path / "ctgov").mkdir()
    (tmp_path / "ctgov" / "title.xml.j2").write_text("<t>{{ study.brief_title|upper }}</t>")
    study = seed_studies["000"]
    assert (
        render("ctgov/title.xml.j2", {"study": study}, str(tmp_path)) == f"<t>{study.brief_title.upper()}</t>"
    )


@pytest.mark.parametrize("user_dir", [None, "overlay"])
def test_split_name_reads_as_attributes_and_as_items(tmp_path, user_dir):
    env = environment(str(tmp_path) if user_dir else None)
    template = env.from_string(
        "{% set n = name|split_name %}{{ n.first }}|{{ n.middle }}|{{ n.last }}|{{ n.degrees }}"
        "/{{ n['first'] }}|{{ n['last'] }}"
    )
    assert template.render(name="Carla I. Falkson, MD") == "Carla|I.|Falkson|MD/Carla|Falkson"
    assert template.render(name=None) == "|||/|"


def test_the_shipped_context_calls_macros_methods_and_context_functions_as_jinja_does(tmp_path):
    """Macros get the evaluation context (escaping follows the calling template), built-in methods
    are called inside loops, a callable that asks for the context still gets it."""
    env = environment(None)

    @jinja2.pass_context
    def template_name(context):
        return context.name

    xml = env.from_string(
        "{% macro b(x) %}<b>{{ x }}</b>{% endmacro %}{{ b('<i>') }}"
        "{% for k in ['a', 'z'] %}{{ d.get(k, '-') }}{% endfor %}{{ who() }}",
    )
    assert xml.render(d={"a": "&"}, who=template_name) == "<b>&lt;i&gt;</b>&amp;-None"
    (tmp_path / "t.json.j2").write_text("{% macro b(x) %}<b>{{ x }}</b>{% endmacro %}{{ b('<i>') }}")
    json_template = env.overlay(loader=jinja2.FileSystemLoader(tmp_path)).get_template("t.json.j2")
    assert json_template.render() == "<b><i></b>"
    with pytest.raises(TypeError, match="takes not more than"):
        env.from_string("{% macro b(x) %}{% endmacro %}{{ b(1, 2) }}").render()


JOINED_OUTPUT_TEMPLATES = {
    "page.json.j2": (
        '{% set who = "x" %}[{{ a | tojson }}, "{{ b }}", {% include "part.json.j2" %}, '
        '{% include ["missing.j2", "part.json.j2"] %}, {% include "nowhere.j2" ignore missing %}'
        '{% include "part.json.j2" without context %}, {% set kept %}{% include "part.json.j2" %}{% endset %}'
        "{{ kept | length }}, {% for i in range(3) %}{{ i }}{{ loop.index }}-{% endfor %}]\n"
    ),
    "part.json.j2": "{{ who | default('-') }}:{% if a is defined %}{{ a }}|{{ b }}{% endif %}",
    "base.xml.j2": "<r>{% block body %}<d>{{ b }}</d>{% endblock %}{{ a }}</r>",
    "child.xml.j2": (
        '{% extends "base.xml.j2" %}{% block body %}<c>{{ a }}</c>{% include "part.json.j2" %}'
        "{% autoescape false %}{{ b }}{{ a }}{% endautoescape %}{{ super() }}{% endblock %}"
    ),
    "macros.xml.j2": (
        "{% macro m(x) %}<m>{{ x }}</m>{% endmacro %}"
        "{% macro w(x) %}<w>{{ x }}{{ caller() }}</w>{% endmacro %}"
        "{{ m(a) }}{% call w(b) %}<k>{{ a }}</k>{% endcall %}{% filter upper %}{{ b }}x{% endfilter %}"
    ),
}


@pytest.mark.parametrize("name", ["page.json.j2", "child.xml.j2", "macros.xml.j2"])
def test_the_shipped_code_generator_writes_what_jinjas_writes(name):
    """The shipped environment yields a node's pieces joined and an include's output whole: the
    same text as Jinja's own generator, in JSON and autoescaped templates, through includes of
    every kind, blocks, macros, call and filter blocks."""
    options: dict[str, Any] = {
        "autoescape": jinja2.select_autoescape(enabled_extensions=("xml", "xml.j2")),
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    loader = jinja2.DictLoader(JOINED_OUTPUT_TEMPLATES)
    values = {"a": "<a & 'b'>", "b": 'say "hi"'}
    shipped = environment(None).overlay(loader=loader, **options)
    jinjas = jinja2.Environment(loader=loader, **options)
    jinjas.filters["tojson"] = shipped.filters["tojson"]
    expected = jinjas.get_template(name).render(values)
    assert shipped.get_template(name).render(values) == expected
    assert "&lt;a &amp;" in expected or "<a & 'b'>" in expected


def test_an_import_sees_the_importing_templates_own_globals_as_jinja_gives_them():
    """The shipped templates' imports reuse the imported module unless the importer has globals
    of its own (a template's globals), which Jinja's import then passes on: the same here."""
    loader = jinja2.DictLoader({"m.j2": "{% macro f() %}{{ g | default('none') }}{% endmacro %}"})
    shipped = environment(None).overlay(loader=loader)
    plain = shipped.from_string("{% import 'm.j2' as m %}{{ m.f() }}")
    own = shipped.from_string("{% import 'm.j2' as m %}{{ m.f() }}", globals={"g": "own"})
    assert (plain.render(), own.render(), plain.render()) == ("none", "own", "none")


def test_positional_calls_see_loop_and_block_variables_as_jinjas_calls_do():
    """Calls by position go straight to a built-in method or a macro; a callable that asks for
    the context still sees the variables set in the loop or block around the call."""

    @jinja2.pass_context
    def seen(context, name):
        return context.get(name, "-")

    templates = {
        "base.json.j2": "{% block b %}{% endblock %}",
        "calls.json.j2": (
            '{% extends "base.json.j2" %}{% macro m(x, y=2) %}{{ x }}{{ y }}{% endmacro %}{% block b %}'
            "{% set z = 'z' %}{{ seen('z') }}{% for x in 'ab' %}{% set y = x * 2 %}{{ seen('y') }}"
            "{{ d.get(x, '?') }}{{ m(x) }}{{ m(x, 3) }}{{ ' '.join([x, y]) }}"
            "{{ twice(x) }}{{ seen_cached('y') }}{% endfor %}{% endblock %}"
        ),
    }
    loader = jinja2.DictLoader(templates)
    shipped = environment(None).overlay(loader=loader)
    jinjas = jinja2.Environment(loader=loader)
    values = {
        "seen": seen,
        "d": {"a": 1},
        "twice": functools.lru_cache(lambda x: x * 2),
        "seen_cached": functools.lru_cache(seen),
    }
    expected = jinjas.get_template("calls.json.j2").render(values)
    assert (
        shipped.get_template("calls.json.j2").render(values) == expected == "zaa1a2a3a aaaaaabb?b2b3b bbbbbb"
    )


def test_the_shipped_templates_write_what_jinja_itself_writes_of_real_records(seed_studies):
    """Every output template of the product, rendered by the shipped environment (its code
    generator and context) and by Jinja's own with the same loader, options, filters and tests,
    writes the same text of the seeds and every JSON and XML fixture record, R4 and R5."""
    from mappers.context import MappingSettings, build_context
    from mappers.ctgov_xml import public_record_gaps
    from mappers.export import FHIR_TEMPLATES, PRS_TEMPLATE, PUBLIC_TEMPLATE
    from tests.mappers.readers.ctgov_fixtures import JSON_FILES, XML_FILES, studies

    shipped = environment(None)
    jinjas = jinja2.Environment(
        loader=shipped.loader,
        autoescape=shipped.autoescape,
        undefined=shipped.undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    jinjas.filters.update(shipped.filters)
    jinjas.tests.update(shipped.tests)
    jinjas.policies.update(shipped.policies)
    records = list(seed_studies.values()) + [s for path in JSON_FILES + XML_FILES for s in studies(path)]
    assert len(records) > 50
    for version in ("R4", "R5"):
        for study in records:
            context = build_context(study, MappingSettings(fhir_version=version))
            public = (PUBLIC_TEMPLATE,) if study.nct_id and not public_record_gaps(study) else ()  # as export
            for name in (FHIR_TEMPLATES[version], PRS_TEMPLATE, *public):
                text = shipped.get_template(name).render(context)
                assert text == jinjas.get_template(name).render(context), (study.nct_id, name)


class _Site(pydantic.BaseModel):
    name: str
    country: str | None = None


@pytest.mark.parametrize(
    ("obj", "argument"),
    [
        (_Site(name="A", country="France"), "country"),  # a model's field: attribute read at once
        (_Site(name="A"), "country"),  # a field left empty
        (_Site(name="A"), "missing"),  # no such field: undefined, as Jinja gives it
        ({"country": "France"}, "country"),  # a mapping: the item, first
        ({"country": "France"}, "items"),  # a mapping without that key: Jinja's attribute fallback
        (["a", "b"], 1),  # a sequence by index
        (list, "x"),  # a class (subscripted through __class_getitem__), not an instance
        (3, "real"),  # an int has no item, its attribute is read
    ],
)
def test_the_shipped_getitem_answers_as_jinjas(obj, argument):
    """``x[name]`` and the filters' ``attribute=`` (``map``, ``selectattr``, ``unique``…) read a
    model's attribute without trying a subscript first: the same value, or the same undefined."""
    shipped = environment(None)
    stock = jinja2.Environment(undefined=jinja2.StrictUndefined)
    mine, theirs = shipped.getitem(obj, argument), stock.getitem(obj, argument)
    if isinstance(theirs, jinja2.Undefined):
        assert isinstance(mine, jinja2.StrictUndefined) and mine._undefined_name == theirs._undefined_name
    else:
        assert mine == theirs
    template = "{{ sites | map(attribute='country') | select | unique | join(',') }}"
    sites = [_Site(name=str(n), country=c) for n, c in enumerate(["France", None, "Chad", "France"])]
    written = shipped.from_string(template).render(sites=sites)
    assert written == stock.from_string(template).render(sites=sites) == "France,Chad"


def test_a_macro_called_with_fewer_arguments_gets_its_defaults_as_jinjas_call_gives_them():
    """A positional call that leaves arguments to their defaults takes the shipped context's
    direct path too; a default computed from an earlier argument, and an argument without a
    default left out (undefined), read as under stock Jinja."""
    source = (
        "{% macro m(a, b=a ~ '!', c={}) %}[{{ a }}|{{ b }}|{{ c.get('k', 'none') }}]{% endmacro %}"
        "{% macro n(a, b) %}{{ b is defined }}{% endmacro %}"
        "{{ m('x') }}{{ m('x', 'y') }}{{ m('x', 'y', {'k': 'z'}) }}{{ n(1) }}"
    )
    shipped = environment(None).from_string(source).render()
    assert shipped == jinja2.Environment().from_string(source).render() == "[x|x!|none][x|y|none][x|y|z]False"
