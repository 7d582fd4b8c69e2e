"""``trialexport``: the commands, wired to the flows. What they print is ``flows.console``'s;
what their exit codes mean is ``flows.errors``'.

Every usage error (an option or ``TRIALEXPORT_*`` setting out of range, a ledger of another
format, a Secret block name Prefect would refuse, a missing input) is found before Prefect is
imported: one line, exit 2, in well under a second.

FHIR credentials are never options (shell history, process listings): ``TRIALEXPORT_FHIR_TOKEN``
(bearer) or ``TRIALEXPORT_FHIR_USER`` / ``TRIALEXPORT_FHIR_PASSWORD`` (basic), or
``--secret-block`` naming a Prefect Secret block.

For scripts, ``--json`` puts one JSON object on stdout (stdout carries nothing else, ever: logs
and messages go to stderr) and ``--quiet`` leaves stderr to errors. A progress bar is drawn on
stderr only for runs long enough to want one, and only on a terminal, so logs piped to a file
stay plain lines.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console

import flows  # noqa: F401  (sets Prefect defaults before Prefect is imported)
from flows import progress
from flows.console import Presenter, ProgressBar, prefect_console_handlers
from flows.errors import ExitCode, NoExport, SettingError, TrialexportError, UsageError
from mappers.output_layout import REPORT

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.schedules import Schedule

# From this many inputs `run` maps in one process per CPU (a local Dask cluster). Its workers
# share the run's Prefect server (flows.server), so the cluster costs only its workers' imports
# and first compiles, a few seconds: measured on 2 cores (benchmarks.scale --scaling), two
# workers lost to threads at 300 inputs and won from ~1,500 on (README, Speed).
AUTO_WORKERS_INPUTS = 1000


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
PrsOrgName = Annotated[
    str | None, typer.Option(help="PRS organisation name \\[env: TRIALEXPORT_PRS_ORG_NAME]")
]
BatchSize = Annotated[int | None, typer.Option(min=1, help="studies per Prefect task")]
Formats = Annotated[
    str | None,
    typer.Option(
        metavar="fhir,prs,public",
        help="outputs to write, comma-separated (default all three; study.json is always written) "
        "\\[env: TRIALEXPORT_FORMATS]",
    ),
]
DeepValidation = Annotated[
    bool | None,
    typer.Option(
        "--deep-validation/--no-deep-validation",
        help="also read every FHIR resource with fhir.resources' models (slower; the JSON Schema "
        "checks structure either way) \\[env: TRIALEXPORT_DEEP_VALIDATION]",
        show_default=False,
    ),
]
FhirUrl = Annotated[
    str | None,
    typer.Option(
        "--fhir-url", help="then publish the bundles to this FHIR base URL (options: TRIALEXPORT_FHIR_*)"
    ),
]
SecretBlock = Annotated[
    str | None,
    typer.Option(
        help="Prefect Secret block holding the FHIR credentials \\[env: TRIALEXPORT_FHIR_SECRET_BLOCK]"
    ),
]
DeploymentName = Annotated[str, typer.Option(help="deployment name")]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="print nothing but errors (exit codes say the rest)")
]
Json = Annotated[
    bool,
    typer.Option("--json", help="print the summary as one JSON object on stdout, and nothing else there"),
]

_CONSOLE_HANDLER_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"


def _quiet_prefect() -> None:
    """Prefect's console logs down to errors; its API logs (the UI's run logs) keep every level.

    The environment variable reaches logging set up later (Prefect configures it on import, and
    its temporary server is a child process); the handlers already configured are set here."""
    os.environ[_CONSOLE_HANDLER_LEVEL] = "ERROR"
    if "prefect" in sys.modules:
        for handler in prefect_console_handlers():
            handler.setLevel(logging.ERROR)


@contextmanager
def _handled(presenter: Presenter) -> Iterator[None]:
    """An error of ours is one line and its exit code; Ctrl-C says what it left instead of a
    traceback and exits 1.

    Prefect may raise something else while it records an interrupted run (the cause stays in
    ``__context__``), so the chain is searched, not the exception alone."""
    try:
        yield
    except TrialexportError as exc:
        presenter.error(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except BaseException as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, KeyboardInterrupt):
            cause = cause.__context__
        if cause is None:
            raise
        presenter.interrupted()
        raise typer.Exit(ExitCode.FAILURE) from None


def _check_export(output: Path, given: dict[str, Any]) -> None:
    """Settings and the export ledger, before Prefect is imported."""
    from flows.incremental import check_ledger
    from flows.settings import ExportSettings, load

    load(ExportSettings, output=str(output), **{k: v for k, v in given.items() if v is not None})
    check_ledger(output)


def _check_publish(output: Path, fhir_url: str, given: dict[str, Any]) -> None:
    """Settings (the Secret block's name among them) and the publish ledger, before Prefect."""
    from flows.publish.ledger import check_ledger
    from flows.settings import PublishSettings, load

    load(PublishSettings, url=fhir_url, **{k: v for k, v in given.items() if v is not None})
    check_ledger(output)


def _check_secret_block(fhir_url: str | None, secret_block: str | None) -> None:
    """A Secret block named but not there is found before the flow starts (this needs Prefect)."""
    if fhir_url:
        from flows.publish.client import resolve_auth

        resolve_auth(secret_block or os.environ.get("TRIALEXPORT_FHIR_SECRET_BLOCK"))


def _schedule(cron: str) -> Schedule:
    from prefect.schedules import Cron

    try:
        return Cron(cron, timezone="UTC")
    except ValueError as exc:
        raise UsageError(f"invalid --cron {cron!r}: {exc}") from None


def _serve(
    flow: Flow, name: str, schedule: Schedule, parameters: dict[str, Any], secret_block: str | None
) -> None:
    """``flow`` as a deployment of this process on ``schedule`` until Ctrl-C, one run at a time
    (two runs writing one output directory at once would interleave their files)."""
    if secret_block:  # read by the publish settings inside every flow run this process starts
        os.environ["TRIALEXPORT_FHIR_SECRET_BLOCK"] = secret_block
    flow.serve(name=name, schedules=[schedule], parameters=parameters, limit=1, tags=["trialexport"])


def _auto_workers(inputs: list[Path], workers: int | None, dask_address: str | None) -> int | None:
    """Mapping is CPU-bound: a large run uses every core unless told otherwise."""
    cpus = os.cpu_count() or 1
    if workers is not None or dask_address or cpus < 2:
        return workers
    from flows.batch import count_inputs

    enough = count_inputs([str(p) for p in inputs], AUTO_WORKERS_INPUTS) >= AUTO_WORKERS_INPUTS
    return cpus if enough else None


def _export_flow(dask_address: str | None, workers: int | None) -> Flow:
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
    prs_org_name: PrsOrgName = None,
    batch_size: BatchSize = None,
    formats: Formats = None,
    deep_validation: DeepValidation = None,
    fhir_url: FhirUrl = None,
    dask_address: DaskAddress = None,
    workers: Workers = None,
    full: Full = False,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Read INPUTS, write FHIR bundles, PRS/public XML, NDJSON and run-report.json to OUTPUT."""
    presenter = Presenter(console, quiet=quiet, as_json=as_json)
    given = {
        "templates": str(templates) if templates else None,
        "fhir_version": fhir_version.value,
        "prs_org_name": prs_org_name,
        "batch_size": batch_size,
        "formats": formats,
        "deep_validation": deep_validation,
    }
    with _handled(presenter):
        _check_export(output, given)
        if fhir_url:
            _check_publish(output, fhir_url, {})
    if quiet:
        _quiet_prefect()
    bar = ProgressBar(console, enabled=not quiet)
    from flows.server import early_temporary_server, use

    # Without PREFECT_API_URL, Prefect's temporary server boots while the flow is imported.
    with _handled(presenter), early_temporary_server() as server:
        workers = _auto_workers(inputs, workers, dask_address)
        flow = _export_flow(dask_address, workers)
        if server is not None and not (workers or dask_address):  # this process maps: compile now
            from mappers.export import warm_up

            warm_up(fhir_version.value, str(templates) if templates else None)
        with use(server):
            _check_secret_block(fhir_url, None)
            try:
                with progress.listening(bar):
                    paths = [str(p) for p in inputs]
                    returned = flow(inputs=paths, output=str(output), fhir_url=fhir_url, full=full, **given)
            finally:  # before anything else is printed
                bar.close()
        from flows.records import RunReport

        report = RunReport.from_json(cast(dict[str, Any], returned))
        code = presenter.run_done(report, output, published=bool(fhir_url))
    if code:
        raise typer.Exit(code)


@app.command()
def publish(
    output: Annotated[
        Path, typer.Argument(help="output directory of an earlier run", exists=True, file_okay=False)
    ],
    fhir_url: Annotated[str, typer.Option("--fhir-url", envvar="TRIALEXPORT_FHIR_URL", help="FHIR base URL")],
    concurrency: Annotated[int | None, typer.Option(min=1, help="bundles in flight at once")] = None,
    batch_size: BatchSize = None,
    rate_limit: Annotated[float | None, typer.Option(min=0.001, help="at most this many bundles/s")] = None,
    attempts: Annotated[int | None, typer.Option(min=1, help="tries per request")] = None,
    max_delay: Annotated[float | None, typer.Option(min=0, help="longest wait between tries, s")] = None,
    ca_bundle: Annotated[
        Path | None, typer.Option(help="PEM file of CAs to trust", exists=True, dir_okay=False)
    ] = None,
    secret_block: SecretBlock = None,
    force: Annotated[bool, typer.Option(help="send every bundle, ignoring the publish ledger")] = False,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Upload the FHIR bundles of OUTPUT (an earlier run) to --fhir-url; resumes where it stopped."""
    presenter = Presenter(console, quiet=quiet, as_json=as_json)
    options = {
        "concurrency": concurrency,
        "batch_size": batch_size,
        "rate_limit": rate_limit,
        "attempts": attempts,
        "max_delay": max_delay,
        "ca_bundle": str(ca_bundle) if ca_bundle else None,
        "secret_block": secret_block,
        "force": force or None,
    }
    with _handled(presenter):
        if not (output / REPORT).is_file():
            raise NoExport(f"no {REPORT} in {output}: run `trialexport run` first")
        _check_publish(output, fhir_url, options)
    if quiet:
        _quiet_prefect()
    with _handled(presenter):
        _check_secret_block(fhir_url, secret_block)
        from flows.publish.flow import publish_bundles

        returned = publish_bundles(output=str(output), fhir_url=fhir_url, **options)
    from flows.records import RunReport

    code = presenter.publish_done(RunReport.from_json(returned), output)
    if code:
        raise typer.Exit(code)


@app.command()
def serve(
    inputs: Inputs,
    cron: Annotated[str, typer.Option(help='when to run, a cron expression such as "0 2 * * *" (UTC)')],
    output: Output = Path("output"),
    name: DeploymentName = "scheduled",
    templates: Templates = None,
    fhir_version: Version = FhirVersion.R4,
    formats: Formats = None,
    deep_validation: DeepValidation = None,
    fhir_url: FhirUrl = None,
    secret_block: SecretBlock = None,
    dask_address: DaskAddress = None,
    workers: Workers = None,
    full: Full = False,
) -> None:
    """Serve the export as a Prefect deployment that runs on CRON until stopped (Ctrl-C).

    The options become the deployment's parameters, so a run started from the Prefect UI or API
    can override them. Needs a Prefect server (PREFECT_API_URL): the embedded one lives only as
    long as this process and has no UI.
    """
    presenter = Presenter(console)
    given = {"formats": formats, "deep_validation": deep_validation}
    with _handled(presenter):
        _check_export(output, {"templates": str(templates) if templates else None, **given})
        if fhir_url:
            _check_publish(output, fhir_url, {"secret_block": secret_block})
        schedule = _schedule(cron)
    parameters = {
        # absolute: a run started from the UI must not depend on where the server was started
        "inputs": [str(p.resolve()) for p in inputs],
        "output": str(output.resolve()),
        "templates": str(templates.resolve()) if templates else None,
        "fhir_version": fhir_version.value,
        "fhir_url": fhir_url,
        "full": full,
        **{k: v for k, v in given.items() if v is not None},
    }
    _serve(_export_flow(dask_address, workers), name, schedule, parameters, secret_block)


ApiUrl = Annotated[
    str | None,
    typer.Option(
        help="ClinicalTrials.gov API v2 base URL \\[env: TRIALEXPORT_SYNC_API_URL; "
        "default: https://clinicaltrials.gov/api/v2]"
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        metavar="YYYY-MM-DD",
        help="fetch the studies updated from this date on, instead of from the watermark",
    ),
]


def _since(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SettingError("--since", text, "a date, YYYY-MM-DD") from None


def _check_sync(output: Path, fetch: dict[str, Any], export: dict[str, Any], publish: dict[str, Any]) -> None:
    """The sync's settings and state, then the export's and publish's, before Prefect."""
    from flows.settings import SyncSettings, load
    from flows.sync.store import load_state

    load(SyncSettings, **{k: v for k, v in fetch.items() if v is not None})
    load_state(output)
    _check_export(output, export)
    if publish["fhir_url"]:
        _check_publish(output, publish["fhir_url"], {"secret_block": publish["secret_block"]})


@app.command()
def sync(
    output: Output = Path("output"),
    api_url: ApiUrl = None,
    query: Annotated[str | None, typer.Option(help="search terms (query.term)")] = None,
    condition: Annotated[str | None, typer.Option(help="condition or disease (query.cond)")] = None,
    since: Since = None,
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
        int | None, typer.Option(min=1, max=1000, help="studies per page \\[default: 1000, the API's most]")
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option(min=0.001, help="API requests per second at most \\[default: 1]")
    ] = None,
    templates: Templates = None,
    fhir_version: Version = FhirVersion.R4,
    prs_org_name: PrsOrgName = None,
    batch_size: BatchSize = None,
    fhir_url: FhirUrl = None,
    secret_block: SecretBlock = None,
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
    name: DeploymentName = "scheduled",
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Fetch what changed on ClinicalTrials.gov since the last sync into OUTPUT/sources/ctgov/, then
    export it to OUTPUT (and publish it with --fhir-url). The watermark moves only when all of it
    finished; exit 5 when the fetch fell short (sync-report.json says why)."""
    presenter = Presenter(console, quiet=quiet, as_json=as_json)
    fetch = {"api_url": api_url, "page_size": page_size, "rate_limit": rate_limit}
    export = {
        "templates": str(templates) if templates else None,
        "fhir_version": fhir_version.value,
        "prs_org_name": prs_org_name,
        "batch_size": batch_size,
    }
    with _handled(presenter):
        if full and since:
            raise UsageError("--full and --since exclude each other: --full fetches everything")
        asked = {"since": _since(since), "full": full, "check_removed": check_removed}
        _check_sync(output, fetch, export, {"fhir_url": fhir_url, "secret_block": secret_block})
    parameters: dict[str, Any] = {
        "output": str(output),
        **fetch,
        "query": query,
        "condition": condition,
        **asked,
        **export,
        "fhir_url": fhir_url,
        "full_export": full_export,
        "workers": workers,
        "dask_address": dask_address,
    }
    if cron:
        _serve_sync(presenter, cron, name, parameters, secret_block)
    else:
        _sync_once(presenter, parameters, secret_block)


def _serve_sync(
    presenter: Presenter, cron: str, name: str, parameters: dict[str, Any], secret_block: str | None
) -> None:
    """The sync as a deployment of this process, paths absolute (as ``serve`` stores them)."""
    from flows.sync.flow import sync_trials

    with _handled(presenter):
        schedule = _schedule(cron)
    templates = parameters["templates"]
    absolute = {
        "output": str(Path(parameters["output"]).resolve()),
        "templates": str(Path(templates).resolve()) if templates else None,
    }
    _serve(sync_trials, name, schedule, parameters | absolute, secret_block)


def _sync_once(presenter: Presenter, parameters: dict[str, Any], secret_block: str | None) -> None:
    if secret_block:  # read by the publish settings of the export's publish
        os.environ["TRIALEXPORT_FHIR_SECRET_BLOCK"] = secret_block
    if presenter.quiet:
        _quiet_prefect()
    bar = ProgressBar(console, enabled=not presenter.quiet)
    with _handled(presenter):
        _check_secret_block(parameters["fhir_url"], None)
        from flows.sync.flow import sync_trials

        try:
            with progress.listening(bar):
                returned = sync_trials(**parameters)
        finally:  # before anything else is printed
            bar.close()
    from flows.run_report import read_report
    from flows.sync.report import SyncReport

    output = Path(parameters["output"])
    report, _ = read_report(output / REPORT)
    published = bool(parameters["fhir_url"])
    code = presenter.sync_done(SyncReport.model_validate(returned), report, output, published)
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

    presenter = Presenter(console, quiet=quiet, as_json=as_json)
    errors = 0
    checked = []
    for path in files_to_check(paths):
        issues = validate_file(path, fhir_version.value)
        errors += sum(i.severity == "error" for i in issues)
        checked.append(
            {
                "path": str(path),
                "valid": not any(i.severity == "error" for i in issues),
                "issues": [i.model_dump(exclude_none=True) for i in issues],
            }
        )
        presenter.validated(path, issues)
    if as_json:
        presenter.print_json({"files": len(checked), "errors": errors, "checked": checked})
    if errors:
        raise typer.Exit(ExitCode.REJECTED)


def main() -> None:
    app()
