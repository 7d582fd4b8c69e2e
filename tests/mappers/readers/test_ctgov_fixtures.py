"""Every ClinicalTrials.gov fixture is read by its own reader and every study exports cleanly."""

import pytest

from mappers.context import MappingSettings
from mappers.export import export_study
from tests.mappers.readers.ctgov_fixtures import ALL_FILES, CSV_FILES, JSON_FILES, XML_FILES, ident, studies

LAYOUT = {".json": "ctgov-json-v2", ".xml": "ctgov-public-xml", ".csv": "ctgov-csv"}


def test_the_fixture_set_is_representative():
    assert len(ALL_FILES) >= 40
    assert len(JSON_FILES) >= 10 and len(XML_FILES) >= 30 and len(CSV_FILES) >= 4
    assert sum(len(studies(p)) for p in CSV_FILES) >= 300
    with_results = [p for p in XML_FILES if any(i.code == "results-not-mapped" for i in studies(p)[0].issues)]
    assert len(with_results) >= 8


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("path", ALL_FILES, ids=ident)
def test_every_study_of_every_fixture_exports(path, version):
    found = studies(path)
    assert found
    settings = MappingSettings(fhir_version=version)
    for study in found:
        assert study.provenance.layout == (
            "ctgov-json-v1" if path.parent.name == "v1" else LAYOUT[path.suffix]
        )
        assert study.nct_id and study.nct_id.startswith("NCT")
        assert study.brief_title
        out = export_study(study, settings)
        errors = [i.message for i in out.issues if i.severity == "error"]
        assert out.status == "exported", (study.nct_id, errors[:3])
        names = " ".join(out.files)
        assert f"fhir-{version.lower()}-bundle.json" in names and "prs.xml" in names


def test_list_page_gives_one_study_per_entry_with_its_record_number():
    [page] = [p for p in JSON_FILES if p.parent.name == "list"]
    found = studies(page)
    assert len(found) == 10
    assert [s.provenance.record for s in found] == list(range(1, 11))
    assert len({s.nct_id for s in found}) == 10


def test_csv_rows_are_studies_with_their_row_as_provenance():
    for path in CSV_FILES:
        found = studies(path)
        assert len({s.nct_id for s in found}) == len(found)
        assert found[0].provenance.field_sources["brief_title"].startswith("row 2, ")


def test_results_sections_are_recorded_as_a_warning():
    for path in JSON_FILES + XML_FILES:
        for study in studies(path):
            flagged = [i for i in study.issues if i.code == "results-not-mapped"]
            assert all(i.severity == "warning" for i in flagged)
    nct02513394 = studies(next(p for p in JSON_FILES if p.stem == "NCT02513394"))[0]
    assert any(i.code == "results-not-mapped" for i in nct02513394.issues)
