"""The whole run report of a flow run, and output trees compared across runs."""

from pathlib import Path

import orjson

from mappers.output_layout import NDJSON_MANIFEST


def export_and_read(**kwargs) -> dict:
    """Run the export flow; return ``run-report.json`` as written, after checking that the flow
    returned the same report without its ``studies`` (which stay on disk)."""
    from flows.export import export_trials

    returned = export_trials(**kwargs)
    written = orjson.loads((Path(kwargs.get("output", "output")) / "run-report.json").read_bytes())
    assert "studies" not in returned
    assert {k: v for k, v in written.items() if k != "studies"} == returned
    return written


def comparable_bytes(root: Path, relative: str) -> bytes:
    """A file's bytes, but the one clock reading outputs other than run-report.json hold: the
    NDJSON manifest's ``transactionTime`` (the run's start)."""
    data = (root / relative).read_bytes()
    if relative == NDJSON_MANIFEST:
        manifest = orjson.loads(data)
        assert manifest.pop("transactionTime")
        return orjson.dumps(manifest)
    return data


def publish_and_read(output: Path, fhir_url: str, **options) -> dict:
    """Run the publish flow; return ``run-report.json`` as it rewrote it, after checking that the
    flow returned the same report without its ``studies``."""
    from flows.publish.flow import publish_bundles

    returned = publish_bundles(output=str(output), fhir_url=fhir_url, **options)
    written = orjson.loads((Path(output) / "run-report.json").read_bytes())
    assert "studies" not in returned
    assert {k: v for k, v in written.items() if k != "studies"} == returned
    return written
