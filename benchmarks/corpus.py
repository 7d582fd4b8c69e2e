"""The benchmark's corpora: distinct records only, so that no content-keyed cache can flatter it.

A registry has no copies: every study brings text, names, sites and dates the process has not
seen. Two sources, neither of which repeats a record:

* ``issue_records()``: the set issue 14 measured on: the 26 API v2 records and 60 of the 142
  other legacy XML records of the shared material's ``ctgov/`` (all are copied in: 22 of the API
  v2 records and every XML record are fixtures, the other four API v2 records are in
  ``benchmarks/records``). The issue does not name its 60: they are taken evenly spaced, by NCT
  id, from the 142 legacy XML records whose study is not also an API v2 record, so that they span
  the schema years (2016 to 2020) and sizes (one site to 1,300) rather than any one kind.
* ``real_records()``: those first, then every other distinct real record of ``tests/fixtures``
  (API v2, list page split into its studies, classic v1, legacy XML of ``xml/`` and
  ``xml_parity/``) and the free-text documents, each study once. A study present in several
  forms (the same NCT id as XML and JSON, a sample document written from a fixture) is kept
  once, in the first form found: its text would otherwise be a second sight. ``extra``
  directories add more real records the same way.
* ``generated(n)``: API v2 records made from the real ones, where record ``n`` gets its own NCT
  id, org and secondary ids, a suffix of its own on every free-text leaf (titles, descriptions,
  names, sites, outcomes, criteria, keywords…), its own e-mail addresses, phone numbers, postal
  codes, PubMed ids and URLs, and its dates moved by a whole number of four-year steps (leap
  days stay valid). Coded values (upper-case API enums), ages and countries stay: they are
  vocabularies, shared by every real registry record too. The suffix is the same for every leaf
  of one record, so that the record's internal links (an arm naming ``Drug: X`` and the
  intervention ``X``) still resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CTGOV = FIXTURES / "ctgov"
EXTRA = Path(__file__).resolve().parent / "records"  # real records the benchmark needs, not tests
ISSUE_XML = 60  # legacy XML records of issue 14's set
_NCT = re.compile(r"NCT\d{8}")
_NCT_BYTES = re.compile(rb"NCT\d{8}")


@dataclass(frozen=True)
class Record:
    source: str  # a name for reports; also the input path given to the reader
    form: str  # "API v2 JSON", "legacy XML", …
    data: bytes


def _split_list_page(path: Path) -> list[bytes]:
    studies = orjson.loads(path.read_bytes()).get("studies", [])
    return [orjson.dumps(study, option=orjson.OPT_INDENT_2) for study in studies]


def _files(directory: Path) -> Iterator[tuple[str, Path]]:
    """(form, file) of every record file under a directory, by what the file is."""
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix == ".xml":
            yield "legacy XML", path
        elif path.suffix == ".json":
            head = path.read_bytes()[:4096]
            if b"FullStudiesResponse" in head:
                yield "classic API v1 JSON", path
            else:
                yield "API v2 JSON", path
        elif path.suffix == ".txt":
            yield "free text", path


def _identity(path: Path, data: bytes) -> bytes:
    """The study a record is: its first NCT id (a record's own comes first in every form), or
    the NCT id a sample document is named after, or the file name."""
    found = _NCT_BYTES.search(path.name.encode()) or _NCT_BYTES.search(data[:20000])
    return found.group() if found else path.name.encode()


def _v2_sources() -> list[tuple[str, Path]]:
    return [
        ("API v2 JSON", p)
        for p in sorted((CTGOV / "json" / "v2").glob("*.json"))
        + sorted((CTGOV / "json" / "list").glob("*.json"))
        + sorted((EXTRA / "json" / "v2").glob("*.json"))
    ]


def _xml_files() -> list[Path]:
    return sorted(
        [*CTGOV.glob("*.xml"), *(CTGOV / "xml").glob("*.xml"), *(CTGOV / "xml_parity").glob("*.xml")],
        key=lambda p: p.name,
    )


def _distinct(sources: list[tuple[str, Path]], seen: set[bytes]) -> list[Record]:
    """One record per study, in the order of ``sources``; ``seen`` holds the studies taken
    already (and is updated)."""
    records = []
    for form, path in sources:
        blobs = _split_list_page(path) if path.parent.name == "list" else [path.read_bytes()]
        for index, data in enumerate(blobs):
            identity = _identity(path, data) if len(blobs) == 1 else _identity(Path(""), data)
            if identity in seen:
                continue
            seen.add(identity)
            name = f"{path.name}#{index + 1}" if len(blobs) > 1 else path.name
            records.append(Record(name, form, data))
    return records


def issue_records() -> list[Record]:
    """Issue 14's 86 records: the 26 API v2 records, then 60 legacy XML records evenly spaced
    by NCT id among the 142 whose study is not one of those."""
    seen: set[bytes] = set()
    v2 = _distinct(_v2_sources(), seen)
    pool = [p for p in _xml_files() if p.stem.encode() not in seen]
    step = (len(pool) - 1) / (ISSUE_XML - 1)
    chosen = [pool[round(i * step)] for i in range(ISSUE_XML)]
    return v2 + _distinct([("legacy XML", p) for p in chosen], seen)


def real_records(extra: list[Path] | None = None) -> list[Record]:
    """Issue 14's records first, then every other distinct real study of the project's fixtures
    (and of ``extra`` directories), one input each, in the order listed here."""
    issue = issue_records()
    seen = {_identity(Path(r.source.split("#")[0]), r.data) for r in issue}
    sources = [("legacy XML", p) for p in _xml_files()]
    sources += [("classic API v1 JSON", p) for p in sorted((CTGOV / "json" / "v1").glob("*.json"))]
    sources += [("free text", p) for p in sorted((ROOT / "seeds").glob("*.txt"))]
    sources += [("free text", p) for p in sorted((FIXTURES / "samples" / "docs").glob("*.txt"))]
    for directory in extra or []:
        sources += list(_files(directory))
    return issue + _distinct(sources, seen)


# ---- generated API v2 records ----------------------------------------------------------------

_ENUM = re.compile(r"[A-Z][A-Z0-9_]*")
_DATE = re.compile(r"(\d{4})(-\d{2}(-\d{2})?)?")
_KEPT = {"minimumAge", "maximumAge", "targetDuration", "country", "stdAges"}
# API v2 keys that hold a person's name: the officials', the central and site contacts'
_PERSON_NAMES = {("overallOfficials", "name"), ("centralContacts", "name"), ("contacts", "name")}


def _token(n: int) -> str:
    """A short lower-case word of its own for record ``n`` (letters only: no reader parses it)."""
    letters = ""
    n += 26**3  # at least four letters
    while n:
        n, digit = divmod(n, 26)
        letters = chr(ord("a") + digit) + letters
    return "x" + letters


class _Variant:
    def __init__(self, n: int):
        self.n = n
        self.token = _token(n)
        self.years = 4 * (1 + n % 16)  # 2020 + 64 stays a FHIR date
        self.counter = 0

    def _next(self) -> int:
        self.counter += 1
        return self.n * 1000 + self.counter

    def leaf(self, key: str | tuple | None, value: str) -> str:
        if key == "nctId":
            return f"NCT{90_000_000 + self.n:08d}"
        if key == "id":  # org study id, secondary ids
            return f"{value}-{self.token}"
        if key in _KEPT or _ENUM.fullmatch(value):
            return value
        if _DATE.fullmatch(value):
            return str(int(value[:4]) + self.years) + value[4:]
        if key == "email" and "@" in value:
            local, _, domain = value.partition("@")
            return f"{local}.{self.token}@{domain}"
        if key in ("phone", "zip"):
            digits = iter(f"{self._next():012d}"[::-1] * 4)  # the same shape, other digits
            return re.sub(r"\d", lambda _: next(digits), value[::-1])[::-1]
        if key == "pmid":
            return str(40_000_000 + self._next())
        if value.startswith(("http://", "https://")):
            return f"{value.rstrip('/')}/{self.token}"
        if key in _PERSON_NAMES:
            # joined to the surname, before any degrees: "Neil H White, M.D. xbbmm" is no longer
            # a name's shape (the words after its comma are not all degrees), and sent most of the
            # generated records' people to the slow general name parser, a few of the real ones'
            head, comma, tail = value.partition(",")
            return f"{head}{self.token}{comma}{tail}"
        return f"{value} {self.token}"

    def walk(self, value, key: str | None = None, owner: str | None = None):
        """``key``: the leaf's own key (a list's items take the list's); ``owner``: the key of
        the object holding it, which tells a person's ``name`` from a sponsor's."""
        if isinstance(value, dict):
            return {k: self.walk(v, k, key) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, key, owner) for v in value]
        if isinstance(value, str):
            return self.leaf((owner, key) if key == "name" else key, value)
        return value


def _v2_templates() -> list[dict]:
    studies: list[dict] = []
    for path in sorted((CTGOV / "json" / "v2").glob("*.json")) + sorted((CTGOV / "json" / "list").glob("*")):
        data = orjson.loads(path.read_bytes())
        studies += data.get("studies", []) if "studies" in data else [data]
    return studies


def generated(count: int, start: int = 0) -> Iterator[Record]:
    """``count`` distinct API v2 records, numbered from ``start`` (distinct numbers give distinct
    records: use disjoint ranges for the warm-up and the measured corpus)."""
    templates = _v2_templates()
    for n in range(start, start + count):
        study = _Variant(n).walk(templates[n % len(templates)])
        yield Record(f"generated-{n:07d}.json", "API v2 JSON (generated)", orjson.dumps(study))


def write_generated(directory: Path, count: int, start: int = 0) -> list[Path]:
    """The generated records as files, 1,000 to a folder, for the flow."""
    paths = []
    for index, record in enumerate(generated(count, start)):
        path = directory / f"{index // 1000:04d}" / record.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(record.data)
        paths.append(path)
    return paths
