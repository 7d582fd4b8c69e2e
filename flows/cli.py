"""``trialexport``: the command line over the export flow.

Exit codes (numbered, so schedulers can branch on them):
0 every input exported · 1 unexpected failure · 2 usage error (bad option, missing input:
checked before the flow starts) · 3 run finished but some inputs or studies were rejected
(see run-report.json) · 4 publishing finished but some studies are not confirmed on the FHIR
server (their reasons are in run-report.json's ``publish`` sections; ``trialexport publish``
on the same output sends only those). When both 3 and 4 apply, ``run --fhir-url`` exits 4.

FHIR credentials are never options (shell history, process listings): ``TRIALEXPORT_FHIR_TOKEN``
(bearer) or ``TRIALEXPORT_FHIR_USER`` / ``TRIALEXPORT_FHIR_PASSWORD`` (basic), or
``--secret-block`` naming a Prefect Secret block.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

import flows  # noqa: F401  (sets Prefect defaults before Prefect is imported)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REJECTS, EXIT_PUBLISH = 0, 1, 2, 3, 4


class FhirVersion(StrEnum):
    R4 = "R4"
    R5 = "R5"


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Export clinical-trial records to FHIR and ClinicalTrials.gov XML.",
)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Export clinical-trial records to FHIR and ClinicalTrials.gov XML."""


DaskAddress = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        envvar="TRIALEXPORT_DASK_ADDRESS",
        help="map the batches on this existing Dask scheduler (tcp://host:8786)",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        min=1,
        envvar="TRIALEXPORT_WORKERS",
        help="map the batches in N worker processes (a local Dask cluster) instead of threads",
    ),
]


# Options shared by the commands that export.
Inputs = Annotated[
    list[Path], typer.Argument(help="files and directories to export", exists=True, metavar="INPUT...")
]
Output = Annotated[Path, typer.Option("--output", "-o", help="output directory")]
Templates = Annotated[
    Path | None,
    typer.Option(help="directory of templates that override the shipped ones", exists=True, file_okay=False),
]
Version = Annotated[
    FhirVersion, typer.Option("--fhir-version", case_sensitive=False, help="FHIR version of the bundles")
]
Full = Annotated[
    bool,
    typer.Option(
        "--full", help="export every input, even those unchanged since the last run (export-ledger.json)"
    ),
]


def _export_flow(dask_address: str | None, workers: int | None):
    """The export flow on the runner these options ask for; Dask is imported only then."""
    from flows.export import export_trials

    if not (dask_address or workers):
        return export_trials
    from flows.runners import with_runner

    return with_runner(export_trials, dask_address, workers)


@app.command()
def run(
    inputs: Inputs,
    output: Output = Path("output"),
    templates: Templates = None,
    fhir_version: Version = FhirVersion.R4,
    prs_org_name: Annotated[
        str | None, typer.Option(help="PRS organisation name [env: TRIALEXPORT_PRS_ORG_NAME]")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="studies per Prefect task")] = None,
    fhir_url: Annotated[
        str | None,
        typer.Option(
            "--fhir-url", help="then publish the bundles to this FHIR base URL (options: TRIALEXPORT_FHIR_*)"
        ),
    ] = None,
    dask_address: DaskAddress = None,
    workers: Workers = None,
    full: Full = False,
) -> None:
    """Read INPUTS, write FHIR bundles, PRS/public XML, NDJSON and run-report.json to OUTPUT."""
    report = _export_flow(dask_address, workers)(
        inputs=[str(p) for p in inputs],
        output=str(output),
        templates=str(templates) if templates else None,
        fhir_version=fhir_version.value,
        prs_org_name=prs_org_name,
        batch_size=batch_size,
        fhir_url=fhir_url,
        full=full,
    )
    totals = report["totals"]
    colour = "red" if totals["rejected"] else "default"
    console.print(
        f"{totals['studies']} studies read from {totals['inputs']} inputs: "
        f"[green]{totals['exported']} exported[/green], [{colour}]{totals['rejected']} rejected[/{colour}]. "
        f"Outputs in {output}/ (run-report.json)",
        soft_wrap=True,
    )
    for warning in report.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    if totals["rejected"]:
        rejected = [
            f"{e['source']}{'#' + str(e['record']) if 'record' in e else ''} "
            f"({'; '.join(i['message'] for i in e['issues'] if i['severity'] == 'error')})"
            for e in report["studies"]
            if e["status"] == "rejected"
        ]
        console.print(f"[red]rejected:[/red] {'; '.join(rejected)}", soft_wrap=True)
    if fhir_url and _print_publish(report):
        raise typer.Exit(EXIT_PUBLISH)
    if totals["rejected"]:
        raise typer.Exit(EXIT_REJECTS)


def _print_publish(report: dict) -> int:
    """The publish summary line (and the studies left behind); returns how many failed."""
    section = report["publish"]
    totals = section["totals"]
    colour = "red" if totals["failed"] else "default"
    console.print(
        f"{totals['studies']} studies: [green]{totals['published']} published[/green] "
        f"({totals['sent']} sent, {totals['unchanged']} unchanged), "
        f"[{colour}]{totals['failed']} failed[/{colour}] on {section['server']}",
        soft_wrap=True,
    )
    failed = [
        f"{e['key']} ({e['publish'].get('reason', '')})"
        for e in report["studies"]
        if e.get("publish", {}).get("status") == "failed"
    ]
    if failed:
        console.print(f"[red]not published:[/red] {'; '.join(failed)}", soft_wrap=True)
    return totals["failed"]


@app.command()
def publish(
    output: Annotated[
        Path, typer.Argument(help="output directory of an earlier run", exists=True, file_okay=False)
    ],
    fhir_url: Annotated[str, typer.Option("--fhir-url", envvar="TRIALEXPORT_FHIR_URL", help="FHIR base URL")],
    concurrency: Annotated[int | None, typer.Option(min=1, help="bundles in flight at once")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="studies per Prefect task")] = None,
    rate_limit: Annotated[float | None, typer.Option(min=0.001, help="at most this many bundles/s")] = None,
    attempts: Annotated[int | None, typer.Option(min=1, help="tries per request")] = None,
    max_delay: Annotated[float | None, typer.Option(min=0, help="longest wait between tries, s")] = None,
    ca_bundle: Annotated[
        Path | None, typer.Option(help="PEM file of CAs to trust", exists=True, dir_okay=False)
    ] = None,
    secret_block: Annotated[
        str | None, typer.Option(help="Prefect Secret block holding the FHIR credentials")
    ] = None,
    force: Annotated[bool, typer.Option(help="send every bundle, ignoring the publish ledger")] = False,
) -> None:
    """Upload the FHIR bundles of OUTPUT (an earlier run) to --fhir-url; resumes where it stopped."""
    from flows.publish.flow import publish_bundles

    if not (output / "run-report.json").is_file():
        console.print(f"[red]no run-report.json in {output}: run `trialexport run` first[/red]")
        raise typer.Exit(EXIT_USAGE)
    report = publish_bundles(
        output=str(output),
        fhir_url=fhir_url,
        concurrency=concurrency,
        batch_size=batch_size,
        rate_limit=rate_limit,
        attempts=attempts,
        max_delay=max_delay,
        ca_bundle=str(ca_bundle) if ca_bundle else None,
        secret_block=secret_block,
        force=force or None,
    )
    if _print_publish(report):
        raise typer.Exit(EXIT_PUBLISH)


@app.command()
def serve(
    inputs: Inputs,
    cron: Annotated[str, typer.Option(help='when to run, a cron expression such as "0 2 * * *" (UTC)')],
    output: Output = Path("output"),
    name: Annotated[str, typer.Option(help="deployment name")] = "scheduled",
    templates: Templates = None,
    fhir_version: Version = FhirVersion.R4,
    fhir_url: Annotated[
        str | None, typer.Option("--fhir-url", help="publish each run's bundles to this FHIR base URL")
    ] = None,
    secret_block: Annotated[
        str | None,
        typer.Option(
            help="Prefect Secret block holding the FHIR credentials [env: TRIALEXPORT_FHIR_SECRET_BLOCK]"
        ),
    ] = None,
    dask_address: DaskAddress = None,
    workers: Workers = None,
    full: Full = False,
) -> None:
    """Serve the export as a Prefect deployment that runs on CRON until stopped (Ctrl-C).

    The options become the deployment's parameters, so a run started from the Prefect UI or API
    can override them. Needs a Prefect server (PREFECT_API_URL): the embedded one lives only as
    long as this process and has no UI.
    """
    from prefect.schedules import Cron

    try:
        schedule = Cron(cron, timezone="UTC")
    except ValueError as exc:
        console.print(f"[red]invalid --cron {cron!r}: {exc}[/red]")
        raise typer.Exit(EXIT_USAGE) from None
    if secret_block:  # read by the publish settings inside every flow run this process starts
        os.environ["TRIALEXPORT_FHIR_SECRET_BLOCK"] = secret_block
    parameters = {
        # absolute: a run started from the UI must not depend on where the server was started
        "inputs": [str(p.resolve()) for p in inputs],
        "output": str(output.resolve()),
        "templates": str(templates.resolve()) if templates else None,
        "fhir_version": fhir_version.value,
        "fhir_url": fhir_url,
        "full": full,
    }
    _export_flow(dask_address, workers).serve(
        name=name,
        schedules=[schedule],
        parameters=parameters,
        limit=1,  # two runs writing one output directory at once would interleave their files
        tags=["trialexport"],
    )


@app.command()
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="bundles (.json) and XML records, or directories of them", exists=True),
    ],
    fhir_version: Version = FhirVersion.R4,
) -> None:
    """Check written bundles and XML files with the export's validators; exit 3 on any error."""
    from flows.validate import files_to_check, validate_file

    errors = 0
    for path in files_to_check(paths):
        issues = validate_file(path, fhir_version.value)
        errors += sum(i.severity == "error" for i in issues)
        mark = "[red]invalid[/red]" if any(i.severity == "error" for i in issues) else "[green]valid[/green]"
        console.print(f"{mark} {path}", soft_wrap=True)
        for issue in issues:
            where = f" ({issue.field or issue.location})" if issue.field or issue.location else ""
            console.print(f"  {issue.severity} {issue.code}{where}: {issue.message}", soft_wrap=True)
    if errors:
        raise typer.Exit(EXIT_REJECTS)


def main() -> None:
    app()
