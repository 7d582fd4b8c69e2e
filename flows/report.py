"""The run report as web pages, for people who scan a scheduled run instead of reading JSON.

Pages are built only from what the run already wrote (``run-report.json``'s content and each
exported study's ``study.json``), so they can never say something the machine-readable report
does not. They are self-contained (inline CSS, no scripts, no web fonts) so they open from a file
share or a CI artifact with no network, and hold no clock reading beyond the run's own
timestamps, so the same run always gives the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import orjson

from flows.excerpts import Excerpt, excerpt, source_lines
from flows.output import write_atomic
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


def _view(output_dir: Path, entry: dict, slug: str) -> StudyView:
    entry = {
        **_ENTRY_KEYS,
        "outputs": [],
        **entry,
        "issues": [{**_ISSUE_KEYS, **issue} for issue in entry.get("issues", [])],
    }
    view = StudyView(entry=entry, page=f"{STUDY_PAGES}/{slug}.html")
    view.study = _load_study(output_dir, entry)
    if view.study is not None:
        view.title = view.study.get("brief_title") or view.study.get("official_title")
        view.counts = {k: len(view.study.get(k, [])) for k in ("arms", "outcomes", "sites")}
        lines = source_lines(entry["source"], entry.get("content_hash"))
        view.fields, view.empty = _fields(view.study, lines)
    else:
        view.counts = dict.fromkeys(("arms", "outcomes", "sites"))
    view.links = [(_label(output), output) for output in entry["outputs"]]
    _classify(view)
    return view


def write_html_report(output_dir: Path, report: dict) -> list[Path]:
    """Write ``index.html`` and one page per run-report entry; returns the files written.

    Pages of an earlier run that this run did not write are removed, so every page in
    ``report/`` belongs to the run ``index.html`` describes.
    """
    output_dir = Path(output_dir)
    report = {"warnings": [], "bulk": [], **report}
    env = environment(report.get("settings", {}).get("templates"))
    taken: set[str] = set()
    views = [_view(output_dir, entry, _slug(entry, taken)) for entry in report.get("studies", [])]
    written = []
    index = env.get_template("report/index.html.j2").render(report=report, views=views, root="")
    for view in views:
        page = env.get_template("report/study.html.j2").render(report=report, view=view, root="../")
        write_atomic(output_dir / view.page, page.encode())
        written.append(output_dir / view.page)
    write_atomic(output_dir / INDEX_PAGE, index.encode())
    written.append(output_dir / INDEX_PAGE)
    pages = output_dir / STUDY_PAGES
    for stale in pages.glob("*.html") if pages.is_dir() else ():
        if stale not in written:
            stale.unlink()
    return written
