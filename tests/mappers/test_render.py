"""Template overlays render in Jinja's sandbox: an overlay is code a deployment parameter can
change, so it reads the values it is given and never reaches Python's internals (issue 17)."""

from __future__ import annotations

import jinja2
import pytest

from mappers.render import environment, render


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
