"""The NDJSON files and their Bulk Data manifest: lines in run order whatever was dropped or
written late, and a manifest a bulk client reads (shape of the FHIR Bulk Data $export manifest)."""

from __future__ import annotations

import orjson

from flows.output import NdjsonWriter
from flows.run import export_in_process
from flows.settings import ExportSettings
from mappers.output_layout import NDJSON_MANIFEST
from tests.conftest import SEEDS

MANIFEST_KEYS = ["transactionTime", "request", "requiresAccessToken", "output", "error"]


def test_blocks_dropped_and_filled_late_keep_run_order(tmp_path):
    writer = NdjsonWriter(tmp_path / "ndjson")
    writer.start()
    writer.append({"A": b"a0\n", "B": b"b0\n"})
    late = writer.append({})  # reserved: written at the end of the run
    dropped = writer.append({"A": b"a2\n"})
    writer.append({"B": b"b3\n", "C": b"c3\n"})  # a type first seen late
    writer.fill(late, {"A": b"a1\n", "C": b"c1\n"})
    writer.drop(dropped)
    written = writer.finish("2026-01-01T00:00:00+00:00", "trialexport run in/")
    assert written == ["ndjson/A.ndjson", "ndjson/B.ndjson", "ndjson/C.ndjson"]
    read = {t: (tmp_path / "ndjson" / f"{t}.ndjson").read_bytes() for t in "ABC"}
    assert read == {"A": b"a0\na1\n", "B": b"b0\nb3\n", "C": b"c1\nc3\n"}
    manifest = orjson.loads((tmp_path / NDJSON_MANIFEST).read_bytes())
    assert list(manifest) == MANIFEST_KEYS
    assert manifest["output"] == [
        {"type": t, "url": f"{t}.ndjson", "count": 2} for t in "ABC"
    ]  # url: beside the manifest
    assert manifest["requiresAccessToken"] is False and manifest["error"] == []
    assert not list((tmp_path / "ndjson").glob(".*"))


def test_a_type_every_study_of_which_was_dropped_leaves_no_file(tmp_path):
    (tmp_path / "ndjson").mkdir()
    (tmp_path / "ndjson" / "Old.ndjson").write_bytes(b"{}\n")  # an earlier run's
    writer = NdjsonWriter(tmp_path / "ndjson")
    writer.start()
    writer.drop(writer.append({"A": b"a0\n"}))
    assert writer.finish("t", "r") == []
    assert sorted(p.name for p in (tmp_path / "ndjson").iterdir()) == ["manifest.json"]
    assert orjson.loads((tmp_path / NDJSON_MANIFEST).read_bytes())["output"] == []


def test_a_run_writes_a_manifest_of_its_ndjson_files(tmp_path):
    report = export_in_process(ExportSettings(output=str(tmp_path)), [str(SEEDS)])
    manifest = orjson.loads((tmp_path / NDJSON_MANIFEST).read_bytes())
    assert manifest["transactionTime"] == report.run.started
    assert manifest["request"] == f"trialexport run {SEEDS} --fhir-version R4"
    listed = {item["type"]: item for item in manifest["output"]}
    assert sorted(f"ndjson/{item['url']}" for item in listed.values()) == sorted(report.bulk)
    for resource_type, item in listed.items():
        lines = (tmp_path / "ndjson" / item["url"]).read_bytes().splitlines()
        assert item["count"] == len(lines) == 2
        assert {orjson.loads(line)["resourceType"] for line in lines} == {resource_type}
