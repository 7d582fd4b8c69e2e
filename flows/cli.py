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

For scripts, ``--json`` puts one JSON object on stdout (stdout carries nothing else, ever: logs
and messages go to stderr) and ``--quiet`` leaves stderr to errors. A progress bar is drawn on
stderr only for runs long enough to want one, and only on a terminal, so logs piped to a file
stay plain lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import flows  # noqa: F401  (sets Prefect defaults before Prefect is imported)
from flows import progress

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REJECTS, EXIT_PUBLISH = 0, 1, 2, 3, 4
MAX_KEYS_SHOWN = 10  # studies named on one console line; run-report.json names them all
# From this many inputs `run` maps in one process per CPU: a local Dask cluster costs ~15 s to
# start (workers import and warm up) and pays back only on runs of a few minutes.
AUTO_WORKERS_INPUTS = 5000


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
        min=0,
        envvar="TRIALEXPORT_WORKERS",
        help="map the batches in N worker processes (a local Dask cluster); 0: threads in this "
        f"process. `run` default: one per CPU from {AUTO_WORKERS_INPUTS} inputs on, else threads",
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
        "--full", help="export every input, even those unchanged since the last run (export-ledger.sqlite)"
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="print nothing but errors (exit codes say the rest)")
]
Json = Annotated[
    bool,
    typer.Option("--json", help="print the summary as one JSON object on stdout, and nothing else there"),
]

# Below this many inputs a run takes seconds, and a bar would only flicker.
PROGRESS_MIN_INPUTS = 200
_CONSOLE_HANDLER_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"


def _prefect_console_handlers() -> list[logging.Handler]:
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    found = {id(h): h for lg in loggers for h in lg.handlers if isinstance(h, PrefectConsoleHandler)}
    return list(found.values())


def _quiet_prefect() -> None:
    """Prefect's console logs down to errors; its API logs (the UI's run logs) keep every level.

    The environment variable reaches logging set up later (Prefect configures it on import, and
    its temporary server is a child process); the handlers already configured are set here."""
    os.environ[_CONSOLE_HANDLER_LEVEL] = "ERROR"
    if "prefect" in sys.modules:
        for handler in _prefect_console_handlers():
            handler.setLevel(logging.ERROR)


class _ProgressBar:
    """``flows.progress`` listener: a bar of inputs done (and studies read) on stderr.

    While it is drawn, Prefect's console logs are held to warnings: its handler writes to the
    terminal directly and each INFO line would tear the bar; the per-batch lines it hides are
    still in the Prefect UI's run logs."""

    def __init__(self, console: Console, enabled: bool):
        self.console = console
        self.enabled = enabled
        self.bar: Progress | None = None
        self.studies = 0
        self._levels: list[tuple[logging.Handler, int]] = []

    def start(self, total_inputs: int) -> None:
        if not self.enabled or total_inputs <= PROGRESS_MIN_INPUTS or not self.console.is_terminal:
            return
        self.bar = Progress(
            TextColumn("exporting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("inputs, {task.fields[studies]} studies"),
            TimeElapsedColumn(),
            console=self.console,
            redirect_stdout=False,  # stdout may be carrying --json
        )
        self.task = self.bar.add_task("export", total=total_inputs, studies=0)
        self._levels = [(h, h.level) for h in _prefect_console_handlers()]
        for handler, level in self._levels:
            handler.setLevel(max(level, logging.WARNING))
        self.bar.start()

    def advance(self, inputs: int, studies: int) -> None:
        if self.bar is not None:
            self.studies += studies
            self.bar.update(self.task, advance=inputs, studies=self.studies)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        for handler, level in self._levels:
            handler.setLevel(level)
        self._levels = []


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C says what it left instead of a traceback; it exits 1 as it did.

    Prefect may raise something else while it records the interrupted run (the cause stays in
    ``__context__``), so the chain is searched, not the exception alone."""
    try:
        yield
    except BaseException as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, KeyboardInterrupt):
            cause = cause.__context__
        if cause is None:
            raise
        console.print(
            "[red]interrupted[/red]: every file written is whole; the next run into the same"
            " output continues from them",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_FAILURE) from None


def _print_json(data: dict) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _error_reasons(entry: dict) -> str:
    return "; ".join(i["message"] for i in entry["issues"] if i["severity"] == "error")


def _rejected(report: dict, output: Path) -> list[dict]:
    """The rejected entries; read back from ``run-report.json`` (only when there are some) when
    the flow returned its report without the entries, which a large run keeps on disk."""
    if not report["totals"]["rejected"]:
        return []
    if "studies" in report:
        studies = report["studies"]
    else:
        from flows.run_report import read_studies

        studies = read_studies(output / "run-report.json")
    return [e for e in studies if e["status"] == "rejected"]


def _run_summary(report: dict, output: Path) -> dict:
    """``--json``'s object: run-report.json's totals, where everything is, what was rejected."""
    summary = {
        "totals": report["totals"],
        "output": str(output),
        "report": str(output / "run-report.json"),
        "html": str(output / "index.html"),
        "bulk": [str(output / p) for p in report.get("bulk", [])],
        "rejected": [
            {
                "source": e["source"],
                **({"record": e["record"]} if "record" in e else {}),
                **({"key": e["key"]} if e.get("key") else {}),
                "reason": _error_reasons(e),
            }
            for e in _rejected(report, output)
        ],
        "warnings": report.get("warnings", []),
    }
    if "publish" in report:
        summary["publish"] = _publish_summary(report)
    return summary


def _publish_summary(report: dict) -> dict:
    section = report["publish"]
    return {
        "server": section["server"],
        "totals": section["totals"],
        "failed": [
            {"key": e["key"], "reason": e["publish"].get("reason", ""), "retry": e["publish"].get("retry")}
            for e in report["studies"]
            if e.get("publish", {}).get("status") == "failed"
        ],
    }


def _auto_workers(inputs: list[Path], workers: int | None, dask_address: str | None) -> int | None:
    """Mapping is CPU-bound: a large run uses every core unless told otherwise."""
    cpus = os.cpu_count() or 1
    if workers is not None or dask_address or cpus < 2:
        return workers
    from flows.export import discover

    return cpus if len(discover([str(p) for p in inputs])) >= AUTO_WORKERS_INPUTS else None


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
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Read INPUTS, write FHIR bundles, PRS/public XML, NDJSON and run-report.json to OUTPUT."""
    if quiet:
        _quiet_prefect()
    bar = _ProgressBar(console, enabled=not quiet)
    with _interruptible():
        try:
            with progress.listening(bar):
                workers = _auto_workers(inputs, workers, dask_address)
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
        finally:  # before anything else is printed
            bar.close()
    totals = report["totals"]
    if as_json:
        _print_json(_run_summary(report, output))
    elif not quiet:
        colour = "red" if totals["rejected"] else "default"
        console.print(
            f"{totals['studies']} studies read from {totals['inputs']} inputs: "
            f"[green]{totals['exported']} exported[/green], "
            f"[{colour}]{totals['rejected']} rejected[/{colour}]. "
            f"Outputs in {output}/ (run-report.json)",
            soft_wrap=True,
        )
        for warning in report.get("warnings", []):
            console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    if totals["rejected"] and not as_json:
        rejected = [
            f"{e['source']}{'#' + str(e['record']) if 'record' in e else ''} ({_error_reasons(e)})"
            for e in _rejected(report, output)
        ]
        console.print(f"[red]rejected:[/red] {'; '.join(rejected)}", soft_wrap=True)
    if fhir_url and _print_publish(report, summary=not (quiet or as_json), failures=not as_json):
        raise typer.Exit(EXIT_PUBLISH)
    if totals["rejected"]:
        raise typer.Exit(EXIT_REJECTS)


def _print_publish(report: dict, summary: bool = True, failures: bool = True) -> int:
    """The publish summary line (and the studies left behind); returns how many failed."""
    section = report["publish"]
    totals = section["totals"]
    colour = "red" if totals["failed"] else "default"
    if summary:
        split = f"{totals['split']} split, " if totals.get("split") else ""
        console.print(
            f"{totals['studies']} studies: [green]{totals['published']} published[/green] "
            f"({totals['sent']} sent, {split}{totals['unchanged']} unchanged), "
            f"[{colour}]{totals['failed']} failed[/{colour}] on {section['server']}",
            soft_wrap=True,
        )
    failed = [e for e in report["studies"] if e.get("publish", {}).get("status") == "failed"]
    not_sent = [e for e in failed if e["publish"].get("attempts") == 0]
    tried = [f"{e['key']} ({e['publish'].get('reason', '')})" for e in failed if e not in not_sent]
    if tried and failures:
        console.print(f"[red]not published:[/red] {'; '.join(tried)}", soft_wrap=True)
    if not_sent and failures:  # one reason for all of them: said once, not once a study
        keys = ", ".join(e["key"] for e in not_sent[:MAX_KEYS_SHOWN])
        more = f" and {len(not_sent) - MAX_KEYS_SHOWN} more" if len(not_sent) > MAX_KEYS_SHOWN else ""
        console.print(
            f"[red]not sent:[/red] {len(not_sent)} studies ({keys}{more}): "
            f"{not_sent[0]['publish'].get('reason', '')}. `trialexport publish` on the same output "
            "sends them.",
            soft_wrap=True,
        )
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
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Upload the FHIR bundles of OUTPUT (an earlier run) to --fhir-url; resumes where it stopped."""
    if quiet:
        _quiet_prefect()
    from flows.publish.flow import publish_bundles

    if not (output / "run-report.json").is_file():
        console.print(f"[red]no run-report.json in {output}: run `trialexport run` first[/red]")
        raise typer.Exit(EXIT_USAGE)
    with _interruptible():
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
    if as_json:
        _print_json({**_publish_summary(report), "report": str(output / "run-report.json")})
    if _print_publish(report, summary=not (quiet or as_json), failures=not as_json):
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
def sync(
    output: Output = Path("output"),
    api_url: Annotated[
        str | None,
        typer.Option(
            envvar="TRIALEXPORT_SYNC_API_URL",
            help="ClinicalTrials.gov API v2 base URL [default: https://clinicaltrials.gov/api/v2]",
        ),
    ] = None,
    query: Annotated[str | None, typer.Option(help="search terms (query.term)")] = None,
    condition: Annotated[str | None, typer.Option(help="condition or disease (query.cond)")] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="fetch the studies updated from this date (YYYY-MM-DD) on, instead of from the watermark",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="fetch every study of the query again, and report those no longer returned"
        ),
    ] = False,
    check_removed: Annotated[
        bool,
        typer.Option(
            "--check-removed",
            help="list the query's studies (two fields each) and report stored ones it lost",
        ),
    ] = False,
    page_size: Annotated[
        int | None, typer.Option(min=1, max=1000, help="studies per page [default: 1000, the API's most]")
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option(min=0.001, help="API requests per second at most [default: 1]")
    ] = None,
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
    secret_block: Annotated[
        str | None,
        typer.Option(
            help="Prefect Secret block holding the FHIR credentials [env: TRIALEXPORT_FHIR_SECRET_BLOCK]"
        ),
    ] = None,
    dask_address: DaskAddress = None,
    workers: Workers = None,
    full_export: Annotated[
        bool,
        typer.Option(
            "--full-export", help="export every stored record, even those unchanged since last time"
        ),
    ] = False,
    cron: Annotated[
        str | None,
        typer.Option(
            help='serve the sync as a Prefect deployment on this schedule ("0 3 * * *", UTC) until stopped'
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="deployment name, with --cron")] = "scheduled",
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Fetch what changed on ClinicalTrials.gov since the last sync into OUTPUT/sources/ctgov/, then
    export it to OUTPUT (and publish it with --fhir-url). The watermark moves only when all of it
    finished; exit 5 when the fetch fell short (sync-report.json says why)."""
    from flows.sync import console as sync_console

    if full and since:
        console.print("[red]--full and --since exclude each other: --full fetches everything[/red]")
        raise typer.Exit(EXIT_USAGE)
    parameters = {
        "output": str(output),
        "api_url": api_url,
        "query": query,
        "condition": condition,
        "since": since.date() if since else None,
        "full": full,
        "check_removed": check_removed,
        "page_size": page_size,
        "rate_limit": rate_limit,
        "templates": str(templates) if templates else None,
        "fhir_version": fhir_version.value,
        "prs_org_name": prs_org_name,
        "batch_size": batch_size,
        "fhir_url": fhir_url,
        "full_export": full_export,
        "workers": workers,
        "dask_address": dask_address,
    }
    if cron:
        from prefect.schedules import Cron

        try:
            Cron(cron, timezone="UTC")
        except ValueError as exc:
            console.print(f"[red]invalid --cron {cron!r}: {exc}[/red]")
            raise typer.Exit(EXIT_USAGE) from None
        absolute = {
            "output": str(output.resolve()),
            "templates": str(templates.resolve()) if templates else None,
        }
        sync_console.serve(cron, name, parameters | absolute, secret_block)
        return
    if secret_block:
        os.environ["TRIALEXPORT_FHIR_SECRET_BLOCK"] = secret_block
    if quiet:
        _quiet_prefect()
    from flows.sync.flow import sync_trials

    bar = sync_console.SyncProgress(
        console, not quiet, _ProgressBar(console, enabled=not quiet), _prefect_console_handlers
    )
    with _interruptible():
        try:
            with progress.listening(bar):
                report = sync_trials(**parameters)
        finally:
            bar.close()
    exported = json.loads((output / "run-report.json").read_bytes())
    if as_json:
        _print_json(sync_console.json_summary(report, output))
    elif not quiet:
        sync_console.print_summary(console, report, output)
        totals = exported["totals"]
        console.print(
            f"{totals['studies']} studies read: [green]{totals['exported']} exported[/green] "
            f"({totals['skipped']} unchanged), {totals['rejected']} rejected. Outputs in {output}/ "
            "(run-report.json, sync-report.json)",
            soft_wrap=True,
        )
        for warning in exported.get("warnings", []):
            console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    if exported["totals"]["rejected"] and not as_json:
        rejected = [f"{e['source']} ({_error_reasons(e)})" for e in _rejected(exported, output)]
        console.print(f"[red]rejected:[/red] {'; '.join(rejected)}", soft_wrap=True)
    failures = (
        _print_publish(exported, summary=not (quiet or as_json), failures=not as_json) if fhir_url else 0
    )
    code = sync_console.exit_code(report, exported["totals"]["rejected"], failures)
    if code:
        raise typer.Exit(code)


@app.command()
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="bundles (.json) and XML records, or directories of them", exists=True),
    ],
    fhir_version: Version = FhirVersion.R4,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the invalid files")] = False,
    as_json: Json = False,
) -> None:
    """Check written bundles and XML files with the export's validators; exit 3 on any error."""
    from flows.validate import files_to_check, validate_file

    errors = 0
    checked = []
    for path in files_to_check(paths):
        issues = validate_file(path, fhir_version.value)
        invalid = any(i.severity == "error" for i in issues)
        errors += sum(i.severity == "error" for i in issues)
        checked.append(
            {
                "path": str(path),
                "valid": not invalid,
                "issues": [i.model_dump(exclude_none=True) for i in issues],
            }
        )
        if as_json or (quiet and not invalid):
            continue
        mark = "[red]invalid[/red]" if invalid else "[green]valid[/green]"
        console.print(f"{mark} {path}", soft_wrap=True)
        for issue in issues:
            if quiet and issue.severity != "error":
                continue
            where = f" ({issue.field or issue.location})" if issue.field or issue.location else ""
            console.print(f"  {issue.severity} {issue.code}{where}: {issue.message}", soft_wrap=True)
    if as_json:
        _print_json({"files": len(checked), "errors": errors, "checked": checked})
    if errors:
        raise typer.Exit(EXIT_REJECTS)


def main() -> None:
    app()
