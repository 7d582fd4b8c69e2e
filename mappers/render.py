"""Jinja environments for the shipped templates, with a user's directory overlaid on top.

A template found in the user's ``--templates`` directory wins over the shipped one of the same
relative path, so a user overrides one file (or one macro file) without copying the rest.
JSON templates render values through ``tojson``; XML templates autoescape.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import jinja2
import orjson
from nameparser import HumanName

SHIPPED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def split_name(name: str | None) -> dict[str, str]:
    """Split a person's name for formats that want first/middle/last/degrees (PRS XML)."""
    first, middle, last, degrees = _split_name(name or "")
    return {"first": first, "middle": middle, "last": last, "degrees": degrees}


@lru_cache(maxsize=16_384)
def _split_name(name: str) -> tuple[str, str, str, str]:
    """Cached: nameparser costs ~0.1 ms a name, and one study's officials and site contacts are
    split once per XML output and again by the trace, while investigators recur across studies."""
    parsed = HumanName(name)
    return " ".join(p for p in (parsed.title, parsed.first) if p), parsed.middle, parsed.last, parsed.suffix


def _dumps(value, **_) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:  # lone surrogates, integers beyond 64 bits
        raise jinja2.TemplateRuntimeError(f"value cannot be written as JSON: {exc}") from exc


_ENVIRONMENTS: dict[str | None, jinja2.Environment] = {}
_BUILDING = threading.Lock()


def environment(user_dir: str | None = None) -> jinja2.Environment:
    """One environment per overlay directory, shared by every batch thread: compiling templates
    is the slow part, and Jinja renders loaded templates safely from many threads. Built under a
    lock, so that two threads asking first get the same one, fully set up."""
    env = _ENVIRONMENTS.get(user_dir)
    if env is None:
        with _BUILDING:
            env = _ENVIRONMENTS.get(user_dir)
            if env is None:
                env = _ENVIRONMENTS[user_dir] = _build_environment(user_dir)
    return env


def _build_environment(user_dir: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if user_dir:
        loaders.append(jinja2.FileSystemLoader(user_dir))
    loaders.append(jinja2.FileSystemLoader(SHIPPED_TEMPLATES))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("xml", "xml.j2", "html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["split_name"] = split_name
    # tojson runs once per value: orjson keeps it cheap; Jinja still makes the result HTML-safe.
    env.policies["json.dumps_function"] = _dumps
    env.policies["json.dumps_kwargs"] = {}
    return env


def render(template: str, context: dict, user_dir: str | None = None) -> str:
    return environment(user_dir).get_template(template).render(context)
