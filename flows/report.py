"""The run report as web pages, for people who scan a scheduled run instead of reading JSON.

Pages are built only from what the run writes (a study's run-report entry and its canonical
study, as in ``study.json``), so they can never say something the machine-readable report does
not. They are self-contained (inline CSS, no scripts, no web fonts) so they open from a file
share or a CI artifact with no network, and hold no clock reading, so the same run always gives
the same bytes.

At registry scale a page is rendered with its study's export, batch by batch, and only for
studies the run exported afresh: an unchanged input keeps the page an earlier run wrote. The
index is streamed from the run's entries at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

import orjson

from flows.excerpts import Excerpt, excerpt, names_lines, source_lines
from flows.output import atomic_stream
from flows.records import ReportEntry, RunReport
from mappers.model import Issue, Study
from mappers.output_layout import INDEX_PAGE, PAGES, is_study_json, label
from mappers.render import environment

_EXPANDED = ("design", "status")  # objects always present in the model: listed field by field
_NOT_SHOWN = {"provenance", "issues"}
_NOT_MAPPED = re.compile(r"^(?P<output>.+?) has no element for ")
_LEVEL = re.compile(r"[.\[]")  # where a field path's next level starts (not at its first character)
# A field's values a page lists as empty: built once, never changed
_EMPTY: tuple[object, ...] = (None, "", [], {})
# What a study page shows of the run: nothing that changes from one run to the next, so the page
# of a study the run skipped (unchanged input) stays true as it is.
_PAGE_REPORT = {"run": {"trialexport_version": version("trialexport")}}


class FieldRow(NamedTuple):
    """A row of a study page's field table. A tuple, so that the page's loop unpacks each row in
    one step (``for path, value, sources, quoted in view.fields``) instead of looking its parts
    up attribute by attribute; ``row.path`` and the rest still read as attributes."""

    path: str
    value: object
    sources: list[tuple[str, str]]  # (canonical field, where in the source)
    quoted: Excerpt  # the source lines themselves, where known


@dataclass
class StudyView:
    """One run-report entry, with what its pages show worked out once here, not in templates."""

    entry: ReportEntry
    page: str  # relative to the output directory
    study: dict | None = None
    title: str | None = None
    counts: dict[str, int | None] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)
    fields: list[FieldRow] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    assumptions: list[Issue] = field(default_factory=list)
    not_mapped: dict[str, list[str]] = field(default_factory=dict)
    other_issues: list[Issue] = field(default_factory=list)


def _load_study(output_dir: Path, entry: ReportEntry) -> dict | None:
    study_json = next((o for o in entry.outputs if is_study_json(o)), None)
    if study_json is None:
        return None
    try:
        return orjson.loads((output_dir / study_json).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None  # the page still shows the run report's own entry


def _sources_by_field(field_sources: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """The recorded sources of each field a page shows and of each field that contains them:
    ``arms[0].name`` is filed under ``arms``, ``arms[0]`` and itself, in ``field_sources`` order.
    Built once a study, so that finding a row's sources is one look-up, not a scan of every
    source per row. A row's path is a field or a field's sub-field (``design.phases``: no ``[``,
    one ``.`` at most), so a source is filed under its first two levels and itself only: a
    deeper level (``sites[3].contacts[0]``) is no row's path."""
    by_field: dict[str, list[tuple[str, str]]] = {}
    for name, where in field_sources.items():
        pair = (name, where)
        first = _LEVEL.search(name, 1)
        if first is not None:
            by_field.setdefault(name[: first.start()], []).append(pair)
            second = _LEVEL.search(name, first.end())
            if second is not None:
                by_field.setdefault(name[: second.start()], []).append(pair)
        by_field.setdefault(name, []).append(pair)
    return by_field


def _sources_of(
    path: str, field_sources: dict[str, str], by_field: dict[str, list[tuple[str, str]]]
) -> list[tuple[str, str]]:
    """The sources recorded for ``path`` or for a field inside it; else, for a field of a block
    read whole ("design block"), the block's. The list ``by_field`` holds, not a copy: no two rows
    have one path, and nothing changes a row's sources."""
    found = by_field.get(path)
    if found:
        return found
    if "." in path:
        parent = path.split(".", 1)[0]
        return [(parent, field_sources[parent])] if parent in field_sources else []
    return []


def _field_paths() -> tuple[tuple[str, str, str | None], ...]:
    """Every canonical field a page lists, in model order: (path, field, sub-field or None)."""
    paths: list[tuple[str, str, str | None]] = []
    for name, info in Study.model_fields.items():
        if name in _NOT_SHOWN:
            continue
        if name in _EXPANDED:
            subs = info.annotation.model_fields  # type: ignore[union-attr]
            paths += [(f"{name}.{sub}", name, sub) for sub in subs]
        else:
            paths.append((name, name, None))
    return tuple(paths)


_FIELD_PATHS = _field_paths()  # the model's, fixed with the package: worked out once


def _fields(study: dict, lines: list[str] | None) -> tuple[list[FieldRow], list[str]]:
    """Every canonical field in model order: the ones with a value, and the ones left empty."""
    field_sources = study.get("provenance", {}).get("field_sources", {})
    by_field = _sources_by_field(field_sources)
    rows, empty = [], []
    for path, name, sub in _FIELD_PATHS:
        value = study.get(name) if sub is None else study.get(name, {}).get(sub)
        if value in _EMPTY:
            empty.append(path)
        else:
            sources = _sources_of(path, field_sources, by_field)
            quoted = [line for _, where in sources for line in excerpt(lines, where)] if lines else []
            rows.append(FieldRow(path, value, sources, quoted))
    return rows, empty


def _classify(view: StudyView) -> None:
    for issue in view.entry.issues:
        code = issue.code or ""
        if issue.severity == "error":
            view.errors.append(issue)
        elif issue.severity == "warning":
            view.warnings.append(issue)
        if code == "not-mapped":
            match = _NOT_MAPPED.match(issue.message or "")
            output = match["output"] if match else "an output"
            view.not_mapped.setdefault(output, []).append(issue.field or issue.message)
        elif code.startswith(("assumed-", "missing-")):
            view.assumptions.append(issue)
        else:
            view.other_issues.append(issue)


def _index_view(entry: ReportEntry) -> StudyView:
    """What the index row shows, from the run-report entry alone: the row of a study exported by
    an earlier run costs no file read."""
    view = StudyView(entry=entry, page=entry.page or "", title=entry.title)
    counts = entry.counts
    view.counts = {k: getattr(counts, k) if counts else None for k in ("arms", "outcomes", "sites")}
    view.links = [(label(output), output) for output in entry.outputs]
    _classify(view)
    return view


def study_view(entry: ReportEntry, study: dict | None) -> StudyView:
    """A study page's content: the entry, and the canonical study with its source lines quoted."""
    view = _index_view(entry)
    view.study = study
    if study is not None:
        wheres = study.get("provenance", {}).get("field_sources", {}).values()
        # Re-reading and repairing the source costs more than the page: only for line locations
        quotes = any(names_lines(where) for where in wheres)
        lines = source_lines(entry.source, entry.content_hash) if quotes else None
        view.fields, view.empty = _fields(study, lines)
    return view


def render_study_page(view: StudyView, templates: str | None = None) -> bytes:
    """One study page; the same bytes wherever it is rendered (a worker, or the flow process)."""
    template = environment(templates).get_template("report/study.html.j2")
    return template.render(report=_PAGE_REPORT, view=view, root="../").encode()


def page_from_disk(output_dir: Path, entry: ReportEntry, templates: str | None = None) -> bytes:
    """The page of an entry whose study is on disk only (an earlier run's, or a re-render)."""
    return render_study_page(study_view(entry, _load_study(Path(output_dir), entry)), templates)


def remove_stale_pages(output_dir: Path, slugs: set[str]) -> None:
    """Pages of an earlier run that this run did not name (``report/<slug>.html``): every page in
    ``report/`` belongs to the run ``index.html`` describes."""
    directory = Path(output_dir) / PAGES
    for stale in directory.glob("*.html") if directory.is_dir() else ():
        if stale.stem not in slugs:
            stale.unlink()


def write_index(output_dir: Path, report: RunReport, entries: Iterable[ReportEntry]) -> Path:
    """``index.html``, streamed: ``entries`` may be a spool of a registry-sized run."""
    env = environment(report.settings.get("templates"))
    views = (_index_view(entry) for entry in entries)
    path = Path(output_dir) / INDEX_PAGE
    with atomic_stream(path) as handle:
        for chunk in env.get_template("report/index.html.j2").generate(report=report, views=views, root=""):
            handle.write(chunk.encode())
    return path
