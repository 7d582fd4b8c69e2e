"""A server with a request size limit (the launcher's maxBodyBytes / maxEntries answer 413): the
studies go split, end up stored as one bundle would have stored them, and a resource that alone
exceeds the limit fails its study only."""

import json
from pathlib import Path

import httpx
import pytest

from flows.publish.bundles import one_entry_transaction, prepared
from tests.flows.publish.test_publish import (
    assert_each_study_once,
    assert_stored_as_sent,
    exported_bundles,
    on_server,
    publish,
    sent_size,
)

pytestmark = pytest.mark.server


def piece_sizes(output: Path, key: str) -> list[int]:
    """Bytes of each one-entry request of the study (an upper bound: references get shorter)."""
    bundle = prepared((output / "studies" / key / "fhir-r4-bundle.json").read_bytes())
    return [len(one_entry_transaction(entry, {})) for entry in bundle["entry"]]


def keys_in_order(report: dict) -> list[str]:
    return [e["key"] for e in report["studies"] if e["status"] == "exported"]


def limit_between_pieces_and_bundles(output: Path) -> int:
    keys = list(exported_bundles(output))
    largest_piece = max(max(piece_sizes(output, key)) for key in keys)
    smallest_bundle = min(sent_size(output, key) for key in keys)
    assert largest_piece < smallest_bundle - 1
    return largest_piece


def assert_plan_reference_resolves(server) -> None:
    """Each ResearchStudy's protocol reads back, through the server, as a stored PlanDefinition
    of the same study."""
    for study in server.search("ResearchStudy"):
        [protocol] = study["protocol"]
        plan = httpx.get(f"{server.base_url}/{protocol['reference']}", timeout=30).raise_for_status().json()
        assert plan["resourceType"] == "PlanDefinition"
        assert plan["identifier"][0]["value"] == study["identifier"][0]["value"]


def test_a_byte_limit_gets_every_study_split_and_stored_as_one_bundle_would(server, seeds_output):
    server.faults(maxBodyBytes=limit_between_pieces_and_bundles(seeds_output))
    report = publish(seeds_output, server, concurrency=1)
    totals = report["publish"]["totals"]
    assert totals["published"] == totals["split"] == totals["sent"] == 2 and totals["failed"] == 0
    for entry in report["studies"]:
        assert entry["publish"]["split"] is True and "HTTP 413" in entry["publish"]["note"]
    assert_stored_as_sent(server, seeds_output, report)
    assert_each_study_once(server, seeds_output)
    assert_plan_reference_resolves(server)
    stats = server.stats()
    assert stats["transactions"] == 4  # one per resource; the refused bundles stored nothing
    # the limit is learnt: a bundle at least as large as one refused is not uploaded to be refused
    first, second = (sent_size(seeds_output, key) for key in keys_in_order(report))
    assert stats["tooLarge"] == (1 if second >= first else 2)
    ledger = json.loads((seeds_output / "publish-ledger.json").read_bytes())["servers"][server.base_url]
    for entry in report["studies"]:
        assert ledger[entry["key"]]["resources"] == entry["publish"]["resources"]


def test_a_split_study_rerun_is_unchanged_and_forced_it_updates_in_place(server, seeds_output):
    server.faults(maxBodyBytes=limit_between_pieces_and_bundles(seeds_output))
    first = publish(seeds_output, server)
    requests = server.stats()["requests"]
    again = publish(seeds_output, server)
    assert again["publish"]["totals"]["unchanged"] == 2 and again["publish"]["totals"]["sent"] == 0
    assert server.stats()["requests"] == requests + 1  # the preflight only
    forced = publish(seeds_output, server, force=True)
    assert forced["publish"]["totals"]["split"] == 2
    assert_each_study_once(server, seeds_output)
    assert_plan_reference_resolves(server)
    ids = {e["key"]: [r["id"] for r in e["publish"]["resources"]] for e in first["studies"]}
    for entry in forced["studies"]:  # the same server resources, one version further
        resources = entry["publish"]["resources"]
        assert [r["id"] for r in resources] == ids[entry["key"]]
        for resource in resources:
            assert len(server.history(resource["resourceType"], resource["id"])) == 2


def test_an_entry_count_limit_is_met_the_same_way(server, seeds_output):
    server.faults(maxEntries=1)
    report = publish(seeds_output, server, concurrency=1)
    assert report["publish"]["totals"]["split"] == 2 and report["publish"]["totals"]["failed"] == 0
    assert_stored_as_sent(server, seeds_output, report)
    assert_plan_reference_resolves(server)


def inflate(output: Path, key: str, index: int, size: int) -> None:
    """Make one resource of the study's bundle larger than ``size`` bytes by itself (a long
    description: valid, just big)."""
    path = output / "studies" / key / "fhir-r4-bundle.json"
    bundle = json.loads(path.read_bytes())
    bundle["entry"][index]["resource"]["description"] = "x" * size
    path.write_text(json.dumps(bundle))


@pytest.mark.parametrize(
    ("index", "stored_first"),
    [
        pytest.param(1, [], id="PlanDefinition-too-large-nothing-stored"),
        pytest.param(0, ["PlanDefinition"], id="ResearchStudy-too-large-after-its-PlanDefinition"),
    ],
)
def test_a_resource_larger_than_the_limit_fails_its_study_only(server, corpus_output, index, stored_first):
    limit = limit_between_pieces_and_bundles(corpus_output)
    bundles = exported_bundles(corpus_output)
    big = sorted(bundles)[5]
    inflate(corpus_output, big, index, limit)
    resource_type = bundles[big]["entry"][index]["resource"]["resourceType"]
    server.faults(maxBodyBytes=limit)

    report = publish(corpus_output, server, concurrency=3)
    totals = report["publish"]["totals"]
    assert totals["failed"] == 1 and totals["published"] == totals["split"] == len(bundles) - 1
    [failed] = [e for e in report["studies"] if e["publish"]["status"] == "failed"]
    section = failed["publish"]
    assert failed["key"] == big and section["http_status"] == 413 and section["retry"] is False
    assert f"refused the {resource_type} alone" in section["reason"]
    assert "request size limit" in section["reason"]
    assert section["outcome"]["resourceType"] == "OperationOutcome"
    assert [r["resourceType"] for r in section.get("stored", [])] == stored_first
    found = on_server(
        server, json.loads((corpus_output / "studies" / big / "fhir-r4-bundle.json").read_bytes())
    )
    assert {t: len(r) for t, r in found.items()} == {
        "ResearchStudy": 0,
        "PlanDefinition": len(stored_first),
    }
    assert len(server.search("ResearchStudy")) == len(bundles) - 1
    assert_plan_reference_resolves(server)

    server.faults(maxBodyBytes=0)  # the limit raised: the rerun sends that study only, once
    second = publish(corpus_output, server)
    assert second["publish"]["totals"]["sent"] == 1 and second["publish"]["totals"]["failed"] == 0
    assert_each_study_once(server, corpus_output)
    assert_plan_reference_resolves(server)
