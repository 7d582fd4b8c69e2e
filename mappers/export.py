"""One study -> every output file, validated. Pure: no I/O, so it runs anywhere a batch runs.

A study whose outputs fail validation is *rejected*: its outputs go to ``rejected/<key>/`` for
inspection (never to ``studies/`` or the NDJSON files), and the reasons to the run report.
Values a format cannot hold are listed as ``not-mapped`` issues, so the report says where every
source field went.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any, Literal

import jinja2
import orjson

from mappers.context import MappingSettings, build_context
from mappers.ctgov_xml import prs_readiness, public_record_assumptions, public_record_gaps
from mappers.finish import TemplateOutputError, dump_json, finish_json, finish_xml_tree, xml_bytes
from mappers.identity import identity, missing_identity
from mappers.model import Issue, Study
from mappers.output_layout import Output, safe_name, study_files
from mappers.render import environment, render
from mappers.trace import traced_values, untraced, xml_texts
from validation.fhir import validate_bundle
from validation.xsd import validate_xml

FHIR_TEMPLATES = {"R4": "fhir/r4/bundle.json.j2", "R5": "fhir/r5/bundle.json.j2"}
PRS_TEMPLATE = "ctgov/prs.xml.j2"
PUBLIC_TEMPLATE = "ctgov/public.xml.j2"
FORMATS = ("fhir", "prs", "public")  # MappingSettings.formats chooses among them


class StageClock:
    """CPU seconds per stage of one export (``export_study(..., clock=StageClock())``): the
    benchmark's probe into the real pipeline, so that it times what a run does, not a copy of it.
    CPU time, not wall time: the machines this runs on are shared."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        started = time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.process_time() - started


def _untimed(stage: str) -> AbstractContextManager:
    return nullcontext()


Clock = Callable[[str], AbstractContextManager]


def bulk_resources(bundle: dict) -> dict[str, list[dict]]:
    """A transaction bundle's resources as NDJSON lines for a bulk ``$import``: resourceType ->
    resources, each standing alone.

    In a bundle the resources carry no id (conditional PUTs: the server owns it) and point at
    each other by ``urn:uuid`` fullUrl, which means something only inside that bundle. Here each
    resource gets the id of its fullUrl and every reference to another entry becomes the literal
    ``<Type>/<id>``, so every reference resolves within the NDJSON files. The flow rebuilds the
    lines of unchanged inputs from their bundles on disk with this same function.

    The references are rewritten in the serialised resource (an entry's fullUrl as a whole JSON
    string is only ever a reference to it): ten times faster than walking the tree in Python.
    Each top-level element is serialised on its own and only one that holds such a reference is
    parsed again: a study's thousand sites are contained resources, which point at each other by
    ``#id``, and parsing them all again for the one ``protocol`` reference cost more than the
    rest of this function. An element with no reference is the bundle's own value, shared, as a
    resource without references always was."""
    entries = [e for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
    literal = {
        e["fullUrl"]: (e["resource"]["resourceType"], e["fullUrl"][len(_UUID_PREFIX) :])
        for e in entries
        if str(e.get("fullUrl", "")).startswith(_UUID_PREFIX)
    }
    swaps = [(orjson.dumps(url), orjson.dumps(f"{rtype}/{rid}")) for url, (rtype, rid) in literal.items()]
    out: dict[str, list[dict]] = {}
    for entry in entries:
        resource = entry["resource"]
        if entry.get("fullUrl") in literal:
            rtype, rid = literal[entry["fullUrl"]]
            resource = {"resourceType": rtype, "id": rid} | {
                k: v for k, v in resource.items() if k not in ("resourceType", "id")
            }
        resource = {name: _with_literal_references(value, swaps) for name, value in resource.items()}
        out.setdefault(resource["resourceType"], []).append(resource)
    return out


def _with_literal_references(value, swaps: list[tuple[bytes, bytes]]):
    """``value`` with every whole JSON string ``old`` of ``swaps`` replaced by its ``new``: the
    same value when it holds none."""
    text = orjson.dumps(value)
    if not any(old in text for old, _ in swaps):
        return value
    for old, new in swaps:
        text = text.replace(old, new)
    return orjson.loads(text)


_UUID_PREFIX = "urn:uuid:"


@dataclass
class StudyExport:
    study: Study
    key: str  # folder name under studies/
    status: Literal["exported", "rejected"] = "exported"
    files: dict[str, bytes] = field(default_factory=dict)  # path relative to the output dir -> bytes
    # resourceType -> resources as NDJSON lines: ids and literal references (bulk_resources)
    resources: dict[str, list[dict]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    # study.json as the dict it was written from (None when it was not written): the report page
    # is rendered from it, as from the file, without parsing the file back
    canonical: dict | None = None

    def reject(self, code: str, message: str, fld: str | None = None) -> None:
        self.status = "rejected"
        self.issues.append(Issue(severity="error", code=code, message=message, field=fld))


def warm_up(fhir_version: str = "R4", templates: str | None = None) -> None:
    """Compile now what a process's first study would: every template (the macro files they
    import included; ~0.35 s) and the FHIR JSON Schema (~0.07 s). For a process that waits for
    something else anyway (the CLI while Prefect's server boots). A template that does not
    compile is left for the export to report, study by study, as always."""
    from validation.structure import validator

    env = environment(templates)
    for name in env.list_templates(filter_func=lambda name: name.endswith(".j2")):
        with suppress(jinja2.TemplateError):
            env.get_template(name)
    validator(fhir_version)


def study_key(study: Study) -> str:
    """A file-system-safe folder name from the study's business identifier."""
    found = identity(study.identifiers)
    if found is None:  # the readers reject such a record: reaching here is a bug
        raise ValueError(missing_identity(study.identifiers))
    return safe_name(found.value, "study")


@dataclass
class _Rendered:
    """The outputs of one study as rendered (None: not asked for, or not written), the trees the
    XML bytes came from (validated and traced without parsing again), and what their checks
    found, before any of it is judged."""

    bundle: dict | None = None
    bundle_values: list[str] = field(default_factory=list)  # its strings and numbers, less narratives
    fhir_issues: list[Issue] = field(default_factory=list)
    prs: bytes | None = None
    prs_tree: Any = None
    prs_errors: list[Issue] = field(default_factory=list)
    public: bytes | None = None
    public_tree: Any = None
    public_gaps: list[str] = field(default_factory=list)  # required public elements without a source


def export_study(
    study: Study,
    settings: MappingSettings,
    templates: str | None = None,
    key: str | None = None,
    *,
    clock: Clock | None = None,
) -> StudyExport:
    """Render, validate and serialise the outputs ``settings.formats`` asks for (study.json always:
    the report page and ``trialexport validate`` read it). A format not asked for costs nothing:
    it is neither rendered, validated nor traced."""
    stage = clock or _untimed
    if unknown := set(settings.formats) - set(FORMATS):
        raise ValueError(f"unknown output formats {sorted(unknown)}; choose among {', '.join(FORMATS)}")
    out = StudyExport(study=study, key=key or study_key(study), issues=list(study.issues))
    try:
        with stage("template context"):
            context = build_context(study, settings)
        out.issues += context["assumptions"]
        rendered = _render(study, context, settings, templates, stage)
    except (jinja2.TemplateError, TemplateOutputError) as exc:
        out.reject("template-error", f"{type(exc).__name__}: {exc}")
        return out
    _judge(out, rendered, settings.fhir_version, stage)
    with stage("not-mapped trace"):
        out.issues += _not_mapped(study, rendered, settings.fhir_version)
    _serialise(out, rendered, settings.fhir_version, stage)
    if out.status == "rejected" or rendered.bundle is None:
        return out
    with stage("NDJSON lines"):
        out.resources = bulk_resources(rendered.bundle)
    return out


def _render(
    study: Study, context: dict, settings: MappingSettings, templates: str | None, stage: Clock
) -> _Rendered:
    """Each asked-for output rendered and checked against its schema (the public XSD is left to
    ``_judge``: only a written public record is checked)."""
    done = _Rendered()
    formats, version = settings.formats, settings.fhir_version
    if "fhir" in formats:
        bundle_template = FHIR_TEMPLATES[version]
        with stage("FHIR render"):
            text = render(bundle_template, context, templates)
        with stage("FHIR finish (parse, prune)"):
            done.bundle = finish_json(text, bundle_template, done.bundle_values)
        done.fhir_issues = validate_bundle(done.bundle, version, deep=settings.deep_validation, clock=stage)
    if "prs" in formats:
        with stage("PRS render"):
            done.prs_tree = finish_xml_tree(render(PRS_TEMPLATE, context, templates), PRS_TEMPLATE)
            done.prs = xml_bytes(done.prs_tree)
        with stage("PRS XSD"):
            done.prs_errors = validate_xml(done.prs, "prs", done.prs_tree)
    if "public" in formats and study.nct_id:
        done.public_gaps = public_record_gaps(study)
        if not done.public_gaps:
            with stage("public render"):
                done.public_tree = finish_xml_tree(
                    render(PUBLIC_TEMPLATE, context, templates), PUBLIC_TEMPLATE
                )
                done.public = xml_bytes(done.public_tree)
    return done


def _judge(out: StudyExport, rendered: _Rendered, version: str, stage: Clock) -> None:
    """What the checks found, as the study's rejections and warnings."""
    for issue in rendered.fhir_issues:
        if issue.severity == "error":
            out.reject(issue.code, f"FHIR {version} bundle invalid: {issue.message}", issue.field)
        else:
            out.issues.append(issue)
    for issue in rendered.prs_errors:
        out.reject(issue.code, f"PRS XML invalid: {issue.message}", issue.field)
    if rendered.prs is not None and (readiness := prs_readiness(out.study)) is not None:
        out.issues.append(readiness)
    if rendered.public is not None:
        with stage("public XSD"):
            public_errors = validate_xml(rendered.public, "public", rendered.public_tree)
        for issue in public_errors:
            out.reject(issue.code, f"public XML invalid: {issue.message}", issue.field)
        out.issues += public_record_assumptions(out.study)
    elif rendered.public_gaps:
        out.issues.append(
            Issue(
                severity="warning",
                code="public-xml-not-written",
                message="public record XML not written: no source for required "
                + ", ".join(rendered.public_gaps),
            )
        )


def _not_mapped(study: Study, rendered: _Rendered, version: str) -> list[Issue]:
    """One ``not-mapped`` warning per source value an output written has no element for."""
    outputs: dict[str, list[str] | set[str]] = {}
    if rendered.bundle is not None:
        outputs[f"FHIR {version} bundle"] = rendered.bundle_values
    if rendered.prs_tree is not None:
        outputs["PRS XML"] = xml_texts(rendered.prs_tree)
    if rendered.public_tree is not None:
        outputs["public XML"] = xml_texts(rendered.public_tree)
    if not outputs:
        return []
    traced = traced_values(study)
    return [
        Issue(
            severity="warning", code="not-mapped", field=path, message=f"{output} has no element for {path}"
        )
        for output, values in outputs.items()
        for path in untraced(study, values, traced)
    ]


def _serialise(out: StudyExport, rendered: _Rendered, version: str, stage: Clock) -> None:
    # a rejected study's files are kept for inspection, outside studies/ and the NDJSON
    paths = study_files(out.key, version, rejected=out.status == "rejected")
    with stage("serialise"):
        if rendered.bundle is not None:
            out.files[paths.path(Output.BUNDLE)] = dump_json(rendered.bundle)
        if rendered.prs is not None:
            out.files[paths.path(Output.PRS)] = rendered.prs
        if rendered.public is not None:
            out.files[paths.path(Output.PUBLIC)] = rendered.public
        out.canonical = out.study.model_dump(mode="json", exclude_defaults=True)
        out.files[paths.path(Output.STUDY)] = dump_json(out.canonical)
