"""run-report.json streamed from the spool is the very file dump_json writes for the same report,
and it is read back as a stream."""

import orjson
import pytest

from flows.records import ReportEntry, RunInfo, RunReport, Totals
from flows.run_report import StudySpool, read_report, read_studies, write_run_report
from mappers.finish import dump_json

ENTRIES = [
    ReportEntry.from_json(e)  # type: ignore[arg-type]
    for e in [
        {"source": "a.txt", "key": "A", "status": "exported", "issues": [],
         "counts": {"arms": 2, "outcomes": 0, "sites": 1}},
        {"source": 'b "quoted".xml', "status": "rejected",
         "issues": [{"severity": "error", "code": "x", "message": "bad ]\n[ {\n    }"}]},
        {"source": "c.json", "key": "C", "status": "exported", "issues": [], "outputs": ["x", "y"],
         "bundle": "x"},
    ]
]  # fmt: skip
REPORT = RunReport(
    run=RunInfo(started="now", finished="later", trialexport_version="0"),
    settings={"output": "out", "templates": None},
    totals=Totals(studies=3),
    warnings=["after the studies"],
)


def dumped(entries: list[ReportEntry]) -> bytes:
    return dump_json(REPORT.to_json([e.to_json() for e in entries]))


@pytest.mark.parametrize("entries", [ENTRIES, ENTRIES[:1], []])
def test_streamed_report_equals_the_dumped_one(tmp_path, entries):
    spool = StudySpool(tmp_path)
    for entry in entries:
        spool.append(entry)
    path = tmp_path / "run-report.json"
    write_run_report(path, REPORT, iter(spool))
    assert path.read_bytes() == dumped(entries)
    assert read_studies(path) == entries
    head, streamed = read_report(path)
    assert head == REPORT and list(streamed) == entries
    assert list(spool) == entries  # read again for the index
    spool.close()
    assert [p.name for p in tmp_path.iterdir()] == ["run-report.json"]


def test_a_report_laid_out_otherwise_is_read_whole(tmp_path):
    path = tmp_path / "run-report.json"
    path.write_bytes(orjson.dumps(REPORT.to_json([e.to_json() for e in ENTRIES])))  # one line
    head, streamed = read_report(path)
    assert head == REPORT and list(streamed) == ENTRIES


def test_an_entry_settled_again_is_read_as_it_stands(tmp_path):
    spool = StudySpool(tmp_path)
    numbers = [spool.append(entry) for entry in ENTRIES]
    replaced = ENTRIES[0].model_copy(update={"title": "kept elsewhere"})
    spool.replace(numbers[0], replaced)
    assert spool.read(numbers[0]) == replaced and spool.read(numbers[2]) == ENTRIES[2]
    assert list(spool) == [replaced, *ENTRIES[1:]]


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
        write_run_report(path, REPORT, failing())
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["run-report.json"]


def _failed_run(tmp_path, studies: int):
    """A published run's report of ``studies`` studies none of which reached the server, each
    with the not-mapped warnings a real study carries."""
    from flows.records import PublishBlock, PublishOutcome, PublishStatus, PublishTotals

    warnings = [
        {"severity": "warning", "code": "not-mapped", "field": f"sites[{n}].city",
         "message": f"PRS XML has no element for sites[{n}].city"}
        for n in range(20)
    ]  # fmt: skip
    outcome = PublishOutcome(
        status=PublishStatus.FAILED, transient=True, reason="server unreachable", attempts=0
    )
    entries = (
        ReportEntry.from_json(
            {"source": f"in/{n}.xml", "key": f"NCT{n:08d}", "identifier": f"NCT{n:08d}", "layout": "x",
             "content_hash": "0", "status": "exported", "outputs": [f"studies/NCT{n:08d}/prs.xml"],
             "issues": warnings, "publish": outcome.to_json("http://fhir")}
        )
        for n in range(studies)
    )  # fmt: skip
    totals = PublishTotals(studies=studies, failed=studies, not_sent=studies)
    report = REPORT.model_copy(
        update={
            "totals": Totals(studies=studies, exported=studies),
            "publish": PublishBlock(
                server="http://fhir", started="s", finished="f", settings={}, totals=totals
            ),
        }
    )
    write_run_report(tmp_path / "run-report.json", report, entries)
    return report


def test_the_console_streams_a_large_report_instead_of_loading_it(tmp_path):
    import io
    import tracemalloc

    from rich.console import Console

    from flows.console import Presenter
    from flows.errors import ExitCode

    studies = 1500
    report = _failed_run(tmp_path, studies)
    path = tmp_path / "run-report.json"
    tracemalloc.start()
    orjson.loads(path.read_bytes())
    whole = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    text = io.StringIO()
    code = Presenter(Console(file=text, width=100_000)).run_done(report, tmp_path, published=True)
    streamed = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code is ExitCode.NOT_PUBLISHED
    [line] = [ln for ln in text.getvalue().splitlines() if ln.startswith("not sent:")]
    assert line.startswith(f"not sent: {studies} studies (NCT00000000, ") and "and 1490 more" in line
    assert streamed < whole / 4, (streamed, whole)
