"""Every fixture of the suite exported once per session and FHIR release: the seeds, the sample
documents and every ClinicalTrials.gov record (JSON, XML, CSV), as ``StudyExport``s."""

from __future__ import annotations

from functools import cache

from mappers.context import MappingSettings
from mappers.export import StudyExport, export_study
from mappers.readers import read_document
from tests.conftest import ROOT, SEED_A, SEED_B
from tests.mappers.readers.ctgov_fixtures import ALL_FILES, studies

SAMPLE_DOCS = sorted((ROOT / "tests" / "fixtures" / "samples" / "docs").glob("*.txt"))


@cache
def fixture_exports(version: str) -> tuple[StudyExport, ...]:
    settings = MappingSettings(prs_org_name="EXAMPLE-ORG", fhir_version=version)
    records = [s for path in (SEED_A, SEED_B) for s in read_document(path.read_bytes(), f"seeds/{path.name}")]
    records += [s for path in SAMPLE_DOCS for s in read_document(path.read_bytes(), f"samples/{path.name}")]
    records += [s for path in ALL_FILES for s in studies(path)]
    return tuple(export_study(study, settings) for study in records)


def bundle_of(result: StudyExport) -> bytes:
    return next(data for name, data in result.files.items() if name.endswith("-bundle.json"))
