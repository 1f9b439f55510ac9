"""GET /metrics on a real origin (Hypercorn, real Postgres/Redis, the provider simulator):
after a miss, an exact hit and a failover, each metric says what happened."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.origin import OriginHandle, start_origin
from tests.test_cache_helpers import wait_cached

TOKEN = secrets.token_urlsafe(16)
ADDED = "prism_gateway_added_latency_seconds"


@pytest.fixture(scope="module")
def observed_origin(
    origin_env: dict[str, str], pg: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginHandle]:
    env = {**origin_env, "PRISM_METRICS_TOKEN": TOKEN}
    service = start_origin(env, tmp_path_factory.mktemp("observed-origin"))
    try:
        yield OriginHandle(service, env, pg.dsn)
    finally:
        service.stop()


def scrape(origin: OriginHandle) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{origin.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def delta(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def chat(origin: OriginHandle, key: str, content: str, **headers: str) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    auth = {"Authorization": f"Bearer {key}", **headers}
    return httpx.post(f"{origin.base_url}/chat/completions", json=body, headers=auth, timeout=30)


def test_metrics_need_their_own_token(observed_origin: OriginHandle) -> None:
    for auth in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.get(f"{observed_origin.url}/metrics", headers=auth)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"


async def test_miss_hit_and_failover_are_counted(
    observed_origin, make_project, sim, redis_server
) -> None:
    project = await make_project("metrics")
    question = f"what is metric {secrets.token_hex(4)}?"
    before = scrape(observed_origin)

    miss = chat(observed_origin, project.api_key, question)
    await wait_cached(redis_server.url, project.id)  # stored after the response, off its path
    hit = chat(observed_origin, project.api_key, question)
    sim.script({"kind": "status", "status": 503}, provider="openai")
    failover = chat(
        observed_origin, project.api_key, "fail me over", **{"X-Prism-Cache": "no-store"}
    )
    unauthorised = chat(observed_origin, "prism_sk_not_a_key", question)
    after = scrape(observed_origin)

    assert miss.headers["x-prism-cache-status"] == "miss"
    assert hit.headers["x-prism-cache-status"] == "hit-exact"
    assert failover.status_code == 200
    assert "failover" in failover.headers["x-prism-route-reason"]
    assert unauthorised.status_code == 401
    rescuer = failover.headers["x-prism-provider"]

    d = lambda name, **labels: delta(before, after, name, **labels)
    assert d("prism_requests_total", status="200", cache_status="miss") == 1
    assert d("prism_requests_total", status="200", cache_status="hit-exact") == 1
    hit_labels = {"mode": "balanced", "task_type": "cache", "cache_status": "hit-exact"}
    assert d("prism_requests_total", status="200", **hit_labels) == 1
    assert d("prism_requests_total", status="200", mode="balanced") == 3
    assert d("prism_requests_total", status="200", cache_status="bypass") == 1
    assert d("prism_requests_total", status="401") == 1
    assert d("prism_cache_lookups_total", layer="exact", tier="origin") == 2
    assert d("prism_cache_hits_total", layer="exact", tier="origin") == 1
    assert d("prism_failovers_total", from_provider="openai", to_provider=rescuer) == 1
    assert d("prism_provider_attempts_total", outcome="ok") == 2
    assert (
        d("prism_provider_attempts_total", provider="openai", outcome="upstream_unavailable") == 1
    )
    assert value(after, "prism_provider_up", provider=rescuer) == 1

    # Cost and savings agree with the receipts, to the cent.
    paid = float(miss.headers["x-prism-cost-cents"]) + float(failover.headers["x-prism-cost-cents"])
    assert d("prism_cost_cents_total") == pytest.approx(paid, rel=1e-9)
    saved = float(hit.headers["x-prism-cache-saved-cents"])
    assert d("prism_saved_cents_total", source="cache", tier="origin") == pytest.approx(
        saved, rel=1e-9
    )

    # GenAI conventions: durations of three answered requests, tokens of the two provider calls.
    name = "gen_ai_server_request_duration_seconds_count"
    assert d(name, error_type="none") == 3
    tokens = "gen_ai_client_token_usage_sum"
    for kind, field in (("input", "prompt_tokens"), ("output", "completion_tokens")):
        expected = miss.json()["usage"][field] + failover.json()["usage"][field]
        assert d(tokens, gen_ai_token_type=kind) == expected
    model = miss.headers["x-prism-model"]
    assert d("gen_ai_client_token_usage_count", gen_ai_response_model=model) >= 2
    assert d("prism_gateway_added_latency_seconds_count", path="provider") == 2
    assert d("prism_gateway_added_latency_seconds_count", path="cache") == 1
    for state in ("pending", "parked"):
        assert ("prism_ledger_backlog_rows", frozenset({("state", state)})) in after
    assert value(after, "prism_edge_queue_rows", state="queued") >= 0


async def test_streams_record_time_to_first_token(observed_origin, make_project) -> None:
    project = await make_project("metrics-stream")
    before = scrape(observed_origin)
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "stream something"}],
    }
    headers = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"}
    with httpx.stream(
        "POST", f"{observed_origin.base_url}/chat/completions", json=body, headers=headers
    ) as response:
        assert response.status_code == 200
        assert b"[DONE]" in response.read()
    after = scrape(observed_origin)
    name = "gen_ai_server_time_to_first_token_seconds_count"
    assert delta(before, after, name, gen_ai_response_model="gpt-4o-mini") == 1
    assert delta(before, after, "prism_gateway_added_latency_seconds_count", path="provider") == 1


async def test_a_requests_durations_lie_within_what_its_client_saw(
    observed_origin, make_project
) -> None:
    """Server and client read the same monotonic clock (perf_counter is CLOCK_MONOTONIC), so
    a request's duration as the origin counts it, from its first bytes to its last byte
    written, lies inside the client's view of it, on a reused connection too; its added
    latency is part of it. The server reads its clock just after its write returns: on a
    loaded machine it can be descheduled right then while the client reads the answer, so the
    bound is the client's time until the scrape that reports the request (recorded after the
    stamp) came back."""
    assert time.get_clock_info("perf_counter").implementation == "clock_gettime(CLOCK_MONOTONIC)"
    project = await make_project("metrics-clock")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "time me"}]}
    headers = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"}
    with httpx.Client(base_url=observed_origin.base_url, headers=headers, timeout=30) as client:
        assert client.post("/chat/completions", json=body).status_code == 200  # opens it
        for _ in range(3):
            before = scrape(observed_origin)
            sent = time.perf_counter()
            assert client.post("/chat/completions", json=body).status_code == 200
            after = scrape(observed_origin)
            seen = time.perf_counter() - sent
            duration, added = "gen_ai_server_request_duration_seconds", ADDED
            assert delta(before, after, f"{duration}_count") == 1
            assert delta(before, after, f"{added}_count", path="provider") == 1
            server_s = delta(before, after, f"{duration}_sum")
            added_s = delta(before, after, f"{added}_sum", path="provider")
            assert 0 < added_s < server_s <= seen
