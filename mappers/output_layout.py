"""Where everything a run writes lives, relative to the output directory.

The one place that knows a file name: the export names a study's files here, and whatever reads
outputs back (publishing, the HTML report, ``trialexport validate``, incremental reruns) asks
here rather than matching names of its own. A study's files sit in ``studies/<key>/`` (or
``rejected/<key>/`` when its outputs failed validation), ``<key>`` being its identifier made
safe for a file name (``mappers.identity`` says which identifier).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

# The run's own files
REPORT = "run-report.json"
INDEX_PAGE = "index.html"
PAGES = "report"  # report/<slug>.html, one page per run-report entry
EXPORT_LEDGER = "export-ledger.sqlite"
PUBLISH_LEDGER = "publish-ledger.json"
NDJSON = "ndjson"  # ndjson/<ResourceType>.ndjson, one resource a line
NDJSON_MANIFEST = f"{NDJSON}/manifest.json"  # the Bulk Data $export manifest of those files
# Hidden, so never taken for outputs; the next run clears what a killed one left.
STAGING = ".staging"  # a batch's files before the flow moves them into place
REPORT_SPOOL = ".run-report.studies.partial"  # the run's entries before run-report.json is written

# A registry sync's own files (``flows.sync``), beside the export's outputs in the same directory
SOURCES = "sources/ctgov"  # sources/ctgov/<NCT id>.json: each study as the API gave it, the export's input
SUPERSEDED_SOURCES = "sources/ctgov-superseded"  # the record of a study whose NCT id changed
SYNC_STATE = "sync-state.json"  # the watermark, and the API and search it belongs to
SYNC_REPORT = "sync-report.json"  # what the last sync did

# fhir-package/<name>-<version>.tgz: the FHIR package defining the extensions the bundles use, for
# the run's release, so that a validator or server given the outputs can resolve every extension
FHIR_PACKAGE = "fhir-package"

STUDIES = "studies"
REJECTED = "rejected"
FHIR_VERSIONS = ("R4", "R5")


class Output(StrEnum):
    """What a study's export holds, one file each."""

    BUNDLE = "bundle"
    PRS = "prs"
    PUBLIC = "public"
    STUDY = "study"


_NAMES = {Output.PRS: "prs.xml", Output.PUBLIC: "public.xml", Output.STUDY: "study.json"}
_BUNDLE = re.compile(r"^fhir-(?P<version>r\d+)-bundle\.json$")
_LABELS = {"prs.xml": "PRS XML", "public.xml": "public XML", "study.json": "study.json"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def bundle_name(fhir_version: str) -> str:
    return f"fhir-{fhir_version.lower()}-bundle.json"


def bundle_version(path: str) -> str | None:
    """``R4`` / ``R5`` when ``path`` names a bundle file, else None."""
    found = _BUNDLE.match(PurePosixPath(path).name)
    return found["version"].upper() if found else None


def safe_name(text: str, fallback: str) -> str:
    """``text`` as one file-name component: runs of anything but letters, digits, ``.``, ``_``
    and ``-`` become ``_``, with no leading or trailing dot or underscore."""
    return _UNSAFE.sub("_", text).strip("._") or fallback


@dataclass(frozen=True)
class StudyFiles:
    """The files of one study's export."""

    folder: str
    fhir_version: str

    def path(self, output: Output) -> str:
        name = bundle_name(self.fhir_version) if output is Output.BUNDLE else _NAMES[output]
        return f"{self.folder}/{name}"

    @property
    def bundle(self) -> str:
        return self.path(Output.BUNDLE)


def study_files(key: str, fhir_version: str, rejected: bool = False) -> StudyFiles:
    """``key`` is already a safe name (``mappers.export.study_key``)."""
    return StudyFiles(f"{REJECTED if rejected else STUDIES}/{key}", fhir_version)


def is_study_json(path: str) -> bool:
    return PurePosixPath(path).name == _NAMES[Output.STUDY]


def label(path: str) -> str:
    """What a person calls the file: "FHIR R4 bundle", "PRS XML"."""
    return _label_of(path.rsplit("/", 1)[-1])


@functools.lru_cache(maxsize=64)  # bounded: a report read back could name anything
def _label_of(name: str) -> str:
    """``label`` of a file name: a run's outputs have a handful of names between them, and an
    index row or a study page shows four or so."""
    version = bundle_version(name)
    return f"FHIR {version} bundle" if version else _LABELS.get(name, name)


def ndjson_file(resource_type: str) -> str:
    return f"{NDJSON}/{resource_type}.ndjson"


def page(slug: str) -> str:
    return f"{PAGES}/{slug}.html"


def source_record(nct_id: str) -> str:
    """Where a sync keeps a study's record (``nct_id`` is checked: NCT + 8 digits)."""
    return f"{SOURCES}/{nct_id}.json"


def superseded_record(nct_id: str) -> str:
    """Where a sync moves the record of an NCT id the registry replaced."""
    return f"{SUPERSEDED_SOURCES}/{nct_id}.json"
