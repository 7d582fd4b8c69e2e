"""Where the ClinicalTrials.gov fixtures live, and reading them once per test session."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from mappers.model import Study
from mappers.readers import read_document

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ctgov"
JSON_FILES = sorted((FIXTURES / "json").rglob("*.json"))
JSON_V1_FILES = sorted((FIXTURES / "json" / "v1").glob("*.json"))
XML_FILES = sorted(FIXTURES.glob("*.xml")) + sorted((FIXTURES / "xml").glob("*.xml"))
CSV_FILES = sorted((FIXTURES / "csv").glob("*.csv"))
ALL_FILES = JSON_FILES + XML_FILES + CSV_FILES


def ident(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


@cache
def studies(path: Path) -> tuple[Study, ...]:
    return tuple(read_document(path.read_bytes(), ident(path)))
