"""Edge cache hits in the origin's /metrics: the Worker (Workers Pyodide under Node, Upstash
stand-ins over real Redis) counts its lookups and hits into Redis, and a scrape of the origin
behind it (Hypercorn, real stack) shows them with tier="edge" under the origin's metric names."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.local.proc import Service
from origin.observability.edge_series import EdgeCounters
from origin.observability.metrics import Metrics
from shared.edge_metrics import parse_counts
from tests.fixtures.edge import CacheSeed, EdgeServer, cached_completion, chat

DEADLINE_S = 15.0
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def edge(edge_server: EdgeServer, origin_server: Any, edge_bindings: dict[str, str]) -> Service:
    return edge_server(origin_server.url, **edge_bindings)


def scrape(origin: Any) -> Samples:
    response = httpx.get(f"{origin.url}/metrics", timeout=30)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def settled_scrape(origin: Any) -> Samples:
    """A scrape with the edge series in it, once they stop moving. A scrape whose read of the
    hash ran out of time (250 ms, on a busy machine) has none, and the hash is the whole
    deployment's: what earlier tests' requests still count into it must not count here."""
    deadline = time.monotonic() + DEADLINE_S
    last: dict[Any, float] = {}
    while True:
        now = scrape(origin)
        edge = {k: v for k, v in now.items() if ("tier", "edge") in k[1]}
        if edge and edge == last:
            return now
        assert time.monotonic() < deadline, "the edge series never settled"
        last = edge
        await asyncio.sleep(0.5)


async def scrape_until(origin: Any, before: Samples, expected: dict[Any, float]) -> Samples:
    """Scrapes until every (name, labels) delta in `expected` is reached (the edge counts hits
    in waitUntil, after the response), bounded; returns the last scrape."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        after = scrape(origin)
        got = {
            k: value(after, k[0], **dict(k[1])) - value(before, k[0], **dict(k[1]))
            for k in expected
        }
        if all(got[k] >= v for k, v in expected.items()) or time.monotonic() > deadline:
            return after
        await asyncio.sleep(0.1)


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, tuple(sorted(labels.items())))


async def send(edge: Service, api_key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.post(
            f"{edge.url}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {api_key}", **headers},
        )


async def test_edge_hits_and_lookups_reach_the_origin_scrape_with_tier_edge(
    edge: Service, origin_server: Any, make_project: Any, cache_seed: CacheSeed
) -> None:
    project = await make_project("edge-metrics")
    marker = uuid.uuid4().hex
    # The hash exists from the first edge lookup on; this one is counted before `before`.
    await send(edge, project.api_key, chat(f"Anything at all {marker}"))
    exact_body = chat(f"Tell me a fact {marker}")
    await cache_seed.exact(project.id, exact_body, cached_completion("A stored fact."))
    await cache_seed.semantic(
        project.id,
        chat(f"How do I reset my password? {marker}"),
        cached_completion("Use the link."),
    )
    before = await settled_scrape(origin_server)

    exact = await send(edge, project.api_key, exact_body)
    semantic = await send(
        edge,
        project.api_key,
        chat(f"How can I reset my password? {marker}"),
        **{"X-Prism-Cache-Threshold": "0.85"},
    )
    miss = await send(edge, project.api_key, chat(f"Something nobody asked {marker}"))
    assert exact.headers["x-prism-cache-status"] == "hit-exact-edge"
    assert semantic.headers["x-prism-cache-status"] == "hit-semantic-edge"
    assert miss.status_code == 200 and miss.headers["x-prism-cache-status"] == "miss"

    edge_exact = {"layer": "exact", "tier": "edge"}
    edge_semantic = {"layer": "semantic", "tier": "edge"}
    expected = {
        # Every request looked in the exact layer; the two exact misses went on to the semantic
        # one (the miss's with no candidate, counted after its response).
        key("prism_cache_lookups_total", **edge_exact): 3,
        key("prism_cache_lookups_total", **edge_semantic): 2,
        key("prism_cache_hits_total", **edge_exact): 1,
        key("prism_cache_hits_total", **edge_semantic): 1,
        key("prism_requests_total", cache_status="hit-exact-edge", mode="balanced"): 1,
        key("prism_requests_total", cache_status="hit-semantic-edge", mode="balanced"): 1,
        # The miss was answered by the origin, which counts its own lookup there.
        key("prism_cache_lookups_total", layer="exact", tier="origin"): 1,
    }
    after = await scrape_until(origin_server, before, expected)
    for (name, labels), wanted in expected.items():
        got = value(after, name, **dict(labels)) - value(before, name, **dict(labels))
        assert got == wanted, (name, labels)
    assert value(after, "prism_cache_hits_total", tier="origin") == value(
        before, "prism_cache_hits_total", tier="origin"
    )
    saved = Decimal(exact.headers["x-prism-cache-saved-cents"]) + Decimal(
        semantic.headers["x-prism-cache-saved-cents"]
    )
    name, edge_saved = "prism_saved_cents_total", {"source": "cache", "tier": "edge"}
    got = value(after, name, **edge_saved) - value(before, name, **edge_saved)
    assert got == pytest.approx(float(saved), rel=1e-9)
    hit_requests = {"status": "200", "task_type": "cache", "cache_status": "hit-exact-edge"}
    assert value(after, "prism_requests_total", **hit_requests) >= 1


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a Redis that hangs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


async def test_a_hanging_redis_costs_the_scrape_its_edge_series_not_the_scrape(
    silent_port: int,
) -> None:
    counters = EdgeCounters(f"redis://127.0.0.1:{silent_port}/0", timeout_s=0.2)
    started = time.monotonic()
    try:
        assert await counters.read() is None
    finally:
        await counters.aclose()
    assert time.monotonic() - started < 2.0
    metrics = Metrics()
    metrics.cache_lookup(layer="exact", hit=True)
    text = metrics.render(None).decode()
    assert 'prism_cache_hits_total{layer="exact",tier="origin"} 1.0' in text
    assert 'tier="edge"' not in text


@pytest.mark.parametrize(
    ("fields", "lookups", "requests"),
    [
        ({"lookups:exact": "4", "lookups:semantic": "2"}, {"exact": 4, "semantic": 2}, {}),
        # Anything else in the hash never becomes a label value: unknown layers, modes,
        # statuses, and values that are not integers.
        ({"lookups:nonsense": "1", "lookups:exact": "x"}, {}, {}),
        ({"requests:balanced:hit-exact-edge": "3"}, {}, {("balanced", "hit-exact-edge"): 3}),
        ({"requests:evil\n:hit-exact-edge": "3", "requests:eco:miss": "1"}, {}, {}),
    ],
)
def test_only_known_fields_become_series(
    fields: dict[str, str], lookups: dict[str, int], requests: dict[tuple[str, str], int]
) -> None:
    counts = parse_counts(fields)
    assert counts.lookups == lookups and counts.requests == requests


def test_edge_series_join_the_origin_families_once() -> None:
    metrics = Metrics()
    metrics.cache_lookup(layer="exact", hit=True)
    counts = parse_counts({"lookups:exact": "5", "hits:exact": "2", "saved_microcents": "1500000"})
    text = metrics.render(counts).decode()
    assert text.count("# TYPE prism_cache_hits_total counter") == 1
    families = {f.name: f for f in text_string_to_metric_families(text)}
    hits = {tuple(sorted(s.labels.items())): s.value for s in families["prism_cache_hits"].samples}
    assert hits[(("layer", "exact"), ("tier", "edge"))] == 2
    assert hits[(("layer", "exact"), ("tier", "origin"))] == 1
    saved = families["prism_saved_cents"].samples
    assert [s.value for s in saved if s.labels.get("tier") == "edge"] == [1.5]
