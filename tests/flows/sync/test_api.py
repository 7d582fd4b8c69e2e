"""The registry client against the stand-in API: paging as the API wants it, and faults."""

from __future__ import annotations

import itertools
from datetime import date

import pydantic
import pytest

from flows.publish.client import RetryPolicy
from flows.settings import SyncSettings
from flows.sync.api import Pager, RegistryClient, RegistryError, nct_id, updated_since
from tests.flows.sync.registry import fixture_studies, last_update, nct_of

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=2.0)
ALL = sorted(nct_of(s) for s in fixture_studies())


def client(registry, rate_limit: float | None = None, policy: RetryPolicy = FAST) -> RegistryClient:
    return RegistryClient(registry.url, rate_limit=rate_limit, policy=policy, timeout=10)


def nct(study: dict) -> str:
    found = nct_id(study)
    assert found is not None, study
    return found


def walk(pager: Pager) -> list[list[str]]:
    pages = []
    while not pager.done:
        pages.append([nct(s) for s in pager.next().studies])
    return pages


def test_the_fixtures_are_real_records_one_per_study():
    assert len(ALL) == len(set(ALL)) == 22


def test_version_gives_the_api_version_and_data_timestamp(registry):
    with client(registry) as api:
        found = api.version()
    assert (found.api_version, found.data_timestamp) == ("2.0.5", "2025-11-21T09:00:05")


def test_every_page_repeats_the_first_pages_parameters_and_the_token_it_was_given(registry):
    with client(registry) as api:
        pager = Pager(api, {"query.term": "a"}, page_size=6, max_restarts=0)
        tokens = []
        pages = []
        while not pager.done:
            pages.append([nct(s) for s in pager.next().studies])
            tokens.append(pager.token)
    assert [len(p) for p in pages] == [6, 6, 6, 4]
    assert sorted(n for p in pages for n in p) == ALL and pager.expected == 22
    asked = registry.pages()
    first = asked[0].params
    assert "pageToken" not in first
    assert first == {"query.term": "a", "format": "json", "pageSize": "6", "countTotal": "true"}
    for request, token in zip(asked[1:], tokens[:-1], strict=True):
        assert request.params == {**first, "pageToken": token}
    assert tokens[-1] is None  # the last page has no nextPageToken


def test_the_api_refuses_a_later_page_asked_with_other_parameters(registry):
    with client(registry) as api:
        first = api.page({"pageSize": "5", "format": "json"})
        with pytest.raises(RegistryError, match="HTTP 400"):
            api.page({"pageSize": "5", "format": "json", "query.term": "cancer"}, first.next_token)


def test_total_count_comes_with_the_first_page_only(registry):
    with client(registry) as api:
        first = api.page({"pageSize": "5", "countTotal": "true"})
        second = api.page({"pageSize": "5", "countTotal": "true"}, first.next_token)
    assert first.total_count == 22 and second.total_count is None


def test_filter_advanced_asks_for_what_was_posted_from_a_date_on(registry):
    since = date(2025, 9, 1)
    expected = sorted(nct_of(s) for s in fixture_studies() if last_update(s) >= since.isoformat())
    assert 0 < len(expected) < 20
    with client(registry) as api:
        pager = Pager(api, {"filter.advanced": updated_since(since)}, page_size=2, max_restarts=0)
        got = sorted(n for page in walk(pager) for n in page)
    assert got == expected and pager.expected == len(expected)
    assert registry.pages()[0].params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2025-09-01,MAX]"


def test_an_empty_page_is_not_an_error(registry):
    registry.inject("empty")
    with client(registry) as api:
        pager = Pager(api, {}, page_size=8, max_restarts=0)
        pages = walk(pager)
    assert pages[0] == [] and sorted(n for p in pages for n in p) == ALL
    assert pager.empty_pages == 1


def test_an_expired_page_token_starts_the_search_again(registry):
    registry.inject("expire")
    with client(registry) as api:
        pager = Pager(api, {}, page_size=8, max_restarts=2)
        pages = walk(pager)
    assert pager.restarts == 1
    fetched = [n for p in pages for n in p]
    assert sorted(set(fetched)) == ALL and len(fetched) == 22 + 8  # the first page came twice
    assert [r.status for r in registry.log] == [200, 400, 200, 200, 200]


def test_a_token_refused_more_often_than_allowed_fails_the_paging(registry):
    registry.inject("expire", count=3)
    with client(registry) as api:
        pager = Pager(api, {}, page_size=8, max_restarts=2)
        with pytest.raises(RegistryError, match="page token refused"):
            walk(pager)


def test_429_waits_as_long_as_retry_after_says(registry):
    registry.inject("429", retry_after="1")
    with client(registry) as api:
        pager = Pager(api, {}, page_size=11, max_restarts=0)
        assert sorted(n for p in walk(pager) for n in p) == ALL
        assert api.stats.faults == {"HTTP 429": 1} and api.stats.retried == 1
        assert api.stats.waited == pytest.approx(1.0)
    refused, retried = registry.log[0], registry.log[1]
    assert refused.status == 429 and retried.status == 200
    assert retried.at - refused.at >= 0.95  # the server's schedule, not the client's 10 ms backoff


def test_503_and_dropped_connections_are_retried(registry):
    registry.inject("503")
    registry.inject("drop")
    with client(registry) as api:
        pager = Pager(api, {}, page_size=11, max_restarts=0)
        assert sorted(n for p in walk(pager) for n in p) == ALL
        assert api.stats.faults == {"HTTP 503": 1, "RemoteProtocolError": 1}
        assert api.stats.requests == 4  # two pages, the first tried three times
    assert [r.status for r in registry.log] == [503, None, 200, 200]


def test_a_request_failing_past_its_tries_raises_with_the_servers_reason(registry):
    registry.inject("503", count=FAST.attempts)
    with client(registry) as api, pytest.raises(RegistryError, match="HTTP 503: Service Unavail") as failed:
        api.page({})
    assert failed.value.transient


def test_requests_are_spaced_by_the_rate_limit_retries_included(registry):
    registry.inject("503", count=2)
    with client(registry, rate_limit=10) as api:
        pager = Pager(api, {}, page_size=6, max_restarts=0)
        walk(pager)
    times = [r.at for r in registry.log]
    assert len(times) == 6  # four pages, the first tried three times
    # the limiter spaces the starts; arrivals jitter a little on a busy machine, a burst would not
    assert times[-1] - times[0] >= 5 * 0.1 - 0.02
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.05


def test_one_study_answers_its_record_a_redirect_for_an_old_id_or_404(registry):
    registry.rename("NCT03418623", "NCT09999901", "2025-11-24")
    registry.remove("NCT04207047")
    with client(registry) as api:
        found = api.study("NCT00763412").study
        assert found is not None and nct_id(found) == "NCT00763412"
        moved = api.study("NCT03418623")
        assert (moved.status, moved.moved_to, moved.study) == (301, "NCT09999901", None)
        assert api.study("NCT04207047").status == 404


def test_page_size_is_at_most_1000():
    with pytest.raises(pydantic.ValidationError):
        SyncSettings(page_size=1001)
    assert SyncSettings().page_size == 1000 and SyncSettings().rate_limit == 1.0
