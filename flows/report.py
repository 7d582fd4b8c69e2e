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
from pathlib import Path, PurePosixPath

import orjson

from flows.excerpts import Excerpt, excerpt, names_lines, source_lines
from flows.output import write_atomic
from flows.run_report import atomic_stream
from mappers.model import Study
from mappers.render import environment

INDEX_PAGE = "index.html"
STUDY_PAGES = "report"  # not studies/<key>/: rejected studies have no folder there, and two
# records sharing an identifier (one exported, one rejected as duplicate) would share one page
_EXPANDED = ("design", "status")  # objects always present in the model: listed field by field
_NOT_SHOWN = {"provenance", "issues"}
_OUTPUT_LABELS = {"prs.xml": "PRS XML", "public.xml": "public XML", "study.json": "study.json"}
_BUNDLE = re.compile(r"^fhir-(?P<version>r\d+)-bundle\.json$")
_NOT_MAPPED = re.compile(r"^(?P<output>.+?) has no element for ")
# run-report.json leaves out keys it has no value for; templates are strict, so fill them in
_ENTRY_KEYS = dict.fromkeys(("source", "record", "key", "identifier", "layout", "status"))
_ISSUE_KEYS = dict.fromkeys(("severity", "code", "message", "field", "location"))
# What a study page shows of the run: nothing that changes from one run to the next, so the page
# of a study the run skipped (unchanged input) stays true as it is.
_PAGE_REPORT = {"run": {"trialexport_version": version("trialexport")}}


@dataclass
class FieldRow:
    path: str
    value: object
    sources: list[tuple[str, str]]  # (canonical field, where in the source)
    quoted: Excerpt = field(default_factory=list)  # the source lines themselves, where known


@dataclass
class StudyView:
    """One run-report entry, with what its pages show worked out once here, not in templates."""

    entry: dict
    page: str  # relative to the output directory
    study: dict | None = None
    title: str | None = None
    counts: dict[str, int | None] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)
    fields: list[FieldRow] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    assumptions: list[dict] = field(default_factory=list)
    not_mapped: dict[str, list[str]] = field(default_factory=dict)
    other_issues: list[dict] = field(default_factory=list)


def _slug(entry: dict, taken: set[str]) -> str:
    base = entry.get("key") or PurePosixPath(str(entry.get("source", ""))).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "input"
    slug, n = base, 1
    while slug in taken:  # deterministic: entries come in run order
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug


def _load_study(output_dir: Path, entry: dict) -> dict | None:
    study_json = next((o for o in entry.get("outputs", []) if o.endswith("/study.json")), None)
    if study_json is None:
        return None
    try:
        return orjson.loads((output_dir / study_json).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None  # the page still shows the run report's own entry


def _sources_of(path: str, field_sources: dict[str, str]) -> list[tuple[str, str]]:
    found = [
        (name, where)
        for name, where in field_sources.items()
        if name == path or name.startswith((f"{path}.", f"{path}["))
    ]
    if not found and "." in path:  # a field read as part of a block ("design block")
        parent = path.split(".", 1)[0]
        found = [(parent, field_sources[parent])] if parent in field_sources else []
    return found


def _fields(study: dict, lines: list[str] | None) -> tuple[list[FieldRow], list[str]]:
    """Every canonical field in model order: the ones with a value, and the ones left empty."""
    field_sources = study.get("provenance", {}).get("field_sources", {})
    rows, empty = [], []
    for name, info in Study.model_fields.items():
        if name in _NOT_SHOWN:
            continue
        if name in _EXPANDED:
            paths = [f"{name}.{sub}" for sub in info.annotation.model_fields]  # type: ignore[union-attr]
            values = study.get(name, {})
            pairs = [(p, values.get(p.split(".", 1)[1])) for p in paths]
        else:
            pairs = [(name, study.get(name))]
        for path, value in pairs:
            if value in (None, "", [], {}):
                empty.append(path)
            else:
                sources = _sources_of(path, field_sources)
                quoted = [line for _, where in sources for line in excerpt(lines, where)]
                rows.append(FieldRow(path, value, sources, quoted))
    return rows, empty


def _classify(view: StudyView) -> None:
    for issue in view.entry["issues"]:
        code = issue["code"] or ""
        if issue.get("severity") == "error":
            view.errors.append(issue)
        elif issue.get("severity") == "warning":
            view.warnings.append(issue)
        if code == "not-mapped":
            match = _NOT_MAPPED.match(issue["message"] or "")
            output = match["output"] if match else "an output"
            view.not_mapped.setdefault(output, []).append(issue["field"] or issue["message"])
        elif code.startswith(("assumed-", "missing-")):
            view.assumptions.append(issue)
        else:
            view.other_issues.append(issue)


def _label(output: str) -> str:
    name = PurePosixPath(output).name
    bundle = _BUNDLE.match(name)
    return f"FHIR {bundle['version'].upper()} bundle" if bundle else _OUTPUT_LABELS.get(name, name)


def _normalised(entry: dict) -> dict:
    return {
        **_ENTRY_KEYS,
        "outputs": [],
        **entry,
        "issues": [{**_ISSUE_KEYS, **issue} for issue in entry.get("issues", [])],
    }


def _index_view(entry: dict) -> StudyView:
    """What the index row shows, from the run-report entry alone: the row of a study exported by
    an earlier run costs no file read."""
    entry = _normalised(entry)
    view = StudyView(entry=entry, page=entry.get("page") or "", title=entry.get("title"))
    view.counts = {k: (entry.get("counts") or {}).get(k) for k in ("arms", "outcomes", "sites")}
    view.links = [(_label(output), output) for output in entry["outputs"]]
    _classify(view)
    return view


def study_view(entry: dict, study: dict | None) -> StudyView:
    """A study page's content: the entry, and the canonical study with its source lines quoted."""
    view = _index_view(entry)
    view.study = study
    if study is not None:
        wheres = study.get("provenance", {}).get("field_sources", {}).values()
        # Re-reading and repairing the source costs more than the page: only for line locations
        quotes = any(names_lines(where) for where in wheres)
        lines = source_lines(view.entry["source"], view.entry.get("content_hash")) if quotes else None
        view.fields, view.empty = _fields(study, lines)
    return view


def render_study_page(view: StudyView, templates: str | None = None) -> bytes:
    """One study page; the same bytes wherever it is rendered (a worker, or the flow process)."""
    template = environment(templates).get_template("report/study.html.j2")
    return template.render(report=_PAGE_REPORT, view=view, root="../").encode()


def page_from_disk(output_dir: Path, entry: dict, templates: str | None = None) -> bytes:
    """The page of an entry whose study is on disk only (an earlier run's, or a re-render)."""
    return render_study_page(study_view(entry, _load_study(Path(output_dir), entry)), templates)


class PageSlugs:
    """``report/<slug>.html`` per entry, in run order: the first of two entries that would share a
    slug keeps it, so the same inputs always give the same page names."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def page(self, entry: dict) -> str:
        return f"{STUDY_PAGES}/{_slug(entry, self.taken)}.html"

    def remove_stale(self, output_dir: Path) -> None:
        """Pages of an earlier run that this run did not name: every page in ``report/`` belongs
        to the run ``index.html`` describes."""
        pages = Path(output_dir) / STUDY_PAGES
        for stale in pages.glob("*.html") if pages.is_dir() else ():
            if stale.stem not in self.taken:
                stale.unlink()


def write_index(output_dir: Path, report: dict, entries: Iterable[dict]) -> Path:
    """``index.html``, streamed: ``entries`` may be a spool of a registry-sized run."""
    report = {"warnings": [], "bulk": [], **report}
    env = environment(report.get("settings", {}).get("templates"))
    views = (_index_view(entry) for entry in entries)
    path = Path(output_dir) / INDEX_PAGE
    with atomic_stream(path) as handle:
        for chunk in env.get_template("report/index.html.j2").generate(report=report, views=views, root=""):
            handle.write(chunk.encode())
    return path


def write_html_report(output_dir: Path, report: dict) -> list[Path]:
    """Every page of a report held in memory (``index.html`` and one page per entry), as the flow
    writes them batch by batch; returns the files written."""
    output_dir = Path(output_dir)
    templates = report.get("settings", {}).get("templates")
    slugs = PageSlugs()
    entries = [{**entry, "page": slugs.page(entry)} for entry in report.get("studies", [])]
    written = []
    for entry in entries:
        write_atomic(output_dir / entry["page"], page_from_disk(output_dir, entry, templates))
        written.append(output_dir / entry["page"])
    written.append(write_index(output_dir, report, entries))
    slugs.remove_stale(output_dir)
    return written
