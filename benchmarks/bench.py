"""``make bench``: what a study costs on first sight, and what a run does end to end.

    python -m benchmarks.bench [--records DIR ...] [--formats fhir,prs,public] [--fhir-version R4]
                               [--sizes 1000,10000] [--skip-flow] [--warm-up 60] [--json FILE]
                               [--peer DIR] [--race-studies 1000] [--python-gc]

Figures only; nothing is asserted (speed targets are read by people, not enforced by timed tests).

**Per stage, first sight.** Every distinct real record of the fixtures (``benchmarks.corpus``;
issue 14's 86 records first, and a table of their own; ``--records`` adds directories of more) is
read and exported once, with ``mappers.export.StageClock`` timing each stage inside the real
``export_study``, and whatever no stage covers counted as its rest, so that each record's total is
its read plus its whole ``export_study``.
Before that, ``--warm-up`` *generated* records (distinct from every measured one) are exported,
so templates, schemas, XSDs and FHIRPath expressions are compiled as in a long run, while no
content-keyed cache has seen the measured records; then the garbage collector is set as a batch
worker sets it after its first batch (``flows.collector``; ``--python-gc`` keeps the
interpreter's settings). Times are CPU time (``time.process_time``:
the machine is shared, wall time is not this process's alone), per study, as the median and the
mean over the records; the total is the median (and mean) of each record's own total, not a sum
of medians. Issue 14's target (15 ms a study, goal 5) is held to the mean: a registry's heavy
records (a thousand sites) are studies too, and the mean is what a run's rate follows.

**The race** (``benchmarks.race``): the same API v2 files to R4 ResearchStudy by trialexport
(``formats=fhir``) and by the MITRE converter, on one core and on two, when ``--peer`` or
``TRIALEXPORT_PEER`` names a checkout of it built with its own ``npm ci``; skipped, saying so,
without one.

**End to end.** The ``export_trials`` flow on 1,000 and 10,000 generated records, each size in a
fresh process set up as ``trialexport run`` sets it up (Prefect's temporary server first, the
runner the CLI picks for that many inputs), timed from when the server answers: studies/s, peak
RSS of the flow process and of its largest child (a Dask worker, or the server), and the
marginal rate between the two sizes (start-up costs cancel out).

**The disk.** A run creates five files a study; what that costs depends on the disk's recent past
more than on the code. On a file system that checks, for each new inode, whether the free ones it
passes were deleted in the last minutes (ext4 without a journal does: its ``recently_deleted``,
one minute, six while the inode table is unwritten), creating a file costs 20-60 µs on a quiet
disk and 0.3-1 ms for minutes after thousands of deletions (the race's files, a test run, the
previous benchmark's folder). So nothing the benchmark writes is deleted before its last figure,
and each end-to-end size is preceded by a probe that creates files beside its output and prints
what one cost: a low rate with a dear probe is the disk's, not the run's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import cast

from benchmarks.corpus import ROOT, Record, generated, issue_records, real_records, write_generated
from benchmarks.race import PEER_ENV, peer_dir, race

STAGES = (
    "read",
    "template context",
    "FHIR render",
    "FHIR finish (parse, prune)",
    "FHIR structure",
    "FHIR rules + profile",
    "FHIR bundle rules",  # a bundle the structure check refused: the rules alone
    "PRS render",
    "PRS XSD",
    "public render",
    "public XSD",
    "not-mapped trace",
    "serialise",
    "NDJSON lines",
    "rest of export_study",
)
REST = "rest of export_study"
GC_ROW = "garbage collection"
TARGET_MS, GOAL_MS = 15, 5  # issue 14: first sight, all four outputs validated, the mean over records
WARM_UP_FROM = 5_000_000  # generated record numbers of the warm-up: none in the end-to-end corpora


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return (
        f"{platform.system()} {platform.machine()}, {model or platform.processor()}, {os.cpu_count()} CPUs, "
        f"{memory:.0f} GiB, Python {platform.python_version()}{load}"
    )


def _settings(args):
    from mappers.context import MappingSettings

    return MappingSettings(fhir_version=args.fhir_version, formats=tuple(args.formats.split(",")))


def export_record(record: Record, mapping, clock=None) -> list[str]:
    """Read and export one record; the studies' statuses."""
    from mappers.export import export_study
    from mappers.readers import read_document

    started = time.process_time()
    studies = read_document(record.data, record.source)
    if clock is None:
        return [export_study(study, mapping).status for study in studies]
    clock.seconds["read"] = time.process_time() - started
    statuses: list[str] = []
    for study in studies:  # what no stage covers is counted too: the total is export_study's own
        timed = sum(clock.seconds.values())
        started = time.process_time()
        statuses.append(export_study(study, mapping, clock=clock).status)
        rest = time.process_time() - started - (sum(clock.seconds.values()) - timed)
        clock.seconds[REST] = clock.seconds.get(REST, 0.0) + rest
    return statuses


class _GcClock:
    """CPU seconds the cyclic garbage collector took, counted by gc.callbacks: it runs inside
    whichever stage allocates when a threshold is reached, so it is shown apart (and is part of
    the stages' figures, not added to them)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started


def first_sight(
    records: list[Record], mapping, warm_up: int, worker_gc: bool = True
) -> tuple[list[dict[str, float]], Counter]:
    """Per record: ms per study by stage, after a warm-up on other records; ``GC_ROW`` holds the
    garbage collector's share, already inside the stages. ``worker_gc``: after the warm-up, the
    collector is set as a batch worker sets it after its first batch (``flows.collector``:
    what is loaded for good frozen, young collections spaced out); otherwise the interpreter's
    defaults stay (``--python-gc``, for comparison)."""
    from mappers.export import StageClock

    for record in generated(warm_up, start=WARM_UP_FROM):
        export_record(record, mapping)
    if worker_gc:
        from flows.collector import settle

        settle()
    per_record = []
    statuses: Counter = Counter()
    collector = _GcClock()
    gc.callbacks.append(collector)
    try:
        for record in records:
            clock = StageClock()
            collector.seconds = 0.0
            found = export_record(record, mapping, clock)
            statuses.update(found)
            studies = max(1, len(found))
            figures = {stage: s * 1000 / studies for stage, s in clock.seconds.items()}
            figures[GC_ROW] = collector.seconds * 1000 / studies
            per_record.append(figures)
    finally:
        gc.callbacks.remove(collector)
    return per_record, statuses


def stage_table(per_record: list[dict[str, float]]) -> list[str]:
    def row(label: str, values: list[float]) -> str:
        return f"  {label:<30} {statistics.median(values):8.2f} {statistics.fmean(values):8.2f}"

    lines = [f"  {'stage':<30} {'median':>8} {'mean':>8}   ms per study"]
    names = [s for s in STAGES if any(s in r for r in per_record)]
    names += sorted({s for r in per_record for s in r} - set(STAGES) - {GC_ROW})
    for stage in names:
        lines.append(row(stage, [r.get(stage, 0.0) for r in per_record]))
    lines.append(row("total (per record)", [record_total(r) for r in per_record]))
    lines.append(row(f"  of which {GC_ROW}", [r.get(GC_ROW, 0.0) for r in per_record]))
    return lines


def record_total(figures: dict[str, float]) -> float:
    return sum(ms for stage, ms in figures.items() if stage != GC_ROW)


# ---- end to end: the flow in a process of its own ---------------------------------------------


def _flow_stage(corpus: Path, output: Path) -> dict:
    """The run as ``trialexport run CORPUS`` makes it: Prefect's temporary server started first,
    the runner the CLI picks for this many inputs (threads, or a Dask worker per CPU), the
    templates compiled while the server boots when this process maps; timed from when the
    server answers to the report."""
    import flows  # noqa: F401  (Prefect defaults: telemetry off)
    from flows.cli import _auto_workers, _export_flow
    from flows.server import early_temporary_server, use
    from mappers.export import warm_up

    with early_temporary_server() as server:
        workers = _auto_workers([corpus], None, None)
        flow = _export_flow(None, workers)
        if not workers:
            warm_up()
        with use(server):
            started = time.perf_counter()
            report = cast(dict, flow(inputs=[str(corpus)], output=str(output)))
            seconds = time.perf_counter() - started
    totals = report["totals"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # a worker or the server
    return {
        "studies": totals["studies"],
        "exported": totals["exported"],
        "seconds": seconds,
        "rss": peak,
        "child_rss": child,
        "workers": workers or 0,
    }


PROBE_FILES = 1000


def file_creation_probe(directory: Path) -> float:
    """Microseconds of wall time to create one empty file in a new folder under ``directory``
    (the median of ten runs of a hundred). The files stay until the benchmark's folder goes: a
    deletion here would make the next run's creations dearer (see *The disk*)."""
    probe = directory / f"probe-{time.monotonic_ns()}"
    probe.mkdir()
    runs = []
    for run in range(10):
        started = time.perf_counter()
        for index in range(PROBE_FILES // 10):
            os.close(os.open(probe / f"{run}-{index}", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
        runs.append((time.perf_counter() - started) * 1e6 / (PROBE_FILES // 10))
    return statistics.median(runs)


def end_to_end(size: int, work: Path) -> dict:
    corpus = work / f"corpus-{size}"
    write_generated(corpus, size)
    output = work / f"out-{size}"
    creation = file_creation_probe(work)
    command = [sys.executable, "-m", "benchmarks.bench", "--flow-stage", str(corpus), str(output)]
    with (work / "flow.log").open("ab") as log:
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, check=True)
    return json.loads(done.stdout.decode().strip().splitlines()[-1]) | {"file_creation_us": creation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, action="append", default=[], help="more real records")
    parser.add_argument("--formats", default="fhir,prs,public")
    parser.add_argument("--fhir-version", default="R4", choices=("R4", "R5"))
    parser.add_argument("--warm-up", type=int, default=60, help="generated records exported first")
    parser.add_argument("--sizes", default="1000,10000", help="end-to-end corpus sizes")
    parser.add_argument("--skip-flow", action="store_true", help="per-stage figures only")
    parser.add_argument("--json", type=Path, help="write each record's figures to this file")
    parser.add_argument(
        "--python-gc",
        action="store_true",
        help="keep the interpreter's collector settings (default: a batch worker's, flows.collector)",
    )
    parser.add_argument("--peer", help=f"a built checkout of the peer converter (default: ${PEER_ENV})")
    parser.add_argument("--race-studies", type=int, default=1000, help="API v2 files in the race")
    parser.add_argument("--flow-stage", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flow_stage:
        print(json.dumps(_flow_stage(*args.flow_stage)))
        return

    print(f"machine: {machine()}")
    records = real_records(args.records)
    issue = len(issue_records())  # real_records() puts them first
    forms = ", ".join(f"{n} {form}" for form, n in Counter(r.form for r in records).items())
    print(f"first sight: {len(records)} distinct real records ({forms}), each read and exported once,")
    print(
        f"  after {args.warm_up} generated records; formats {args.formats}, FHIR {args.fhir_version}; "
        "CPU time (process_time), ms per study"
        + (
            "; the interpreter's collector"
            if args.python_gc
            else "; a batch worker's collector (flows.collector)"
        )
    )
    per_record, statuses = first_sight(records, _settings(args), args.warm_up, not args.python_gc)
    for label, part in (
        (f"issue 14's {issue} records (26 API v2, {issue - 26} legacy XML)", per_record[:issue]),
        (f"all {len(records)} distinct real records", per_record),
    ):
        totals = [record_total(r) for r in part]
        print(f"{label}:")
        print("\n".join(stage_table(part)))
        mean = statistics.fmean(totals)
        print(
            f"  target <= {TARGET_MS} ms per study (mean; goal {GOAL_MS}): mean {mean:.1f}, "
            f"median {statistics.median(totals):.1f}; {sum(t > TARGET_MS for t in totals)} of {len(totals)} "
            f"records above {TARGET_MS} ms, the slowest {max(totals):.0f} ms"
        )
    print(f"  studies: {dict(statuses)}")
    by_form: dict[str, list[float]] = {}
    for record, stages in zip(records, per_record, strict=True):
        by_form.setdefault(record.form, []).append(record_total(stages))
    for form, totals in by_form.items():
        print(
            f"  {form:<30} median {statistics.median(totals):6.2f}, mean {statistics.fmean(totals):6.2f} "
            f"ms per study over {len(totals)} records"
        )
    if args.json:
        figures = {
            r.source: {"form": r.form, "ms": stages} for r, stages in zip(records, per_record, strict=True)
        }
        args.json.write_text(json.dumps(figures, indent=1))
    # one folder for everything written from here on, removed at the very end (see *The disk*)
    with tempfile.TemporaryDirectory(prefix="trialexport-bench-") as tmp:
        work = Path(tmp)
        peer = peer_dir(args.peer)
        if peer is None:
            print(
                f"race skipped: no built peer (set {PEER_ENV} or --peer to a checkout of "
                "mcode/clinical-trial-matching-service after its own `npm ci`)"
            )
        else:
            print("\n".join(race(peer, args.race_studies, work / "race")), flush=True)
        if not args.skip_flow:
            end_to_end_figures([int(s) for s in args.sizes.split(",")], work)


def end_to_end_figures(sizes: list[int], work: Path) -> None:
    print(
        "end to end (export_trials on the runner `trialexport run` picks, generated distinct API v2 "
        "records; load average {:.1f} {:.1f} {:.1f}):".format(*os.getloadavg())
    )
    results: dict[int, dict] = {}
    for size in sizes:
        result = results[size] = end_to_end(size, work)
        rate = result["studies"] / result["seconds"]
        runner = f"{result['workers']} Dask workers" if result["workers"] else "threads"
        print(
            f"  {result['studies']:>6} studies: {rate:7.1f} studies/s "
            f"({result['seconds']:.1f} s, {result['exported']} exported, {runner}), "
            f"peak RSS {result['rss']:.0f} MB (largest child process {result['child_rss']:.0f} MB); "
            f"creating a file took {result['file_creation_us']:.0f} µs just before",
            flush=True,
        )
    if len(sizes) >= 2:
        small, large = results[sizes[0]], results[sizes[-1]]
        rate = (large["studies"] - small["studies"]) / (large["seconds"] - small["seconds"])
        print(f"  marginal rate {sizes[0]} -> {sizes[-1]}: {rate:.1f} studies/s")


if __name__ == "__main__":
    main()
