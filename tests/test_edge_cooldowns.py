"""A hung backend (frozen, not refusing) costs the edge one request's timeout, not every
request's: the isolate skips a backend that just timed out and sends requests on to the origin
at once, probes it again after the cooldown, and never skips the work that saves a usage row."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest

from edge.backends import REDIS_TIMEOUT_S, VECTOR_TIMEOUT_S
from edge.cooldowns import Cooldowns
from infra.local.proc import free_port
from tests.edge.httpx_client import HttpxClient, TaskBackground
from tests.fixtures.edge import CacheSeed, EdgeDriver, cached_completion, chat
from tests.fixtures.freezable import FreezableProxy

# Far under every timeout a hung backend costs (1 s Redis, 2 s vector, 3 s key lookup), so a
# request that waited on the hang fails the test by a clear margin.
QUICK_S = 0.5
COOLDOWN_S = 1.0


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("edge-cooldowns")


@pytest.fixture
async def redis_proxy(upstash_redis: Any) -> AsyncIterator[FreezableProxy]:
    async with FreezableProxy(upstash_redis.url).running() as proxy:
        yield proxy


@pytest.fixture
async def vector_proxy(upstash_vector: Any) -> AsyncIterator[FreezableProxy]:
    async with FreezableProxy(upstash_vector.url).running() as proxy:
        yield proxy


async def timed_send(edge: EdgeDriver, key: str, body: dict[str, Any]) -> tuple[float, Any]:
    began = time.monotonic()
    response = await edge.send(key, body)
    return time.monotonic() - began, response


async def test_a_hung_redis_costs_one_request_its_timeout_then_is_probed_again(
    http: HttpxClient,
    edge_bindings: dict[str, str],
    edge_upstream: str,
    redis_proxy: FreezableProxy,
    project: Any,
    cache_seed: CacheSeed,
) -> None:
    env = {**edge_bindings, "ORIGIN_URL": edge_upstream, "UPSTASH_REDIS_REST_URL": redis_proxy.url}
    edge = EdgeDriver(http, env, Cooldowns(COOLDOWN_S))
    body = chat(f"A cached question {uuid.uuid4().hex}")
    await cache_seed.exact(project.id, body, cached_completion("From the cache."))
    warm = await edge.send(project.api_key, body)
    assert warm.header("x-prism-cache-status") == "hit-exact-edge"

    redis_proxy.freeze()
    waited, first = await timed_send(edge, project.api_key, body)
    assert waited >= REDIS_TIMEOUT_S and first.status == 200
    assert first.header("x-prism-cache-status") is None  # the origin answered
    for _ in range(3):
        elapsed, response = await timed_send(edge, project.api_key, body)
        assert elapsed < QUICK_S, "a request waited on the Redis that just hung"
        assert response.status == 200 and response.header("x-prism-cache-status") is None

    redis_proxy.thaw()
    await asyncio.sleep(COOLDOWN_S)
    probe = await edge.send(project.api_key, body)
    assert probe.header("x-prism-cache-status") == "hit-exact-edge"


async def test_a_hung_vector_index_leaves_exact_hits_and_skips_semantic_lookups(
    http: HttpxClient,
    edge_bindings: dict[str, str],
    edge_upstream: str,
    vector_proxy: FreezableProxy,
    project: Any,
    cache_seed: CacheSeed,
) -> None:
    env = {
        **edge_bindings,
        "ORIGIN_URL": edge_upstream,
        "UPSTASH_VECTOR_REST_URL": vector_proxy.url,
    }
    edge = EdgeDriver(http, env, Cooldowns(COOLDOWN_S))
    stored = chat(f"What is the capital of France? {uuid.uuid4().hex}")
    await cache_seed.exact(project.id, stored, cached_completion("Paris."))
    vector_proxy.freeze()
    waited, first = await timed_send(edge, project.api_key, chat("Which city do I visit first?"))
    assert waited >= VECTOR_TIMEOUT_S and first.status == 200
    for n in range(3):
        elapsed, response = await timed_send(edge, project.api_key, chat(f"Question {n} here?"))
        assert elapsed < QUICK_S, "a request waited on the vector index that just hung"
        assert response.status == 200 and response.header("x-prism-cache-status") is None
    hit = await edge.send(project.api_key, stored)
    assert hit.header("x-prism-cache-status") == "hit-exact-edge"


async def test_a_key_lookup_that_hung_sends_unknown_keys_to_the_origin_at_once(
    http: HttpxClient,
    edge_bindings: dict[str, str],
    edge_upstream: str,
    postgrest_proxy: FreezableProxy,
) -> None:
    env = {**edge_bindings, "ORIGIN_URL": edge_upstream, "SUPABASE_URL": postgrest_proxy.url}
    edge = EdgeDriver(http, env, Cooldowns(COOLDOWN_S))
    postgrest_proxy.freeze()
    # Keys the isolate has never seen: each needs Supabase, which hangs; the origin decides.
    waited, first = await timed_send(edge, f"prism_sk_{uuid.uuid4().hex}", chat("Hello?"))
    assert waited >= 3.0 and first.status == 200
    for _ in range(3):
        elapsed, response = await timed_send(edge, f"prism_sk_{uuid.uuid4().hex}", chat("Hi?"))
        assert elapsed < QUICK_S, "a request waited on the key lookup that just hung"
        assert response.status == 200  # forwarded: the stand-in origin echoes it


class TripsRedisFirst(TaskBackground):
    """After-the-response work that starts just after another request saw Redis hang."""

    def __init__(self, cooldowns: Cooldowns) -> None:
        super().__init__()
        self.cooldowns = cooldowns

    def wait_until(self, work: Coroutine[Any, Any, object]) -> None:
        async def after_a_timeout() -> object:
            self.cooldowns.redis.failed()
            return await work

        super().wait_until(after_a_timeout())


async def test_a_hits_row_is_queued_even_while_redis_is_being_skipped(
    http: HttpxClient,
    edge_bindings: dict[str, str],
    edge_upstream: str,
    project: Any,
    cache_seed: CacheSeed,
    origin_server: Any,
) -> None:
    # Supabase refuses, so the row's one way in is the Redis queue the running origin drains.
    env = {**edge_bindings, "ORIGIN_URL": edge_upstream}
    body = chat(f"Queue me while Redis cools down {uuid.uuid4().hex}")
    await cache_seed.exact(project.id, body, cached_completion("queued"))
    warm = EdgeDriver(http, env)
    await warm.send(project.api_key, chat(uuid.uuid4().hex))  # the key is known from here on
    cooldowns = Cooldowns(60.0)
    cut_off = EdgeDriver(http, {**env, "SUPABASE_URL": f"http://127.0.0.1:{free_port()}"})
    cut_off.callers, cut_off.cooldowns = warm.callers, cooldowns
    cut_off.background = TripsRedisFirst(cooldowns)
    response = await cut_off.send(project.api_key, body)
    assert response.header("x-prism-cache-status") == "hit-exact-edge"
    assert cooldowns.redis.skip()  # requests now skip Redis; the row's queue push did not
    [row] = await origin_server.rows(project.id, expect=1)
    assert row["request_id"] == response.header("x-prism-request-id")
