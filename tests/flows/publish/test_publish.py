"""Publishing against a real FHIR server (Medplum's router, tests/fhir_server): read back, no
duplicates, the ledger, a rejected bundle, a 413 and the launcher's own transaction rollback."""

import json
from pathlib import Path

import httpx
import pytest

from flows.publish.bundles import prepared
from mappers.finish import dump_json_line
from tests.flows.reports import publish_and_read

pytestmark = pytest.mark.server

FAST = {"base_delay": 0.01, "max_delay": 1.0}


def publish(output: Path, server, **options) -> dict:
    return publish_and_read(output, server.base_url, **{**FAST, **options})


def exported_bundles(output: Path) -> dict[str, dict]:
    report = json.loads((output / "run-report.json").read_bytes())
    return {
        e["key"]: json.loads((output / "studies" / e["key"] / "fhir-r4-bundle.json").read_bytes())
        for e in report["studies"]
        if e["status"] == "exported"
    }


def sent_size(output: Path, key: str) -> int:
    """Bytes of the study's bundle as POSTed."""
    return len(dump_json_line(prepared((output / "studies" / key / "fhir-r4-bundle.json").read_bytes())))


def identifier_of(resource: dict) -> str:
    identifier = resource["identifier"][0]
    return f"{identifier['system']}|{identifier['value']}"


def on_server(server, bundle: dict) -> dict[str, list[dict]]:
    """Every resource on the server with the identifier of each of the bundle's resources."""
    return {
        e["resource"]["resourceType"]: server.search(
            e["resource"]["resourceType"], identifier=identifier_of(e["resource"])
        )
        for e in bundle["entry"]
    }


def assert_each_study_once(server, output: Path) -> None:
    bundles = exported_bundles(output)
    for key, bundle in bundles.items():
        found = on_server(server, bundle)
        assert {t: len(r) for t, r in found.items()} == {"ResearchStudy": 1, "PlanDefinition": 1}, key
    assert len(server.search("ResearchStudy")) == len(bundles)
    assert len(server.search("PlanDefinition")) == len(bundles)


def test_seed_bundles_read_back_with_the_bundle_values(server, seeds_output):
    report = publish(seeds_output, server)
    assert report["publish"]["totals"] == {
        "studies": 2,
        "published": 2,
        "sent": 2,
        "unchanged": 0,
        "failed": 0,
        "split": 0,
        "not_sent": 0,
    }
    assert report["publish"]["preflight"]["answered"] and report["publish"]["unreachable"] is None
    assert not any("split" in e["publish"] for e in report["studies"])
    assert_stored_as_sent(server, seeds_output, report)


def assert_stored_as_sent(server, output: Path, report: dict) -> None:
    """Each study's resources read back equal to what the bundle holds, references resolved to
    the server's ids, and the report names those ids and versions."""
    entries = {e["key"]: e for e in report["studies"]}
    for key, bundle in exported_bundles(output).items():
        found = on_server(server, bundle)
        [study], [plan] = found["ResearchStudy"], found["PlanDefinition"]
        by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        server_ref = {
            url: f"{by_url[url]['resourceType']}/{s['id']}"
            for url, s in zip(by_url, (study, plan), strict=True)
        }
        for sent, stored in zip(by_url.values(), (study, plan), strict=True):
            expected = json.loads(json.dumps(sent))
            assert "id" not in expected  # the server owns ids on a conditional update
            text = json.dumps(expected)
            for local, remote in server_ref.items():
                text = text.replace(local, remote)  # urn:uuid references resolved by the server
            actual = {k: v for k, v in stored.items() if k not in ("id", "meta")}
            assert actual == json.loads(text)
        # the report records the server's ids and versions
        recorded = entries[key]["publish"]["resources"]
        assert recorded == [
            {"resourceType": r["resourceType"], "id": r["id"], "versionId": r["meta"]["versionId"]}
            for r in (study, plan)
        ]
    assert study.get("_status") is not None and "status" not in study  # data-absent-reason accepted


def test_twice_the_same_upload_no_duplicates_and_unchanged_not_resent(server, seeds_output):
    publish(seeds_output, server)
    second = publish(seeds_output, server)
    assert second["publish"]["totals"]["sent"] == 0 and second["publish"]["totals"]["unchanged"] == 2
    assert server.stats()["transactions"] == 2  # only the first run's two bundles reached it
    assert_each_study_once(server, seeds_output)
    for study in server.search("ResearchStudy"):
        assert len(server.history("ResearchStudy", study["id"])) == 1

    forced = publish(seeds_output, server, force=True)  # sent again: updated, not duplicated
    assert forced["publish"]["totals"]["sent"] == 2
    assert_each_study_once(server, seeds_output)
    for study in server.search("ResearchStudy"):
        assert len(server.history("ResearchStudy", study["id"])) == 2


def test_a_rejected_bundle_is_reported_with_the_outcome_and_the_rest_go_through(server, corpus_output):
    bundles = exported_bundles(corpus_output)
    bad = sorted(bundles)[3]
    bundle = bundles[bad]
    bundle["entry"][1]["resource"]["notAnElement"] = True  # PlanDefinition; the ResearchStudy is fine
    (corpus_output / "studies" / bad / "fhir-r4-bundle.json").write_text(json.dumps(bundle))

    report = publish(corpus_output, server)
    totals = report["publish"]["totals"]
    assert totals["failed"] == 1 and totals["published"] == len(bundles) - 1
    [failed] = [e for e in report["studies"] if e["publish"]["status"] == "failed"]
    section = failed["publish"]
    assert failed["key"] == bad and section["http_status"] == 400 and section["retry"] is False
    assert section["outcome"]["resourceType"] == "OperationOutcome"
    assert any("notAnElement" in json.dumps(i) for i in section["outcome"]["issue"])
    assert "notAnElement" in section["reason"] and section["attempts"] == 1
    # the whole transaction was refused: neither resource of that study is stored
    assert on_server(server, bundle) == {"ResearchStudy": [], "PlanDefinition": []}
    assert len(server.search("ResearchStudy")) == len(bundles) - 1
    rows = {row["study"]: row for row in latest_table_artifact("trialexport-publish")}
    assert rows[bad]["status"] == "failed" and "notAnElement" in rows[bad]["reason"]
    assert sum(row["status"] == "published" for row in rows.values()) == len(bundles) - 1


def latest_table_artifact(key: str) -> list[dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


def test_a_413_sends_that_study_split_and_it_is_stored_as_one_bundle_would_be(server, seeds_output):
    server.faults(status413=1)  # the first POST only, whatever its size
    report = publish(seeds_output, server, concurrency=1)
    assert report["publish"]["totals"]["published"] == 2
    (first_key, first), (second_key, second) = ((e["key"], e["publish"]) for e in report["studies"])
    assert first["split"] is True and "refused the whole bundle" in first["note"]
    assert first["attempts"] == 3  # the refused bundle, then one request per resource
    if sent_size(seeds_output, second_key) >= sent_size(seeds_output, first_key):
        assert second["split"] is True and "earlier" in second["note"] and second["attempts"] == 2
    else:  # smaller than what was refused: tried whole, and nothing refuses it
        assert "split" not in second and second["attempts"] == 1
    assert report["publish"]["totals"]["split"] == 1 + bool(second.get("split"))
    assert_stored_as_sent(server, seeds_output, report)
    assert_each_study_once(server, seeds_output)


def test_the_launcher_rolls_back_a_failed_transaction(server, seeds_output):
    """An entry that fails after another was stored (a search on the wrong type) must undo it."""
    bundle = next(iter(exported_bundles(seeds_output).values()))
    bundle["entry"][1]["request"]["url"] = "Basic?identifier=x|y"  # PlanDefinition body, Basic search
    response = httpx.post(server.base_url, json=bundle, timeout=30)
    assert response.status_code >= 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert server.search("ResearchStudy") == [] and server.search("PlanDefinition") == []


def test_bundles_in_flight_are_bounded_and_the_rate_is_limited(server, corpus_output):
    import time

    started = time.perf_counter()
    report = publish(corpus_output, server, concurrency=3, rate_limit=20.0)
    elapsed = time.perf_counter() - started
    assert report["publish"]["totals"]["published"] == len(exported_bundles(corpus_output))
    assert 1 <= server.stats()["maxInFlight"] <= 3
    assert elapsed >= (len(exported_bundles(corpus_output)) - 1) / 20.0  # evenly spaced starts
