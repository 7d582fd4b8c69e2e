"""The like-for-like race with the peer converter (issue 14): the same API v2 files to R4
ResearchStudy, by trialexport (``formats=fhir``: a transaction bundle, validated, not-mapped
values traced, serialised) and by the MITRE converter (``mcode/clinical-trial-matching-service``,
Node: ``createResearchStudyFromClinicalStudy``, one ResearchStudy, not validated, serialised).

    python -m benchmarks.race [--peer DIR] [--studies 1000]

``--peer`` (or ``TRIALEXPORT_PEER``) is a checkout of the peer built with its own scripts
(``npm ci`` builds ``dist/``); without one the race is skipped, and says so. Nothing here builds
or holds the peer's code: ``benchmarks/race.js`` loads it from that directory.

The files: issue 14's 26 real API v2 records, then generated distinct ones
(``benchmarks.corpus.generated``) up to ``--studies``, written once to a temporary folder. Each
side runs in fresh processes that first convert the same 60 other generated records (templates,
schemas and the JIT warm), then the timed files: on one core, one process over all the files;
on two cores, two processes at once, each over half. The rate is studies over the wall time of
the slowest process; CPU ms a study are printed beside it, and the ratio of those (on a shared
machine, wall time is not the process's alone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import ROOT, generated, issue_records

PEER_ENV = "TRIALEXPORT_PEER"
WARM_UP_FROM = 6_000_000  # generated record numbers of the warm-up: disjoint from the timed ones
TIMED_FROM = 7_000_000
CONVERTER = Path("dist") / "study-fhir-converter.js"


def peer_dir(option: str | None) -> Path | None:
    """The built peer checkout named by ``--peer`` or ``TRIALEXPORT_PEER``, when it is usable."""
    found = option or os.environ.get(PEER_ENV)
    if found and (Path(found) / CONVERTER).is_file():
        return Path(found)
    return None


def write_corpus(directory: Path, studies: int) -> tuple[list[Path], list[Path]]:
    """(timed files, warm-up files): issue 14's API v2 records then generated ones."""
    records = [r for r in issue_records() if r.form == "API v2 JSON"]
    records += list(generated(max(0, studies - len(records)), start=TIMED_FROM))
    timed = []
    for index, record in enumerate(records[:studies]):
        path = directory / "timed" / f"{index:06d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(record.data)
        timed.append(path)
    warm = []
    for index, record in enumerate(generated(60, start=WARM_UP_FROM)):
        path = directory / "warm" / f"{index:06d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(record.data)
        warm.append(path)
    return timed, warm


def _worker(warm_list: Path, file_list: Path) -> None:
    """trialexport's side, in a process of its own."""
    from flows.collector import settle
    from mappers.context import MappingSettings
    from mappers.export import export_study
    from mappers.readers import read_document

    settings = MappingSettings(fhir_version="R4", formats=("fhir",))

    def convert(path: str) -> int:
        studies = read_document(Path(path).read_bytes(), path)
        return sum(export_study(study, settings).status == "exported" for study in studies)

    for path in warm_list.read_text().split():
        convert(path)
    settle()  # as a batch worker after its first batch
    files = file_list.read_text().split()
    cpu, started = time.process_time(), time.perf_counter()
    exported = sum(convert(path) for path in files)
    wall = time.perf_counter() - started
    print(json.dumps({"studies": exported, "wall": wall, "cpu": time.process_time() - cpu}))


def _side(command: list[str], lists: list[Path]) -> dict:
    """Run one side's processes at once (one per file list); totals and the slowest wall time."""
    processes = [
        subprocess.Popen([*command, str(lst)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for lst in lists
    ]
    results = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {err.decode()[-2000:]}")
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    wall = max(r["wall"] for r in results)
    studies = sum(r["studies"] for r in results)
    return {"studies": studies, "wall": wall, "cpu": sum(r["cpu"] for r in results), "rate": studies / wall}


def race(peer: Path, studies: int, work: Path | None = None) -> list[str]:
    """The race's lines of figures; its files in ``work`` (kept: ``benchmarks.bench`` removes its
    folder after its last figure), or in a temporary folder."""
    node = shutil.which("node")
    if node is None:
        return ["race skipped: node is not on PATH"]
    if work is None:
        with tempfile.TemporaryDirectory(prefix="trialexport-race-") as tmp:
            return race(peer, studies, Path(tmp))
    work.mkdir(parents=True, exist_ok=True)
    lines = []
    timed, warm = write_corpus(work, studies)
    (work / "warm.list").write_text("\n".join(map(str, warm)))
    halves = [timed[0::2], timed[1::2]]
    lists = {"all": [work / "all.list"], "halves": [work / "half0.list", work / "half1.list"]}
    lists["all"][0].write_text("\n".join(map(str, timed)))
    for lst, half in zip(lists["halves"], halves, strict=True):
        lst.write_text("\n".join(map(str, half)))
    ours = [sys.executable, "-m", "benchmarks.race", "--worker", str(work / "warm.list")]
    theirs = [node, str(ROOT / "benchmarks" / "race.js"), str(peer), str(work / "warm.list")]
    lines.append(
        f"race: {len(timed)} API v2 files (26 real, the rest generated, all distinct) to R4 "
        "ResearchStudy; trialexport formats=fhir (bundle, validated, traced) vs the MITRE converter "
        "(not validated)"
    )
    for label, key in (("1 core (1 process each)", "all"), ("2 cores (2 processes each)", "halves")):
        mine = _side(ours, lists[key])
        peers = _side(theirs, lists[key])
        lines.append(
            f"  {label}: trialexport {mine['rate']:6.1f} studies/s "
            f"({mine['cpu'] * 1000 / mine['studies']:.2f} CPU ms a study), "
            f"peer {peers['rate']:6.1f} studies/s ({peers['cpu'] * 1000 / peers['studies']:.2f} CPU ms): "
            f"ratio {mine['rate'] / peers['rate']:.3f}x (target {'0.5' if key == 'all' else '1'}x), "
            f"by CPU time {peers['cpu'] / peers['studies'] / (mine['cpu'] / mine['studies']):.3f}x"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", help=f"a built checkout of the peer (default: ${PEER_ENV})")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    peer = peer_dir(args.peer)
    if peer is None:
        print(
            f"race skipped: no built peer (set {PEER_ENV} or --peer to a checkout of "
            "mcode/clinical-trial-matching-service after its own `npm ci`)"
        )
        return
    print("\n".join(race(peer, args.studies)))


if __name__ == "__main__":
    main()
