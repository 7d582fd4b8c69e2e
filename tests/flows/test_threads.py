"""Batches mapped in threads at once give the bytes one thread gives.

Prefect's default runner maps batches in threads of one process, so every object a study's
export touches at module level is shared by them: parsers, compiled schemas, the template
environment, caches. A shared lxml parser or schema failed valid documents now and then under
load; this runs many batches of real documents of every layout concurrently, from cold (no
environment, no parser, no schema built yet), and compares every staged byte with a one-thread
run.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lxml import etree

from flows.batch import Stage, export_input
from flows.settings import ExportSettings
from mappers import finish, render
from mappers.readers import ctgov_xml
from tests.conftest import ROOT, SEEDS
from validation import xsd

FIXTURES = ROOT / "tests" / "fixtures"
CTGOV = FIXTURES / "ctgov"
DOCUMENTS = [
    *sorted((FIXTURES / "samples" / "docs").glob("*.txt")),
    *sorted(SEEDS.glob("*.txt")),
    *[p for p in sorted((CTGOV / "xml").glob("*.xml")) if p.stat().st_size < 12_000],
    *sorted((CTGOV / "json" / "v2").glob("*.json"))[:4],
    *sorted((CTGOV / "json" / "v1").glob("*.json"))[:2],
    CTGOV / "csv" / "legacy_SearchResults_B-cell_lymphoma_pairs.csv",
]
THREADS = 8
ROUNDS = 2  # each document mapped this many times, in batches spread over the threads


def _mapped(path: Path, settings: ExportSettings, stage: Stage) -> list[tuple]:
    """What one input gives, as bytes: entries, and the content of every staged file."""
    result = export_input(str(path), settings, settings.mapping(), stage)
    return [
        (
            study.entry.to_json(),
            {name: Path(staged).read_bytes() for name, staged in study.files.items()},
            {t: lines if isinstance(lines, bytes) else lines.read() for t, lines in study.lines.items()},
            Path(study.page).read_bytes() if study.page else None,
        )
        for study in result.studies
    ]


def _batch(paths: list[Path], output: Path, version: str) -> dict[str, list[tuple]]:
    settings = ExportSettings(output=str(output), fhir_version=version, prs_org_name="EXAMPLE-ORG")
    stage = Stage(settings.output)
    return {f"{version}:{path}": _mapped(path, settings, stage) for path in paths}


def _cold() -> None:
    """Nothing built yet: the first uses race each other, as in a run's first batches."""
    render._ENVIRONMENTS.clear()


def test_batches_in_threads_give_the_bytes_of_one_thread(tmp_path):
    reference: dict[str, list[tuple]] = {}
    with ThreadPoolExecutor(1) as one:  # a thread of its own: nothing warmed in this one
        for version in ("R4", "R5"):
            reference |= one.submit(_batch, DOCUMENTS, tmp_path / "one", version).result()
    _cold()
    work = [(path, version) for path in DOCUMENTS for version in ("R4", "R5")] * ROUNDS
    random.Random(15).shuffle(work)
    batches = [work[start : start + 5] for start in range(0, len(work), 5)]

    def run(batch: list[tuple[Path, str]]) -> list[tuple[str, list[tuple]]]:
        return [item for path, version in batch for item in _batch([path], tmp_path / "t", version).items()]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, batches))
    compared = 0
    for found in results:
        for name, mapped in found:
            assert mapped == reference[name], name
            compared += 1
    assert compared == len(work)
    assert all(e["status"] == "exported" for m in reference.values() for e, *_ in m), "a document failed"


@pytest.mark.parametrize(
    "per_thread",
    [finish._PARSER, ctgov_xml._PARSER, lambda: xsd._compiled("prs")],
    ids=["output-parser", "reader-parser", "xsd-schema"],
)
def test_lxml_parsers_and_schemas_are_never_shared_between_threads(per_thread):
    def get() -> object:
        return per_thread()

    here = get()
    assert get() is here  # built once per thread, not per call
    with ThreadPoolExecutor(1) as pool:
        there = pool.submit(get).result()
    assert there is not here
    assert isinstance(here, etree.XMLParser | etree.XMLSchema)


def test_the_template_environment_is_built_once_for_all_threads():
    _cold()
    barrier = threading.Barrier(THREADS)

    def first_use() -> object:
        barrier.wait()
        return render.environment()

    with ThreadPoolExecutor(THREADS) as pool:
        environments = list(pool.map(lambda _: first_use(), range(THREADS)))
    assert all(env is environments[0] for env in environments)
    assert "split_name" in render.environment().filters and environments[0] is render.environment()
