"""What ``pip install`` gets: a wheel built from the checkout holds every file a run reads
(the shipped templates, the ClinicalTrials.gov XSDs, the FHIR definitions, the outcome-cell
weights), at the paths the code looks for them, beside the packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = ("flows", "mappers", "validation", "templates", "schemas")


def _files(top: str) -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_the_wheel_holds_every_file_a_run_reads(tmp_path):
    source = tmp_path / "source"  # built from a copy: setuptools writes build/ beside the sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for top in INSTALLED:
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".", "-w", "dist"],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = (source / "dist").glob("trialexport-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    expected = set().union(*(_files(top) for top in INSTALLED))
    assert {"templates/fhir/r4/bundle.json.j2", "schemas/ctgov/public.xsd"} <= expected
    assert any(name.startswith("validation/definitions/") for name in expected)
    assert expected - packed == set()
    assert not any(name.startswith(("tests/", "benchmarks/", "seeds/")) for name in packed)
