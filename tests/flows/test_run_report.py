"""run-report.json streamed from the spool is the very file dump_json writes for the same report."""

import pytest

from flows.run_report import StudySpool, read_studies, write_run_report
from mappers.finish import dump_json

ENTRIES = [
    {"source": "a.txt", "key": "A", "status": "exported", "issues": [], "counts": {"arms": 2}},
    {"source": 'b "quoted".xml', "status": "rejected", "issues": [{"message": "bad ]\n[ {"}]},
    {"source": "c.json", "key": "C", "status": "exported", "issues": [], "outputs": ["x", "y"]},
]


def report(studies):
    return {"run": {"started": "now"}, "totals": {"studies": 3}, "studies": studies, "removed": []}


@pytest.mark.parametrize("entries", [ENTRIES, ENTRIES[:1], []])
def test_streamed_report_equals_the_dumped_one(tmp_path, entries):
    spool = StudySpool(tmp_path)
    for entry in entries:
        spool.append(entry)
    path = tmp_path / "run-report.json"
    write_run_report(path, report(None), iter(spool))
    assert path.read_bytes() == dump_json(report(entries))
    assert read_studies(path) == entries
    assert list(spool) == entries  # read again for the index
    spool.close()
    assert [p.name for p in tmp_path.iterdir()] == ["run-report.json"]


def test_a_spool_left_by_a_killed_run_is_started_afresh(tmp_path):
    StudySpool(tmp_path).append(ENTRIES[0])  # never closed: the run was killed
    spool = StudySpool(tmp_path)
    spool.append(ENTRIES[2])
    assert list(spool) == [ENTRIES[2]]


def test_a_failed_write_leaves_the_previous_report(tmp_path):
    path = tmp_path / "run-report.json"
    path.write_bytes(b"previous")

    def failing():
        yield ENTRIES[0]
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_run_report(path, report(None), failing())
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["run-report.json"]
