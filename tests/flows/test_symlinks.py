"""Symbolic links that leave the named inputs are reported, never read (issue 17): another file's
text must not reach the report, the bundles, the NDJSON, the ledger or a FHIR server. Links
that stay inside the inputs are followed, each folder once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flows.batch import InputTrees, LeavesInputs, discover, read_input
from flows.records import Status
from flows.run import export_in_process
from flows.run_report import read_studies
from flows.settings import ExportSettings
from tests.conftest import SEED_A, SEED_B

MARKER = "Confidential-Marker-7f3a"  # the outside file's title: it must appear nowhere


def secret_document() -> str:
    lines = SEED_A.read_text().split("\n")
    return "\n".join([f"A Study Of {MARKER} Patients", *lines[1:]])


def every_byte(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """in/ with a real document, a link to a file outside, a link to a folder outside, a link
    inside and a link back up to in/ itself (a loop)."""
    inputs, outside = tmp_path / "in", tmp_path / "elsewhere"
    (inputs / "sub").mkdir(parents=True)
    outside.mkdir()
    shutil.copyfile(SEED_B, inputs / "page.txt")
    (tmp_path / "secret.txt").write_text(secret_document())
    (outside / "more.txt").write_text(secret_document())
    os.symlink(tmp_path / "secret.txt", inputs / "link.txt")
    os.symlink(outside, inputs / "linked-folder")
    os.symlink(inputs / "page.txt", inputs / "sub" / "alias.txt")
    os.symlink(inputs, inputs / "sub" / "loop")
    return inputs


def test_links_leaving_the_inputs_are_listed_once_and_nothing_loops(layout: Path):
    found = [Path(p).relative_to(layout).as_posix() for p in discover([str(layout)])]
    assert found == ["link.txt", "linked-folder", "page.txt", "sub/alias.txt"]


def test_what_a_link_leads_to_outside_the_inputs_is_in_no_output(layout: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = export_in_process(ExportSettings(output=str(out)), [str(layout)])
    entries = {Path(e.source).name: e for e in read_studies(out / "run-report.json")}
    for name in ("link.txt", "linked-folder"):
        assert entries[name].status is Status.REJECTED
        assert "symbolic link that leads outside the inputs" in entries[name].error_reasons()
    assert entries["page.txt"].status is entries["alias.txt"].status is Status.EXPORTED
    assert (report.totals.exported, report.totals.rejected) == (2, 2)
    assert MARKER.encode() not in every_byte(out)  # report, pages, bundles, NDJSON, ledger


def test_the_same_file_named_directly_is_read(tmp_path: Path):
    """A link the user names is what they asked for: its target is the input."""
    (tmp_path / "secret.txt").write_text(secret_document())
    os.symlink(tmp_path / "secret.txt", tmp_path / "named.txt")
    report = export_in_process(ExportSettings(output=str(tmp_path / "out")), [str(tmp_path / "named.txt")])
    assert report.totals.exported == 1


def test_a_link_swapped_after_the_check_is_not_read(layout: Path, monkeypatch: pytest.MonkeyPatch):
    """The file opened must be the one whose real path was checked: a link changed in between
    (here: the check sees the inside file, the open follows the link outside) is refused."""
    trees = InputTrees.of([str(layout)])
    inside = str(layout / "page.txt")
    monkeypatch.setattr(os.path, "realpath", lambda path: inside)
    with pytest.raises(LeavesInputs):
        read_input(str(layout / "link.txt"), 1 << 20, trees)
    assert read_input(inside, 1 << 20, trees) == Path(inside).read_bytes()
