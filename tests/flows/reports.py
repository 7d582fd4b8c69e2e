"""The whole run report of a flow run, for tests that look at its entries."""

from pathlib import Path

import orjson

from flows.export import export_trials


def export_and_read(**kwargs) -> dict:
    """Run the export flow; return ``run-report.json`` as written, after checking that the flow
    returned the same report without its ``studies`` (which stay on disk)."""
    returned = export_trials(**kwargs)
    written = orjson.loads((Path(kwargs.get("output", "output")) / "run-report.json").read_bytes())
    assert "studies" not in returned
    assert {k: v for k, v in written.items() if k != "studies"} == returned
    return written
