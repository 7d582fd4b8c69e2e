"""Whole-tree golden outputs: one run per source format and FHIR release, every file it writes
compared byte for byte with ``tests/golden/runs/<format>/<release>/`` (cumulus-etl's practice).

The run is the flow's own core without Prefect (``flows.run.export_in_process``), on one real
record per format, from a directory named ``input`` so that paths in the outputs are the same
everywhere. Two things in a tree are the run's and not the inputs': the clock readings
(``run-report.json``'s ``run`` block and the NDJSON manifest's ``transactionTime``) and the
output directory recorded in the report's settings; they are written as placeholders. The export
ledger is SQLite, whose pages vary with history: its records are compared, as JSON.

Regenerate after an intended change of outputs with ``make golden`` (this and the seeds' golden
files of tests/mappers/test_export.py), then read the diff.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from flows.run import export_in_process
from flows.settings import ExportSettings
from mappers.finish import dump_json
from mappers.output_layout import EXPORT_LEDGER, NDJSON_MANIFEST, REPORT
from tests.conftest import ROOT, SEED_A, SEED_B

GOLDEN = ROOT / "tests" / "golden" / "runs"
CTGOV = ROOT / "tests" / "fixtures" / "ctgov"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
TIME = "<run time>"


def _csv_row(target: Path) -> None:
    """The first study of a current (30-column) CT.gov CSV export, with its header."""
    source = CTGOV / "csv" / "ctg-studies_full30cols_hypertension.csv"
    header, first = list(csv.reader(io.StringIO(source.read_text(encoding="utf-8"))))[:2]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, first])
    target.write_text(out.getvalue(), encoding="utf-8")


def _copy(source: Path) -> Callable[[Path], object]:
    return lambda target: shutil.copyfile(source, target)


# format -> (input file name, how it is made)
CASES: dict[str, tuple[str, Callable[[Path], object]]] = {
    "api-v2-json": ("NCT03418623.json", _copy(CTGOV / "json" / "v2" / "NCT03418623.json")),
    "classic-json": ("NCT04780763.json", _copy(CTGOV / "json" / "v1" / "NCT04780763.json")),
    "legacy-xml": ("NCT03723057.xml", _copy(CTGOV / "xml" / "NCT03723057.xml")),
    "csv-row": ("ctg-studies.csv", _csv_row),
    "free-text-a": (SEED_A.name, _copy(SEED_A)),
    "free-text-b": (SEED_B.name, _copy(SEED_B)),
}


def _ledger(path: Path) -> bytes:
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT source, record FROM inputs ORDER BY source").fetchall()
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    return dump_json({"meta": meta, "inputs": {source: orjson.loads(record) for source, record in rows}})


def _normalised(root: Path) -> dict[str, bytes]:
    """The tree as it is compared (and stored): run-specific values replaced by placeholders."""
    tree = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        data = path.read_bytes()
        if relative == REPORT:
            report = orjson.loads(data)
            report["run"] |= {"started": TIME, "finished": TIME}
            report["settings"]["output"] = "<output>"
            data = dump_json(report)
        elif relative == NDJSON_MANIFEST:
            data = dump_json({**orjson.loads(data), "transactionTime": TIME})
        elif relative == EXPORT_LEDGER:
            relative, data = f"{EXPORT_LEDGER}.json", _ledger(path)
        elif relative.startswith(EXPORT_LEDGER):  # SQLite's journal, if left
            continue
        tree[relative] = data
    return tree


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("case", CASES)
def test_a_run_writes_the_golden_tree(case, version, tmp_path, monkeypatch):
    name, make = CASES[case]
    (tmp_path / "input").mkdir()
    make(tmp_path / "input" / name)
    monkeypatch.chdir(tmp_path)
    settings = ExportSettings(
        output=str(tmp_path / "output"), fhir_version=version, prs_org_name="EXAMPLE-ORG"
    )
    report = export_in_process(settings, ["input"])
    assert report.totals.exported == report.totals.studies == 1, case
    produced = _normalised(tmp_path / "output")
    golden = GOLDEN / case / version.lower()
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        for relative, data in produced.items():
            (golden / relative).parent.mkdir(parents=True, exist_ok=True)
            (golden / relative).write_bytes(data)
    expected = {p.relative_to(golden).as_posix(): p.read_bytes() for p in golden.rglob("*") if p.is_file()}
    assert sorted(produced) == sorted(expected), f"files differ from {golden}; `make golden` rewrites them"
    for relative, data in produced.items():
        assert data == expected[relative], f"{case}/{version.lower()}/{relative} differs from its golden file"
