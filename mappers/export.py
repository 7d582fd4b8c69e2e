"""One study -> every output file, validated. Pure: no I/O, so it runs anywhere a batch runs.

A study whose outputs fail validation is *rejected*: its outputs go to ``rejected/<key>/`` for
inspection (never to ``studies/`` or the NDJSON files), and the reasons to the run report.
Values a format cannot hold are listed as ``not-mapped`` issues, so the report says where every
source field went.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import jinja2

from mappers.context import MappingSettings, build_context
from mappers.ctgov_xml import public_record_gaps
from mappers.finish import TemplateOutputError, dump_json, finish_json, finish_xml
from mappers.identity import identity, missing_identity
from mappers.model import Issue, Study
from mappers.output_layout import Output, safe_name, study_files
from mappers.render import render
from mappers.trace import json_values, traced_values, untraced, xml_values
from validation.fhir import validate_bundle
from validation.xsd import validate_xml

FHIR_TEMPLATES = {"R4": "fhir/r4/bundle.json.j2", "R5": "fhir/r5/bundle.json.j2"}
PRS_TEMPLATE = "ctgov/prs.xml.j2"
PUBLIC_TEMPLATE = "ctgov/public.xml.j2"


@dataclass
class StudyExport:
    study: Study
    key: str  # folder name under studies/
    status: Literal["exported", "rejected"] = "exported"
    files: dict[str, bytes] = field(default_factory=dict)  # path relative to the output dir -> bytes
    resources: dict[str, list[dict]] = field(default_factory=dict)  # resourceType -> resources (NDJSON)
    issues: list[Issue] = field(default_factory=list)

    def reject(self, code: str, message: str, fld: str | None = None) -> None:
        self.status = "rejected"
        self.issues.append(Issue(severity="error", code=code, message=message, field=fld))


def study_key(study: Study) -> str:
    """A file-system-safe folder name from the study's business identifier."""
    found = identity(study.identifiers)
    if found is None:  # the readers reject such a record: reaching here is a bug
        raise ValueError(missing_identity(study.identifiers))
    return safe_name(found.value, "study")


def export_study(
    study: Study, settings: MappingSettings, templates: str | None = None, key: str | None = None
) -> StudyExport:
    out = StudyExport(study=study, key=key or study_key(study), issues=list(study.issues))
    try:
        context = build_context(study, settings)
        bundle_template = FHIR_TEMPLATES[settings.fhir_version]
        bundle = finish_json(render(bundle_template, context, templates), bundle_template)
        fhir_issues = validate_bundle(bundle, settings.fhir_version)
        prs = finish_xml(render(PRS_TEMPLATE, context, templates), PRS_TEMPLATE)
        prs_errors = validate_xml(prs, "prs")
        public = None
        gaps = public_record_gaps(study) if study.nct_id else []
        if study.nct_id and not gaps:
            public = finish_xml(render(PUBLIC_TEMPLATE, context, templates), PUBLIC_TEMPLATE)
    except (jinja2.TemplateError, TemplateOutputError) as exc:
        out.reject("template-error", f"{type(exc).__name__}: {exc}")
        return out
    for issue in fhir_issues:
        if issue.severity == "error":
            out.reject(
                issue.code, f"FHIR {settings.fhir_version} bundle invalid: {issue.message}", issue.field
            )
        else:
            out.issues.append(issue)
    for issue in prs_errors:
        out.reject(issue.code, f"PRS XML invalid: {issue.message}", issue.field)
    if public is not None:
        for issue in validate_xml(public, "public"):
            out.reject(issue.code, f"public XML invalid: {issue.message}", issue.field)
    elif gaps:
        out.issues.append(
            Issue(
                severity="warning",
                code="public-xml-not-written",
                message="public record XML not written: no source for required " + ", ".join(gaps),
            )
        )
    outputs = {f"FHIR {settings.fhir_version} bundle": json_values(bundle), "PRS XML": xml_values(prs)}
    if public is not None:
        outputs["public XML"] = xml_values(public)
    traced = traced_values(study)
    for output, values in outputs.items():
        out.issues += [
            Issue(
                severity="warning",
                code="not-mapped",
                field=path,
                message=f"{output} has no element for {path}",
            )
            for path in untraced(study, values, traced)
        ]
    # a rejected study's files are kept for inspection, outside studies/ and the NDJSON
    paths = study_files(out.key, settings.fhir_version, rejected=out.status == "rejected")
    out.files[paths.path(Output.BUNDLE)] = dump_json(bundle)
    out.files[paths.path(Output.PRS)] = prs
    if public is not None:
        out.files[paths.path(Output.PUBLIC)] = public
    out.files[paths.path(Output.STUDY)] = dump_json(study.model_dump(mode="json", exclude_defaults=True))
    if out.status == "rejected":
        return out
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        out.resources.setdefault(resource["resourceType"], []).append(resource)
    return out
