"""What ``pip install`` gets: the tree a wheel is packed from holds every file a run reads (the
shipped templates, the ClinicalTrials.gov XSDs, the FHIR definitions, the outcome-cell weights),
at the paths the code looks for them, beside the packages.

The tree is what setuptools' ``build_py`` step writes from ``pyproject.toml``: a wheel packs that
tree as it is. Building the wheel itself would need the ``wheel`` package beside the setuptools a
fresh virtual environment has (65.5), which the locked requirements do not hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = ("flows", "mappers", "validation", "templates", "schemas")


def _files(top: str) -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_what_a_wheel_packs_holds_every_file_a_run_reads(tmp_path):
    source = tmp_path / "source"  # built from a copy: setuptools writes beside the sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for top in INSTALLED:
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "-d", "tree"],
        cwd=source,
        check=True,
        capture_output=True,
    )
    tree = source / "tree"
    packed = {path.relative_to(tree).as_posix() for path in tree.rglob("*") if path.is_file()}
    expected = set().union(*(_files(top) for top in INSTALLED))
    assert {"templates/fhir/r4/bundle.json.j2", "schemas/ctgov/public.xsd"} <= expected
    assert any(name.startswith("validation/definitions/") for name in expected)
    assert expected - packed == set()
    assert not any(name.startswith(("tests/", "benchmarks/", "seeds/")) for name in packed)
