"""The HTML run report of a real seeds run, opened in Debian's Chromium (headless, via Playwright).

A missing browser fails these tests on purpose: a skipped browser test looks green while the report
is never opened. ``make test`` installs ``chromium`` when it is missing.
"""

import hashlib
import shutil
from pathlib import Path

import orjson
import pytest

from flows.batch import entry_of
from flows.excerpts import excerpt, source_lines
from flows.records import ReportEntry, RunReport
from flows.report import page_from_disk, render_study_page, study_view, write_index
from flows.run import export_in_process
from flows.run_report import read_report
from flows.settings import ExportSettings
from mappers.export import export_study
from mappers.output_layout import is_study_json
from mappers.readers import read_document
from tests.conftest import ROOT, SEED_A, SEED_B, SEEDS
from tests.flows.reports import export_and_read

CHROMIUM = Path("/usr/bin/chromium")
CTGOV_FIXTURES = ROOT / "tests" / "fixtures" / "ctgov"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def seeds_report(tmp_path_factory):
    """The seeds exported by the flow, with the HTML report it wrote."""
    out = tmp_path_factory.mktemp("report-out")
    report = export_and_read(inputs=[str(SEEDS)], output=str(out))
    written = [out / "index.html", *sorted((out / "report").glob("*.html"))]
    return report, out, written


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    if not (CHROMIUM.is_file() and shutil.which(str(CHROMIUM))):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")  # fresh: no state from other runs
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        try:
            yield page, requested
        finally:
            context.close()


@pytest.mark.prefect
def test_report_files_are_written_atomically_and_deterministically(seeds_report, tmp_path):
    report, out, written = seeds_report
    pages = [p for p in written if p.parent.name == "report"]
    assert [p.stem for p in pages] == sorted(e["key"] for e in report["studies"])
    assert not list(out.rglob("*.tmp"))
    head, entries = read_report(out / "run-report.json")
    for entry in entries:  # rendered with the export in a worker, or again from the files: same bytes
        assert page_from_disk(out, entry) == (out / entry.page).read_bytes(), entry.page
    copy = tmp_path / "copy"
    copy.mkdir()
    write_index(copy, head, read_report(out / "run-report.json")[1])
    assert (copy / "index.html").read_bytes() == (out / "index.html").read_bytes()


@pytest.mark.browser
def test_index_lists_every_seed_and_a_study_page_opens(seeds_report, browser_page, tmp_path):
    report, out, _ = seeds_report
    page, requested = browser_page

    page.goto((out / "index.html").as_uri())
    rows = page.locator("#studies tbody tr")
    assert rows.count() == len(report["studies"]) == 2
    table = page.locator("#studies").inner_text()
    for entry in report["studies"]:
        assert entry["identifier"] in table
    assert "Anti-CD22 Chimeric Antigen Receptor" in table
    assert page.locator("#totals").inner_text().split() == [
        "2",
        "inputs",
        "2",
        "studies",
        "read",
        "2",
        "exported",
        "0",
        "rejected",
        "2",
        "PRS",
        "incomplete",  # free-text pages lack what PRS requires (dates, sponsor, IRB, ...)
    ]
    assert rows.locator(".badge", has_text="PRS incomplete").count() == 2
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)

    key_b = SEED_B.stem
    row_b = rows.filter(has_text=key_b)
    assert row_b.locator("td.num").all_inner_texts() == ["3", "8", "1"]  # arms, outcomes, sites
    row_b.get_by_role("link", name=key_b).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/report/{key_b}.html")
    assert key_b in page.locator("h1").inner_text()
    fields = page.locator("#fields + table").inner_text()
    assert "design.study_type" in fields and "line 4" in fields
    quoted = page.locator("#fields + table tr", has_text="design.study_type").locator("td.quote")
    assert quoted.locator(".ln").all_inner_texts() == ["4"]  # the source line itself
    assert quoted.locator(".text").all_inner_texts() == ["INTERVENTIONAL"]
    assert "sites.city" not in fields  # only canonical top-level fields are rows
    assert "brief_title" in page.locator("#empty + p").inner_text()
    assert "sites[1].city" in page.locator("#not-mapped + table").inner_text()
    assert "assumed-outcome-kind" in page.locator("#assumptions + table").inner_text()
    page.screenshot(path=str(tmp_path / f"{key_b}.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("link", name="PRS XML").click()
    assert page.url.endswith(f"/studies/{key_b}/prs.xml")

    assert (tmp_path / "index.png").stat().st_size > 10_000
    assert all(url.startswith("file://") for url in requested), "the report must not touch the network"


def test_rejected_inputs_duplicates_and_hostile_text(tmp_path):
    """Entries without a study, two entries with one key, and markup in the data: every entry
    gets its own page, nothing in the data becomes markup, and pages of an older run go."""
    # a title with markup in it (a line that starts with markup is not read as a title at all)
    hostile = 'Study of <script>alert("x")</script> {{ 7*7 }}'
    lines = SEED_A.read_text().split("\n")
    document = "\n".join([hostile, *lines[1:]])
    for folder in ("a", "b"):  # one file name: one local identifier, two documents
        (tmp_path / "in" / folder).mkdir(parents=True)
        (tmp_path / "in" / folder / "A-1.txt").write_text(document)
    (tmp_path / "in" / "<c>.bin").write_bytes(bytes(range(256)) * 8)
    out = tmp_path / "out"
    (out / "report").mkdir(parents=True)
    (out / "report" / "old-run.html").write_text("stale")
    report = export_in_process(ExportSettings(output=str(out)), [str(tmp_path / "in")])
    assert (report.totals.exported, report.totals.rejected) == (1, 2)
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert names == ["index.html", "report/A-1-2.html", "report/A-1.html", "report/c_.bin.html"]
    for path in out.rglob("*.html"):
        html = path.read_text()
        assert "<script>" not in html and 'alert("x")' not in html
    index = (out / "index.html").read_text()
    assert "&lt;script&gt;" in index and "{{ 7*7 }}" in index
    assert "binary file" in index and "duplicate-identifier" not in index  # messages, not codes
    assert "duplicate-identifier" in (out / "report" / "A-1-2.html").read_text()


def test_report_entries_and_the_index_need_no_dicts(tmp_path):
    """The index is rendered from typed entries: one of each kind shows without a key missing."""
    entries = [
        ReportEntry.from_json({"source": "x.bin", "status": "rejected", "page": "report/x.html",
                               "issues": [{"severity": "error", "code": "input", "message": "binary file"}]}),
        ReportEntry.from_json({"source": "y.json", "key": "NCT00000001", "identifier": "NCT00000001",
                               "layout": "ctgov-json-v2", "content_hash": "0", "status": "superseded",
                               "outputs": [], "issues": [], "page": "report/NCT00000001.html"}),
    ]  # fmt: skip
    report = RunReport.model_validate(
        {
            "run": {"started": "s", "finished": "f", "trialexport_version": "0"},
            "settings": {"output": str(tmp_path), "templates": None, "fhir_version": "R4"},
            "totals": {"inputs": 2, "studies": 1, "rejected": 1, "superseded": 1},
        }
    )
    index = write_index(tmp_path, report, entries).read_text()
    assert "binary file" in index and 'class="badge superseded"' in index
    assert "<b>1</b>superseded" in index


def test_source_lines_are_quoted_only_from_the_unchanged_source(tmp_path):
    source = tmp_path / "doc.txt"
    source.write_bytes(
        "title\r\nsumma\u00c3\u00a9ry\r\n".encode() + b"".join(b"line %d\n" % n for n in range(3, 20))
    )
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    lines = source_lines(str(source), digest)
    assert excerpt(lines, "line 2") == [(2, "summaéry")]  # as the reader saw it: repaired
    assert excerpt(lines, "lines 3-4") == [(3, "line 3"), (4, "line 4")]
    long = excerpt(lines, "lines 3-19")
    assert long[-1] == (0, "… 11 more lines") and len(long) == 7
    assert excerpt(lines, "/protocolSection/statusModule") == excerpt(lines, "line 99") == []
    source.write_bytes(source.read_bytes() + b"edited\n")
    assert source_lines(str(source), digest) is None
    assert source_lines(str(tmp_path / "gone.txt"), digest) is None


def _same(a, b) -> bool:
    """Equal and of the same JSON kinds throughout, keys in the same order (``1 == 1.0``,
    ``True == 1``: equality alone would let a page write ``1`` where the file says ``1.0``)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize(
    "fixture",
    [
        "json/v2/NCT03064438.json",
        "json/list/studies_page_KRAS_10.json",
        "json/v1/NCT00023673.json",
        "NCT00001177.xml",
    ],
)
def test_a_workers_page_is_the_page_of_the_written_study_json(fixture, tmp_path):
    """A worker renders a study's page from the dict study.json was written from, not from the
    file parsed back: the two are the same values, kind for kind, so the page is the same bytes."""
    source = CTGOV_FIXTURES / fixture
    mapping = ExportSettings(output=str(tmp_path)).mapping()
    studies = read_document(source.read_bytes(), str(source))
    assert studies
    for study in studies:
        export = export_study(study, mapping)
        data = next(data for name, data in export.files.items() if is_study_json(name))
        assert export.canonical is not None and _same(orjson.loads(data), export.canonical)
        entry = entry_of(export)
        from_file = render_study_page(study_view(entry, orjson.loads(data)))
        assert render_study_page(study_view(entry, export.canonical)) == from_file


def test_a_users_overlay_of_the_study_page_renders_under_the_sandbox(tmp_path):
    """The study page and its macros stay a user's to override: a copy of the shipped ones gives
    the shipped bytes under Jinja's sandbox, and a ``value`` macro of the user's own is the one
    that writes the values."""
    source = CTGOV_FIXTURES / "json" / "v2" / "NCT03064438.json"
    (study,) = read_document(source.read_bytes(), str(source))
    export = export_study(study, ExportSettings(output=str(tmp_path / "out")).mapping())
    view = study_view(entry_of(export), export.canonical)
    shipped = render_study_page(view)

    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "templates" / "report", copy / "report")
    (copy / "report" / "_layout.html.j2").unlink()  # only the page and its macros overlaid
    assert render_study_page(view, str(copy)) == shipped

    own = tmp_path / "own"
    (own / "report").mkdir(parents=True)
    macros = (ROOT / "templates" / "report" / "_macros.html.j2").read_text()
    start = macros.index("{% macro value(v) %}")
    end = macros.index("{% endmacro %}", start) + len("{% endmacro %}")
    mine = '{% macro value(v) %}<pre class="mine">{{ v | tojson }}</pre>{% endmacro %}'
    (own / "report" / "_macros.html.j2").write_text(macros[:start] + mine + macros[end:])
    page = render_study_page(view, str(own)).decode()
    assert page.count('<pre class="mine">') == len(view.fields) > 10
    assert 'class="value"' not in page


def test_a_rows_sources_are_every_source_inside_its_field():
    """A row's sources are those recorded for its path or for a field inside it, in recorded
    order, however deep: sources are filed only under the levels a row's path can have."""
    from flows.report import _FIELD_PATHS, _sources_by_field

    assert all(path.count(".") <= 1 and "[" not in path for path, _, _ in _FIELD_PATHS)
    field_sources = {
        "arms": "/a",
        "arms[0].name": "line 3",
        "sites[2].contacts[0].name": "/s/c",
        "design.phases": "design block",
        "design.masking.who[1]": "line 9",
        "design": "design block",
        "status.overall": "/o",
        "sites[10]": "/s10",
    }
    by_field = _sources_by_field(field_sources)
    for path, _, _ in _FIELD_PATHS:
        inside = [
            (name, where)
            for name, where in field_sources.items()
            if name == path or (name.startswith(path) and name[len(path)] in ".[")
        ]
        assert by_field.get(path, []) == inside, path
