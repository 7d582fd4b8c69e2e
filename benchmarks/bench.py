"""Throughput of the bare mappers and of the Prefect flow on a generated corpus.

Prints figures; asserts nothing (speed targets are read by people, not enforced by flaky timed
tests). The corpus is copies of the seed documents under varied names, which gives every copy
its own local identifier and so its own resource ids.

    python -m benchmarks.bench [--studies 2000] [--batch-size 200] [--skip-flow]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import flows  # noqa: F401  (Prefect defaults)
from flows.settings import ExportSettings
from mappers.export import export_study
from mappers.readers import read_document

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
CTGOV = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ctgov"
READER_FORMATS = {
    "API v2 JSON": ("json/v2/*.json", "json/list/*.json"),
    "classic API v1 JSON": ("json/v1/*.json",),
    "legacy XML": ("xml/*.xml",),
    "CSV export": ("csv/*.csv",),
}


def make_corpus(directory: Path, count: int) -> list[Path]:
    seeds = sorted(SEEDS.glob("*.txt"))
    paths = []
    for i in range(count):
        seed = seeds[i % len(seeds)]
        path = directory / f"{seed.stem}-{i:07d}.txt"
        shutil.copyfile(seed, path)
        paths.append(path)
    return paths


def bench_mappers(paths: list[Path]) -> float:
    """Read + map + render + validate every study in one process; returns seconds."""
    mapping = ExportSettings().mapping()
    export_study(
        next(iter(read_document(paths[0].read_bytes(), str(paths[0])))), mapping
    )  # compile templates, schemas
    started = time.perf_counter()
    for path in paths:
        for study in read_document(path.read_bytes(), str(path)):
            export = export_study(study, mapping)
            assert export.status == "exported", export.issues
    return time.perf_counter() - started


def bench_phases(paths: list[Path]) -> dict[str, float]:
    """Milliseconds per study for each stage of the bare mapping, to see where the time goes."""
    from mappers.context import build_context
    from mappers.finish import finish_json, finish_xml
    from mappers.render import render
    from validation.fhir import validate_bundle
    from validation.profile import check_resource
    from validation.xsd import validate_xml

    mapping = ExportSettings().mapping()
    sample = paths[: min(len(paths), 400)]
    blobs = [(str(p), p.read_bytes()) for p in sample]
    clock = time.perf_counter
    t0 = clock()
    studies = [s for source, data in blobs for s in read_document(data, source)]
    t1 = clock()
    contexts = [build_context(s, mapping) for s in studies]
    bundles = [finish_json(render("fhir/r4/bundle.json.j2", c)) for c in contexts]
    t2 = clock()
    prs = [finish_xml(render("ctgov/prs.xml.j2", c)) for c in contexts]
    t3 = clock()
    for bundle in bundles:
        validate_bundle(bundle)
    t4 = clock()
    for document in prs:
        validate_xml(document, "prs")
    t5 = clock()
    # bindings + invariants alone, per resource (contained ones count: they are checked too), in
    # the steady state of a run: recurring nodes hit the memo, as they do across a corpus
    fresh = [finish_json(render("fhir/r4/bundle.json.j2", c)) for c in contexts]
    resources = sum(1 + len(e["resource"].get("contained", [])) for b in fresh for e in b["entry"])
    t6 = clock()
    for bundle in fresh:
        check_resource(bundle)
    t7 = clock()
    per = 1000 / len(studies)
    return {
        "read (decode, repair, parse)": (t1 - t0) * per,
        "FHIR bundle render + finish": (t2 - t1) * per,
        "PRS XML render + finish": (t3 - t2) * per,
        "FHIR validation (fhir.resources + rules)": (t4 - t3) * per,
        "  bindings + invariants, ms per resource": (t7 - t6) * 1000 / resources,
        "PRS XSD validation": (t5 - t4) * per,
    }


def bench_readers(seconds: float = 1.0) -> dict[str, tuple[float, float]]:
    """Reading alone (decode, repair, recognise, parse, build the model) for each
    ClinicalTrials.gov format, over the test fixtures: {format: (studies/s, MB/s)}.

    Files are read from disk once; each format is then read repeatedly for about ``seconds``."""
    figures = {}
    for name, patterns in READER_FORMATS.items():
        blobs = [(str(p), p.read_bytes()) for pattern in patterns for p in sorted(CTGOV.glob(pattern))]
        studies = size = 0
        started = time.perf_counter()
        while True:
            for source, data in blobs:
                studies += sum(1 for _ in read_document(data, source))
                size += len(data)
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                break
        figures[name] = (studies / elapsed, size / elapsed / 2**20)
    return figures


def bench_flow(corpus: Path, output: Path, batch_size: int) -> float:
    from flows.export import export_trials

    # warm-up: starts Prefect's temporary server, which a scheduled deployment already has running
    export_trials(inputs=[str(SEEDS)], output=str(output / "warm-up"))
    started = time.perf_counter()
    report = export_trials(inputs=[str(corpus)], output=str(output), batch_size=batch_size)
    elapsed = time.perf_counter() - started
    assert report["totals"]["rejected"] == 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=ExportSettings().batch_size)
    parser.add_argument("--skip-flow", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trialexport-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        paths = make_corpus(corpus, args.studies)
        print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
        print(f"corpus: {len(paths)} studies (copies of seeds/)")
        bare = bench_mappers(paths)
        print(
            f"bare mappers   : {len(paths) / bare:8.0f} studies/s  ({bare / len(paths) * 1000:.2f} ms/study)"
        )
        for phase, ms in bench_phases(paths).items():
            print(f"    {phase:<42} {ms:6.2f}" + ("" if "per resource" in phase else " ms/study"))
        print("readers (ClinicalTrials.gov fixtures, reading only):")
        for name, (rate, mb) in bench_readers().items():
            print(f"    {name:<42} {rate:8.0f} studies/s  ({mb:.1f} MB/s)")
        if not args.skip_flow:
            flow_time = bench_flow(corpus, Path(tmp) / "out", args.batch_size)
            print(
                f"flow (default) : {len(paths) / flow_time:8.0f} studies/s  "
                f"ratio to bare mappers {bare / flow_time:.2f}  "
                f"(server already up; includes file writes and NDJSON)"
            )


if __name__ == "__main__":
    main()
