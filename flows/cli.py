"""``trialexport``: the command line over the export flow.

Exit codes (numbered, so schedulers can branch on them):
0 every input exported · 1 unexpected failure · 2 usage error (bad option, missing input:
checked before the flow starts) · 3 run finished but some inputs or studies were rejected
(see run-report.json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

import flows  # noqa: F401  (sets Prefect defaults before Prefect is imported)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REJECTS = 0, 1, 2, 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Export clinical-trial records to FHIR and ClinicalTrials.gov XML.",
)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Export clinical-trial records to FHIR and ClinicalTrials.gov XML."""


@app.command()
def run(
    inputs: Annotated[
        list[Path], typer.Argument(help="files and directories to export", exists=True, metavar="INPUT...")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="output directory")] = Path("output"),
    templates: Annotated[
        Path | None,
        typer.Option(
            help="directory of templates that override the shipped ones", exists=True, file_okay=False
        ),
    ] = None,
    fhir_version: Annotated[str, typer.Option("--fhir-version", help="FHIR version of the bundles")] = "R4",
    prs_org_name: Annotated[
        str | None, typer.Option(help="PRS organisation name [env: TRIALEXPORT_PRS_ORG_NAME]")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="studies per Prefect task")] = None,
) -> None:
    """Read INPUTS, write FHIR bundles, PRS/public XML, NDJSON and run-report.json to OUTPUT."""
    from flows.export import export_trials

    if fhir_version.upper() != "R4":
        console.print(f"[red]unsupported FHIR version {fhir_version}: R4 is supported[/red]")
        raise typer.Exit(EXIT_USAGE)
    report = export_trials(
        inputs=[str(p) for p in inputs],
        output=str(output),
        templates=str(templates) if templates else None,
        fhir_version="R4",
        prs_org_name=prs_org_name,
        batch_size=batch_size,
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
        raise typer.Exit(EXIT_REJECTS)


def main() -> None:
    app()
