"""Throughput of the bare mappers and of the Prefect flow on a generated corpus.

Prints figures; asserts nothing (speed targets are read by people, not enforced by flaky timed
tests). The corpus is copies of the seed documents under varied names, which gives every copy
its own local identifier and so its own resource ids.

    python -m benchmarks.bench [--studies 2000] [--corpus seeds|registry] [--batch-size 200] [--skip-flow]
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
    """Milliseconds per study for each stage of a study's export, and its report page, to see
    where the time goes. Each stage is timed around its own call, over the same studies, after
    one warm-up pass (templates, schemas and models compiled; memos as a long run has them)."""
    from flows.batch import entry_of, study_of
    from flows.report import render_study_page, study_view
    from mappers.context import build_context
    from mappers.ctgov_xml import public_record_gaps
    from mappers.finish import finish_json, finish_xml
    from mappers.render import render
    from mappers.trace import json_values, traced_values, untraced, xml_values
    from validation.fhir import _rule_issues, _structure_issues
    from validation.profile import check_resource
    from validation.xsd import validate_xml

    mapping = ExportSettings().mapping()
    blobs = [(str(p), p.read_bytes()) for p in paths[: min(len(paths), 400)]]
    clock = time.perf_counter
    times: dict[str, float] = {}

    def timed(stage: str, call, *args):
        started = clock()
        result = call(*args)
        times[stage] = times.get(stage, 0.0) + clock() - started
        return result

    def xml(template: str, context: dict) -> bytes:
        return finish_xml(render(template, context))

    def one_pass() -> int:
        count = 0
        for source, data in blobs:
            for study in timed("read (decode, repair, parse, model)", read_document, data, source):
                count += 1
                context = build_context(study, mapping)
                text = timed("FHIR bundle render", render, "fhir/r4/bundle.json.j2", context)
                bundle = timed("FHIR bundle finish (parse, prune)", finish_json, text)
                timed("FHIR structure (fhir.resources)", _structure_issues, bundle, "R4")
                timed("FHIR bundle rules", _rule_issues, bundle)
                timed("FHIR bindings + invariants", check_resource, bundle)
                prs = timed("PRS XML render + finish", xml, "ctgov/prs.xml.j2", context)
                timed("PRS XSD", validate_xml, prs, "prs")
                xmls = [prs]
                if study.nct_id and not public_record_gaps(study):
                    public = timed("public XML render + finish", xml, "ctgov/public.xml.j2", context)
                    timed("public XSD", validate_xml, public, "public")
                    xmls.append(public)

                def trace(study=study, bundle=bundle, xmls=xmls):
                    traced = traced_values(study)
                    for values in [json_values(bundle), *map(xml_values, xmls)]:
                        untraced(study, values, traced)

                timed("not-mapped trace", trace)
                export = export_study(study, mapping)  # untimed: gives the page its entry
                timed(
                    "report page (flow, not a mapper)",
                    lambda e: render_study_page(study_view(entry_of(e), study_of(e.files))),
                    export,
                )
        return count

    one_pass()
    times.clear()
    studies = one_pass()
    return {stage: seconds * 1000 / studies for stage, seconds in times.items()}


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
    parser.add_argument(
        "--corpus",
        choices=("seeds", "registry"),
        default="seeds",
        help="copies of the seeds, or the scale benchmark's corpus (seeds and CT.gov fixtures)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trialexport-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        if args.corpus == "seeds":
            paths = make_corpus(corpus, args.studies)
        else:
            from benchmarks import scale

            paths = scale.make_corpus(corpus, args.studies)
        print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
        described = "copies of seeds/" if args.corpus == "seeds" else "seeds and CT.gov fixtures, varied"
        print(f"corpus: {len(paths)} studies ({described})")
        bare = bench_mappers(paths)
        print(
            f"bare mappers   : {len(paths) / bare:8.0f} studies/s  ({bare / len(paths) * 1000:.2f} ms/study)"
        )
        for phase, ms in bench_phases(paths).items():
            print(f"    {phase:<42} {ms:6.2f} ms/study")
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
