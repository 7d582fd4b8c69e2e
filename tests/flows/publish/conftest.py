import shutil
from pathlib import Path

import pytest

from tests.conftest import SEEDS

CORPUS_SIZE = 12


def _export(inputs: Path, output: Path) -> Path:
    from flows.export import export_trials

    report = export_trials(inputs=[str(inputs)], output=str(output))
    assert report["totals"]["rejected"] == 0
    return output


@pytest.fixture(scope="session")
def seeds_export(tmp_path_factory):
    return _export(SEEDS, tmp_path_factory.mktemp("seeds") / "out")


@pytest.fixture(scope="session")
def corpus_export(tmp_path_factory):
    """Copies of the seeds under other names: each copy is its own study (own local identifier)."""
    inputs = tmp_path_factory.mktemp("corpus") / "in"
    inputs.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))
    for i in range(CORPUS_SIZE):
        shutil.copyfile(seeds[i % len(seeds)], inputs / f"{seeds[i % len(seeds)].stem}-{i:03d}.txt")
    return _export(inputs, inputs.parent / "out")


@pytest.fixture
def seeds_output(seeds_export, tmp_path):
    """A private copy: publishing writes the ledger and the report into it."""
    return Path(shutil.copytree(seeds_export, tmp_path / "out"))


@pytest.fixture
def corpus_output(corpus_export, tmp_path):
    return Path(shutil.copytree(corpus_export, tmp_path / "out"))
