"""Registry-scale throughput: bare mappers, the flow (threads, then Dask processes), an incremental rerun.

    python -m benchmarks.scale [--studies 100000] [--batch-size N] [--workers N] [--changed 0.01] [--keep DIR]
    python -m benchmarks.scale --scaling 400,1000,3000 [--workers 2] [--repeat 2]

The corpus is distinct generated API v2 records (``benchmarks.corpus.generated``: every text leaf
and identifier of its own), so no content-keyed cache hits from one study to the next. ``make
bench`` (``benchmarks.bench``) gives the per-stage and end-to-end figures; this script compares
the runners and the incremental rerun.

Each stage runs in a process of its own so that its peak RSS (``getrusage``'s high-water mark,
which never goes down) is its own. The flow stages start Prefect's temporary server first, as
the CLI does, and are timed from when it answers (a scheduled deployment has its server running
already). Prints figures; asserts nothing: speed is read by people, not enforced
by flaky timed tests.

``--scaling SIZES`` answers how the rate scales with worker processes: for each size, the flow
on threads (one core), then on a local Dask cluster of 1 and of ``--workers`` processes, each in
a fresh process after the warm-up flow run, in turn (``--repeat`` rounds, interleaved, medians).
The Dask figures include starting the cluster, as a user's run does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import write_generated

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


def make_corpus(directory: Path, count: int) -> list[Path]:
    """``count`` distinct generated API v2 records (``benchmarks.corpus``), 1,000 to a folder."""
    return write_generated(directory, count)


def change(paths: list[Path], share: float) -> int:
    """Edit ``share`` of the inputs, spread over the corpus, as a daily change set would be."""
    step = max(1, round(1 / share))
    changed = paths[::step]
    for path in changed:
        data = path.read_bytes()
        path.write_bytes(b"Revised: " + data if path.suffix == ".txt" else data + b"\n")
    return len(changed)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---- stages, each in its own process -------------------------------------------------------


def stage_bare(corpus: Path) -> dict:
    from flows.batch import discover
    from flows.settings import ExportSettings
    from mappers.export import export_study
    from mappers.readers import RejectedInput, read_document

    mapping = ExportSettings().mapping()
    paths = discover([str(corpus)])
    warm = next(iter(read_document(Path(paths[0]).read_bytes(), paths[0])))
    export_study(warm, mapping)  # compile templates and schemas, as a long-lived worker has
    studies = exported = 0
    started = time.perf_counter()
    for path in paths:
        try:
            for study in read_document(Path(path).read_bytes(), path):
                studies += 1
                exported += export_study(study, mapping).status == "exported"
        except RejectedInput:
            pass
    seconds = time.perf_counter() - started
    return {"studies": studies, "exported": exported, "seconds": seconds}


def stage_flow(
    corpus: Path, output: Path, batch_size: int | None, warm_up: Path, workers: int | None = None
) -> dict:
    """The flow as ``trialexport run`` runs it: threads, or ``workers`` Dask worker processes
    (their RSS is theirs; the figure printed is the flow process's). As the CLI does, Prefect's
    temporary server is started first and, on threads, the templates and schema compiled while it
    boots; the timed run starts when the server answers: every process is as cold as a user's.
    ``warm_up``: unused (a flow run on the seeds first warmed the flow process, and so flattered
    threads against fresh Dask workers)."""
    import flows  # noqa: F401  (Prefect defaults)
    from flows.export import export_trials
    from flows.server import early_temporary_server, use
    from mappers.export import warm_up as compile_now

    with early_temporary_server() as server:
        if workers:
            from flows.runners import with_runner

            export_trials = with_runner(export_trials, workers=workers)
        else:
            compile_now()
        with use(server):
            started = time.perf_counter()
            report = export_trials(inputs=[str(corpus)], output=str(output), batch_size=batch_size)
            seconds = time.perf_counter() - started
    totals = report["totals"]
    return {
        "studies": totals["studies"],
        "exported": totals["exported"],
        "skipped": totals["skipped"],
        "seconds": seconds,
    }


def _run_stage(name: str, args: list[str], log: Path) -> dict:
    command = [sys.executable, "-m", "benchmarks.scale", "--stage", name, *args]
    with log.open("ab") as sink:
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=sink, check=True)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def _line(label: str, figures: dict, bare_rate: float | None) -> str:
    rate = figures["studies"] / figures["seconds"]
    ratio = f"{rate / bare_rate:6.2f}" if bare_rate else "  1.00"
    extra = f", {figures['skipped']} inputs skipped" if figures.get("skipped") else ""
    return (
        f"{label:<26} {rate:8.0f} studies/s  {figures['seconds']:8.1f} s  "
        f"peak RSS {figures['peak_rss_mb']:6.0f} MB  ratio to bare {ratio}  "
        f"({figures['studies']} studies, {figures['exported']} exported{extra})"
    )


def scaling(sizes: list[int], workers: int, repeat: int, work: Path, log: Path) -> list[str]:
    """Studies/s per size and runner, medians of ``repeat`` interleaved rounds."""
    runners = [("threads", "flow", None), ("Dask, 1 process", "dask", 1)]
    runners += [(f"Dask, {n} processes", "dask", n) for n in range(2, workers + 1)]
    lines = [f"{'studies':>8}  " + "  ".join(f"{label:>18}" for label, _, _ in runners)]
    for size in sizes:
        corpus = work / f"corpus-{size}"
        make_corpus(corpus, size)
        seconds: dict[str, list[float]] = {label: [] for label, _, _ in runners}
        for round_ in range(repeat):
            for label, stage, n in runners:
                args = ["--corpus", str(corpus), "--output", str(work / f"out-{size}-{round_}-{n}")]
                figures = _run_stage(stage, [*args, "--workers", str(n or 0)], log)
                seconds[label].append(figures["seconds"])
        rates = [size / statistics.median(seconds[label]) for label, _, _ in runners]
        lines.append(f"{size:>8}  " + "  ".join(f"{rate:12.1f} /s   " for rate in rates))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the setting's")
    parser.add_argument("--changed", type=float, default=0.01, help="share changed before the rerun")
    parser.add_argument("--keep", type=Path, help="work here and keep corpus and outputs")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="Dask worker processes")
    parser.add_argument("--scaling", help="comma-separated sizes: threads vs 1..--workers processes")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of --scaling (medians)")
    parser.add_argument("--stage", choices=("bare", "flow", "dask"), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        if args.stage == "bare":
            figures = stage_bare(args.corpus)
        else:
            warm_up = args.output.parent / "warm-up"
            workers = args.workers if args.stage == "dask" else None
            figures = stage_flow(args.corpus, args.output, args.batch_size, warm_up, workers)
        print(json.dumps(figures | {"peak_rss_mb": _peak_rss_mb()}))
        return
    with tempfile.TemporaryDirectory(prefix="trialexport-scale-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        corpus, output, log = work / "corpus", work / "out", work / "stages.log"
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            "load average {:.1f} {:.1f} {:.1f}; ".format(*os.getloadavg())
            + f"stage logs in {log}"
        )
        if args.scaling:
            sizes = [int(size) for size in args.scaling.split(",")]
            print("\n".join(scaling(sizes, args.workers, args.repeat, work, log)))
            print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
            return
        started = time.perf_counter()
        paths = make_corpus(corpus, args.studies)
        print(f"corpus: {len(paths)} inputs generated in {time.perf_counter() - started:.1f} s")
        common = ["--corpus", str(corpus), "--output", str(output)]
        if args.batch_size:
            common += ["--batch-size", str(args.batch_size)]
        bare = _run_stage("bare", common, log)
        bare_rate = bare["studies"] / bare["seconds"]
        print(_line("bare mappers (1 process)", bare, None), flush=True)
        full = _run_stage("flow", common, log)
        print(_line("flow, default runner", full, bare_rate), flush=True)
        dask_output = ["--output", str(work / "out-dask"), "--workers", str(args.workers)]
        dask = _run_stage("dask", [*common[:2], *dask_output, *common[4:]], log)
        print(_line(f"flow, Dask, {args.workers} processes", dask, bare_rate), flush=True)
        changed = change(paths, args.changed)
        rerun = _run_stage("flow", common, log)
        print(_line(f"incremental ({changed} changed)", rerun, bare_rate))
        print(f"incremental run {full['seconds'] / rerun['seconds']:.1f}x faster than the full run")


if __name__ == "__main__":
    main()
