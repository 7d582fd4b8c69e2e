"""The outcome-cell evaluation set: real (measure, description, time frame) triples rendered as
the CSV-row shape's cells (``measure, description, time frame`` joined by ``, ``, no escaping).

The triples are the structured outcomes (protocol outcomes and results outcome measures) of the
ClinicalTrials.gov JSON and XML records in the project's shared material, stored in
``tests/fixtures/outcome_cells/triples.jsonl`` so that the tests never read that folder. Each
record's triples go wholly to the development part or to the HELD-OUT part, decided by a hash of
its NCT id; the records the 16 samples were written from are development by construction.
``extra_development.jsonl`` adds the outcomes of more public records (1,324 records of four
public repositories: 2014 and 2023 public XML, API v1 and v2 JSON; the folder's README names
each) to the development part only; none of them is a record of the set.
Rules are tuned on the development part only; the held-out figure is read, never tuned on.

Weights: ``python -m tests.mappers.readers.outcome_set --fit`` fits the weights of
``mappers.readers.outcome_cell.W`` on the development part and prints them.

Rebuild the files (only when the sources change):
``python -m tests.mappers.readers.outcome_set ../shared/ctgov [FILE_OR_FOLDER_OF_MORE_RECORDS ...]``.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from mappers.readers.outcome_cell import (
    _MAX_MEASURE_PIECES,
    _MAX_TIME_PIECES,
    Features,
    W,
    _Cell,
    split_outcome,
)
from mappers.text import unescape_markdown

FIXTURES = Path(__file__).parents[2] / "fixtures" / "outcome_cells"
TRIPLES = FIXTURES / "triples.jsonl"
EXTRA_DEVELOPMENT = FIXTURES / "extra_development.jsonl"
# The records the 16 samples (tests/fixtures/samples) were written from: seen while developing.
SAMPLE_RECORDS = frozenset(
    p.stem.split("_")[0] for p in (Path(__file__).parents[2] / "fixtures" / "samples" / "docs").glob("*.txt")
)
HELD_OUT_SHARE = 0.5


@dataclass(frozen=True)
class Triple:
    nct: str
    origin: str  # "protocol" (outcomes module) or "results" (outcome measures of the results)
    measure: str
    description: str | None
    time_frame: str | None

    @property
    def cell(self) -> str:
        """The CSV-row shape: the present parts joined by ``, ``, nothing escaped."""
        return ", ".join(p for p in (self.measure, self.description, self.time_frame) if p)

    @property
    def held_out(self) -> bool:
        if self.nct in SAMPLE_RECORDS:
            return False
        digest = hashlib.sha256(self.nct.encode()).digest()
        return digest[0] < 256 * HELD_OUT_SHARE


def load(path: Path = TRIPLES) -> list[Triple]:
    with path.open(encoding="utf-8") as f:
        return [Triple(**json.loads(line)) for line in f if line.strip()]


def development() -> list[Triple]:
    return [t for t in load() if not t.held_out] + load(EXTRA_DEVELOPMENT)


def held_out() -> list[Triple]:
    return [t for t in load() if t.held_out]


@dataclass(frozen=True)
class Score:
    cells: int
    time_frames: int  # cells whose time frame came out exactly right
    measures: int
    whole: int  # all three parts right

    def share(self, count: int) -> float:
        return count / self.cells if self.cells else 0.0

    def __str__(self) -> str:
        return (
            f"{self.cells} cells: time frames {self.share(self.time_frames):.1%}, "
            f"measures {self.share(self.measures):.1%}, whole {self.share(self.whole):.1%}"
        )


def misses(triples: Iterable[Triple]) -> Iterator[tuple[Triple, tuple]]:
    """Every triple whose cell does not split back into it, with what the split gave."""
    for t in triples:
        got = split_outcome(t.cell)
        if (got.measure, got.description, got.time_frame) != (t.measure, t.description, t.time_frame):
            yield t, (got.measure, got.description, got.time_frame)


def score(triples: Iterable[Triple]) -> Score:
    cells = frames = measures = whole = 0
    for t in triples:
        got = split_outcome(t.cell)
        cells += 1
        frames += got.time_frame == t.time_frame
        measures += got.measure == t.measure
        whole += (got.measure, got.description, got.time_frame) == (t.measure, t.description, t.time_frame)
    return Score(cells, frames, measures, whole)


# -- fitting the weights (on the development part only) ---------------------------------------------


def grouping_features(cell: _Cell, i: int, j: int) -> Features:
    features: Features = {}
    for part in (cell.measure(i), cell.description(i, j), cell.time_frame(j)):
        for name, value in part.items():
            features[name] = features.get(name, 0.0) + value
    return features


def _candidates(t: Triple, names: list[str]) -> tuple[list[list[float]], int] | None:
    """Every grouping the search weighs, as feature vectors, and which one is true (None when
    a true part ends inside a piece, or the cell is a single piece)."""
    cell = _Cell(t.cell)
    groupings = [
        (i, j)
        for i in range(1, min(cell.n, _MAX_MEASURE_PIECES) + 1)
        for j in range(max(i, cell.n - _MAX_TIME_PIECES), cell.n + 1)
    ]
    truth = (t.measure, t.description, t.time_frame)
    for index, (i, j) in enumerate(groupings):
        if (cell.text(0, i), cell.text(i, j) or None, cell.text(j, cell.n) or None) == truth:
            if cell.n < 2:
                return None
            vectors = []
            for a, b in groupings:
                features = grouping_features(cell, a, b)
                vectors.append([features.get(name, 0.0) for name in names])
            return vectors, index
    return None


def fit(triples: list[Triple], iterations: int = 300, prior: float = 0.002) -> dict[str, float]:
    """Weights of a log-linear model over each cell's groupings (the split chosen is the most
    probable grouping), by gradient ascent on the log-likelihood of the true groupings, with an
    L2 pull towards the current weights (``prior``, per cell) that keeps rare features sane."""
    names = list(W)
    cells = [c for c in (_candidates(t, names) for t in triples) if c]
    start = [W[name] for name in names]
    w = list(start)
    for _ in range(iterations):
        gradient = [-prior * len(cells) * (a - b) for a, b in zip(w, start, strict=True)]
        for vectors, truth in cells:
            scores = [sum(a * b for a, b in zip(w, v, strict=True)) for v in vectors]
            top = max(scores)
            odds = [math.exp(s - top) for s in scores]
            total = sum(odds)
            for k in range(len(names)):
                expected = sum(p * v[k] for p, v in zip(odds, vectors, strict=True)) / total
                gradient[k] += vectors[truth][k] - expected
        w = [a + g / len(cells) for a, g in zip(w, gradient, strict=True)]
    return {name: round(value, 2) for name, value in zip(names, w, strict=True)}


# -- building the set from the shared material (by hand, not at test time) ------------------------


def _flat(text: str | None) -> str | None:
    """One line, as the CSV-row document holds it; None for nothing."""
    text = " ".join((text or "").split())
    return text or None


def _xml_triples(path: Path) -> Iterator[Triple]:
    root = etree.parse(str(path)).getroot()
    nct = root.findtext("id_info/nct_id")
    for tag in ("primary_outcome", "secondary_outcome", "other_outcome"):
        for o in root.iter(tag):
            yield Triple(
                nct, "protocol", o.findtext("measure"), o.findtext("description"), o.findtext("time_frame")
            )
    for o in root.iterfind("clinical_results/outcome_list/outcome"):
        yield Triple(nct, "results", o.findtext("title"), o.findtext("description"), o.findtext("time_frame"))


def _json_studies(data) -> list[dict]:
    return data["studies"] if isinstance(data, dict) and "studies" in data else [data]


def _v2_triples(path: Path) -> Iterator[Triple]:
    for study in _json_studies(json.loads(path.read_text(encoding="utf-8"))):
        nct = study.get("protocolSection", {}).get("identificationModule", {}).get("nctId")
        if not nct:
            continue  # a fragment of a study (test data of other projects), not a record
        module = study["protocolSection"].get("outcomesModule", {})
        for key in ("primaryOutcomes", "secondaryOutcomes", "otherOutcomes"):
            for o in module.get(key, []):
                yield Triple(nct, "protocol", o.get("measure"), o.get("description"), o.get("timeFrame"))
        results = study.get("resultsSection", {}).get("outcomeMeasuresModule", {})
        for o in results.get("outcomeMeasures", []):
            yield Triple(nct, "results", o.get("title"), o.get("description"), o.get("timeFrame"))


def _v1_triples(path: Path) -> Iterator[Triple]:
    for full in json.loads(path.read_text(encoding="utf-8"))["FullStudiesResponse"]["FullStudies"]:
        protocol = full["Study"]["ProtocolSection"]
        nct = protocol["IdentificationModule"]["NCTId"]
        module = protocol.get("OutcomesModule", {})
        for kind in ("Primary", "Secondary", "Other"):
            for o in module.get(f"{kind}OutcomeList", {}).get(f"{kind}Outcome", []):
                yield Triple(
                    nct,
                    "protocol",
                    o.get(f"{kind}OutcomeMeasure"),
                    o.get(f"{kind}OutcomeDescription"),
                    o.get(f"{kind}OutcomeTimeFrame"),
                )


def _any_triples(source: Path) -> Iterator[Triple]:
    """The outcomes of a public XML record or API v1/v2 JSON document, or of every one in a
    folder ``source``."""
    for path in sorted(source.iterdir()) if source.is_dir() else [source]:
        if path.suffix == ".xml":
            try:
                yield from _xml_triples(path)
            except etree.XMLSyntaxError:
                continue
        elif path.suffix == ".json":
            text = path.read_text(encoding="utf-8")
            if '"FullStudiesResponse"' in text[:200]:
                yield from _v1_triples(path)
            elif '"protocolSection"' in text:
                yield from _v2_triples(path)


def build(ctgov: Path) -> list[Triple]:
    """Every distinct triple of the shared records, one line each, markdown escapes removed."""
    raw: list[Triple] = []
    for path in sorted((ctgov / "xml").glob("*.xml")):
        raw += _xml_triples(path)
    for folder in ("v2", "v2_list_response"):
        for path in sorted((ctgov / "json" / folder).glob("*.json")):
            raw += _v2_triples(path)
    for path in sorted((ctgov / "json" / "v1_classic_api").glob("*.json")):
        raw += _v1_triples(path)
    return _distinct(raw)


def _distinct(raw: list[Triple]) -> list[Triple]:
    seen, triples = set(), []
    for t in raw:
        parts = [_flat(unescape_markdown(p)) if p else None for p in (t.measure, t.description, t.time_frame)]
        if not parts[0] or any(p and "|" in p for p in parts):
            continue  # no measure, or a "|" that the cell list would split on: not a cell of the shape
        key = (t.nct, *parts)
        if key in seen:
            continue
        seen.add(key)
        triples.append(Triple(t.nct, t.origin, *parts))
    return triples


def _write(triples: list[Triple], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for t in triples:
            f.write(json.dumps(t.__dict__, ensure_ascii=False) + "\n")


if __name__ == "__main__" and sys.argv[1:] == ["--fit"]:
    for name, value in fit(development()).items():
        print(f'    "{name}": {value},  # was {W[name]}')
elif __name__ == "__main__":
    found = build(Path(sys.argv[1]))
    _write(found, TRIPLES)
    if len(sys.argv) > 2:  # more public records, development only; none of the set's records
        known = {t.nct for t in found}
        extra = [t for folder in sys.argv[2:] for t in _any_triples(Path(folder)) if t.nct not in known]
        _write(_distinct(extra), EXTRA_DEVELOPMENT)
    print(f"{len(found)} triples from {len({t.nct for t in found})} records")
    dev, out = development(), held_out()
    print(f"development {len(dev)} ({len({t.nct for t in dev})} records), held out {len(out)}")
    print("development:", score(dev))
