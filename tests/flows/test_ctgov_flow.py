"""ClinicalTrials.gov inputs through the flow: each format exported, each broken input rejected
in run-report.json with its reason while its siblings are exported."""

import csv
import io
import os
import shutil

import pytest

from tests.flows.reports import export_and_read
from tests.mappers.readers.ctgov_fixtures import CSV_FILES, FIXTURES

pytestmark = pytest.mark.prefect


def _csv(rows: int, drop: str | None = None) -> bytes:
    path = next(p for p in CSV_FILES if "hypertension" in p.name)
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))[: rows + 1]
    if drop:
        index = table[0].index(drop)
        table = [r[:index] + r[index + 1 :] for r in table]
    out = io.StringIO()
    csv.writer(out).writerows(table)
    return out.getvalue().encode()


def test_ctgov_formats_and_their_bad_inputs(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(FIXTURES / "json" / "v2" / "NCT03418623.json", inputs / "a.json")
    shutil.copy(FIXTURES / "xml" / "NCT03723057.xml", inputs / "b.xml")
    (inputs / "c.csv").write_bytes(_csv(3))
    truncated = (FIXTURES / "json" / "v2" / "NCT05052671.json").read_bytes()
    bad = {
        "truncated.json": (truncated[: len(truncated) // 2], "invalid or truncated JSON"),
        "missing.csv": (_csv(3, drop="Study Status"), "lacks required column(s): Study Status"),
        "entities.xml": (
            b'<!DOCTYPE clinical_study [<!ENTITY x "y">]><clinical_study>&x;</clinical_study>',
            "DOCTYPE declares entities",
        ),
        "junk.dat": (os.urandom(50 * 2**20), "file too large"),  # over max_file_bytes: not read
        "junk.bin": (os.urandom(2**20), "binary file"),
    }
    for name, (data, _) in bad.items():
        (inputs / name).write_bytes(data)
    report = export_and_read(inputs=[str(inputs)], output=str(tmp_path / "out"))
    exported = [e for e in report["studies"] if e["status"] == "exported"]
    assert len(exported) == 5  # one JSON study, one XML study, three CSV rows
    assert {e["source"].rsplit("/", 1)[-1] for e in exported} == {"a.json", "b.xml", "c.csv"}
    for name, (_, reason) in bad.items():
        [entry] = [e for e in report["studies"] if e["source"].endswith(name)]
        assert entry["status"] == "rejected" and entry["outputs"] == []
        assert reason in entry["issues"][-1]["message"], entry
