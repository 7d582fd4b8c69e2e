"""Cold start: where ``trialexport run seeds/`` (``make run``) spends its time before the first study.

    python -m benchmarks.coldstart [--repeat 3] [--inputs DIR] [--warm-home]

Each run is the command as a user types it, in a fresh process with no ``PREFECT_API_URL`` (so
Prefect starts its temporary server, as ``make run`` does), into a fresh output directory, with a
fresh ``PREFECT_HOME`` (a first run ever: the server creates its database) or, with
``--warm-home``, one ``PREFECT_HOME`` that an uncounted run has set up (every later run). Its
console lines are timestamped as they arrive; printed per run, in seconds from the command's
start: when Prefect said it starts its temporary server, when the flow run began (the server
answers), when the first batch was mapped, and the end; then the medians. The CPU time of the
command and its children (the server, any workers) is beside it. Figures only; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIALEXPORT = Path(sys.executable).with_name("trialexport")
MARKS = {
    "server starting": "Starting temporary server",
    "flow run begins": "Beginning flow run",
    "first batch mapped": "mapped ",
}


def one_run(inputs: Path, work: Path, home: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TRIALEXPORT_"))}
    env |= {"PREFECT_HOME": str(home), "COLUMNS": "200"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(TRIALEXPORT), "run", str(inputs), "--output", str(work / "out")],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: dict[str, float] = {}
    assert process.stderr is not None
    for line in process.stderr:
        for mark, text in MARKS.items():
            if mark not in found and text in line:
                found[mark] = time.perf_counter() - started
    process.wait()
    found["end"] = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found["CPU (all processes)"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if process.returncode:
        raise SystemExit(f"trialexport run exited {process.returncode}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--inputs", type=Path, default=ROOT / "seeds")
    parser.add_argument("--warm-home", action="store_true", help="one PREFECT_HOME, set up first")
    args = parser.parse_args()
    print("load average before: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    runs = []
    shared = Path(tempfile.mkdtemp(prefix="trialexport-coldstart-home-"))
    if args.warm_home:
        with tempfile.TemporaryDirectory(prefix="trialexport-coldstart-") as tmp:
            one_run(args.inputs, Path(tmp), shared)
    for index in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="trialexport-coldstart-") as tmp:
            home = shared if args.warm_home else Path(tmp) / "prefect-home"
            figures = one_run(args.inputs, Path(tmp), home)
        runs.append(figures)
        print(f"run {index + 1}: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures.items()), flush=True)
    marks = [*MARKS, "end", "CPU (all processes)"]
    medians = {m: statistics.median(run[m] for run in runs) for m in marks if all(m in run for run in runs)}
    print("median: " + ", ".join(f"{k} {v:.1f} s" for k, v in medians.items()))
    print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    shutil.rmtree(shared, ignore_errors=True)


if __name__ == "__main__":
    main()
