"""Upload throughput against the test FHIR server: the publish flow beside a bare loop of POSTs.

Prints figures, asserts nothing. The bare loop reads, prepares and POSTs each bundle with the
same client and no retries, ledger, Prefect or report: the gap between it and the flow at
concurrency 1 is the cost of the machinery; the flow at higher concurrency shows what bundles
in flight buy back. The server's repository is emptied before every measurement so each one
does the same work (creates), after one unmeasured warm-up pass. The split row puts a request
size limit on the server that no whole bundle fits, so every study goes as one request per
resource: what a 413-limited server costs. Needs `npm ci --prefix tests/fhir_server`.

    python -m benchmarks.publish_bench [--studies 300] [--concurrency 4] [--repeat 2]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import flows  # noqa: F401  (Prefect defaults)
from flows.publish.bundles import one_entry_transaction, prepared
from flows.publish.client import FhirClient, RetryPolicy
from flows.publish.flow import jobs_from_entries, publish_bundles
from flows.run_report import read_report
from mappers.finish import dump_json_line

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def export_corpus(directory: Path, count: int) -> Path:
    from flows.export import export_trials

    inputs = directory / "in"
    inputs.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))
    for i in range(count):
        seed = seeds[i % len(seeds)]
        shutil.copyfile(seed, inputs / f"{seed.stem}-{i:07d}.txt")
    export_trials(inputs=[str(inputs)], output=str(directory / "out"))
    return directory / "out"


def bare_loop(output: Path, base_url: str) -> float:
    jobs = list(jobs_from_entries(read_report(output / "run-report.json")[1]))
    with FhirClient(base_url, policy=RetryPolicy(attempts=1), max_connections=1) as client:
        started = time.perf_counter()
        for job in jobs:
            attempted = client.post_bundle(dump_json_line(prepared((output / job.bundle).read_bytes())))
            assert attempted.ok, attempted.response.text if attempted.response else attempted.error
        return len(jobs) / (time.perf_counter() - started)


def largest_piece(output: Path) -> int:
    """Bytes of the largest one-resource request of the export: a limit every piece fits under."""
    return max(
        len(one_entry_transaction(entry, {}))
        for job in jobs_from_entries(read_report(output / "run-report.json")[1])
        for entry in prepared((output / job.bundle).read_bytes())["entry"]
    )


def flow_rate(output: Path, base_url: str, **options) -> tuple[float, dict]:
    started = time.perf_counter()
    report = publish_bundles(output=str(output), fhir_url=base_url, **options)
    elapsed = time.perf_counter() - started
    totals = report["publish"]["totals"]
    assert totals["failed"] == 0, totals
    return totals["studies"] / elapsed, totals


def best_of(repeat: int, measure) -> tuple[float, str]:
    """The fastest of ``repeat`` runs: on a shared machine the slower runs measure the neighbours."""
    return max((measure() for _ in range(repeat)), key=lambda result: result[0])


def main() -> None:
    from tests.flows.publish.server import FhirServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is shown")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="publish-bench-") as tmp:
        output = export_corpus(Path(tmp), args.studies)
        server = FhirServer().start()
        try:
            ledger = output / "publish-ledger.json"
            server.reset()
            bare_loop(output, server.base_url)  # warm-up: the server's JIT and validator caches

            def bare() -> tuple[float, str]:
                server.reset()
                return bare_loop(output, server.base_url), ""

            def through_flow(concurrency: int) -> tuple[float, str]:
                server.reset()
                ledger.unlink(missing_ok=True)
                rate, totals = flow_rate(output, server.base_url, concurrency=concurrency)
                return rate, f"{totals['sent']} sent"

            def split(concurrency: int) -> tuple[float, str]:
                server.reset()
                server.faults(maxBodyBytes=largest_piece(output))
                ledger.unlink(missing_ok=True)
                rate, totals = flow_rate(output, server.base_url, concurrency=concurrency)
                server.faults(maxBodyBytes=0)
                return rate, f"{totals['split']} split, {server.stats()['tooLarge']} refused (413)"

            measures = [("bare loop of POSTs, 1 connection", bare)]
            measures += [
                (f"publish flow, concurrency {c}", lambda c=c: through_flow(c))
                for c in sorted({1, args.concurrency})
            ]
            measures.append(
                (f"publish flow, concurrency {args.concurrency}, 413: split", lambda: split(args.concurrency))
            )
            rows = [(name, *best_of(args.repeat, measure)) for name, measure in measures]
            rate, totals = flow_rate(output, server.base_url, concurrency=args.concurrency)
            rows.append(("publish flow, rerun (ledger: unchanged)", rate, f"{totals['unchanged']} unchanged"))
        finally:
            server.stop()

    print(f"\n{args.studies} studies, {platform.python_implementation()} {platform.python_version()}")
    for name, rate, note in rows:
        print(f"  {name:<42} {rate:8.1f} bundles/s  {note}")
    print(f"  flow at concurrency 1 / bare loop: {rows[1][1] / rows[0][1]:.2f}")


if __name__ == "__main__":
    main()
