"""The export flow: inputs -> batches -> (read, map, render, validate) -> settle -> write -> report.

Prefect is the shell: a task maps a batch (``flows.batch``), a task puts a window's files in
place (retried: a failed disk write retries without redoing the mapping), and the flow drives
the run (``flows.run``) and publishes the summary. Reading and mapping happen in one task
because mapping is pure and cheap.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect.tasks import exponential_backoff
from prefect.utilities.annotations import quote

from flows.batch import InputTrees, map_batch
from flows.output import write_files
from flows.records import InputResult, ReportEntry, RunReport
from flows.run import ExportRun, drive
from flows.settings import ExportSettings, PublishSettings, load
from flows.writer import Write
from mappers.output_layout import REPORT

_IO_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=0.5),
    "retry_jitter_factor": 0.5,
}


@task(name="export-batch", cache_policy=NO_CACHE, **_IO_RETRIES)
def export_batch(paths: list[str], settings: ExportSettings, trees: InputTrees) -> list[InputResult]:
    """Read and map one batch of inputs to export; retried as a whole because reading is I/O and
    mapping is pure. Unchanged inputs never get here: the flow reuses them."""
    return map_batch(paths, settings, get_run_logger(), trees)


@task(name="write-batch", cache_policy=NO_CACHE, **_IO_RETRIES)
def write_batch(files: list[Write], output: str) -> int:
    """A window's files into place; retried (a retry skips what the failed try moved)."""
    return write_files(files, output)


def _batches_in_flight() -> int:
    """Enough batches submitted ahead to keep every worker busy, and no more. Threads share one
    core (the GIL): one batch mapping while the flow writes the last one is all they can use."""
    try:
        nthreads = get_run_context().task_runner.client.nthreads()  # type: ignore[union-attr]
    except (AttributeError, RuntimeError, MissingContextError):
        return 2
    return max(2, sum(nthreads.values()) + 1)


def summary_markdown(report: RunReport, rejected: list[ReportEntry]) -> str:
    totals = report.totals
    counts = (totals.inputs, totals.studies, totals.exported, totals.rejected, totals.superseded)
    lines = [
        "# trialexport run",
        "",
        "| inputs | studies read | exported | rejected | superseded |",
        "|---:|---:|---:|---:|---:|",
        "| " + " | ".join(str(n) for n in counts) + " |",
        "",
        f"Outputs: `{report.settings['output']}`",
    ]
    if rejected:
        lines += ["", "## Rejected", "", "| source | reason |", "|---|---|"]
        for entry in rejected:
            lines.append(f"| {entry.source} | {entry.error_reasons().replace('|', '/')} |")
        if totals.rejected > len(rejected):
            lines.append(f"| … | {totals.rejected - len(rejected)} more in {REPORT} |")
    return "\n".join(lines) + "\n"


@flow(name="export-trials")
def export_trials(
    inputs: list[str],
    output: str = "output",
    templates: str | None = None,
    fhir_version: str = "R4",
    prs_org_name: str | None = None,
    batch_size: int | None = None,
    fhir_url: str | None = None,
    full: bool = False,
    formats: str | list[str] | None = None,
    deep_validation: bool | None = None,
) -> dict:
    """Export every study in ``inputs`` (files and directories) to ``output``; returns the run
    report without its ``studies``, which are in ``run-report.json`` only (a registry-sized run's
    entries would not fit in memory; ``flows.run_report.read_report`` streams them).

    Inputs unchanged since they were last exported to ``output`` (``export-ledger.sqlite``) are not
    exported again; ``full`` exports everything. ``formats`` (``"fhir,prs"`` or a list; default
    all three) chooses the outputs a study gets besides its study.json, and ``deep_validation``
    checks FHIR structure with fhir.resources' models; left out, both come from
    ``TRIALEXPORT_FORMATS`` / ``TRIALEXPORT_DEEP_VALIDATION``. With ``fhir_url`` the bundles are
    then published there (``flows.publish.flow``, settings from ``TRIALEXPORT_FHIR_*``) and the
    report returned carries the ``publish`` block.
    """
    logger = get_run_logger()
    given: dict[str, Any] = {"output": output, "templates": templates, "fhir_version": fhir_version}
    given |= {k: v for k, v in {"prs_org_name": prs_org_name, "batch_size": batch_size}.items() if v}
    given |= {
        k: v for k, v in {"formats": formats, "deep_validation": deep_validation}.items() if v is not None
    }
    settings = load(ExportSettings, **given)
    if fhir_url:  # refused before anything is exported, not after (credentials in the URL)
        load(PublishSettings, url=fhir_url)
    run = ExportRun(
        settings,
        inputs,
        full=full,
        logger=logger,
        # quoted: Prefect would otherwise visit each (name, staged path) pair of the list twice,
        # looking for futures, for each call (a batch's files: a thousand pairs)
        write=lambda files: write_batch(quote(files), settings.output),  # type: ignore[call-overload]
    )
    report = drive(run, lambda todo: export_batch.submit(todo, settings, run.trees), _batches_in_flight())
    create_markdown_artifact(
        key="trialexport-run",
        markdown=summary_markdown(report, run.writer.rejected),
        description="export summary",
    )
    if fhir_url:
        from flows.publish.flow import publish_bundles

        return publish_bundles(output=settings.output, fhir_url=fhir_url)
    return report.to_json_without_studies()
