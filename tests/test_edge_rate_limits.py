"""Cache hits at the edge count against the origin's rate limits, in one Upstash round trip,
in the very Redis keys the origin counts its own requests into."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from edge.web import read_body
from shared.apikeys import generate_api_key
from shared.limits import limit_keys, limits_config_key
from tests.edge.httpx_client import HttpxClient
from tests.fixtures.edge import CacheSeed, EdgeDriver, cached_completion, chat


@pytest.fixture
def env(edge_bindings: dict[str, str], edge_upstream: str) -> dict[str, str]:
    return {"ORIGIN_URL": edge_upstream, **edge_bindings}


async def publish(redis: aioredis.Redis, project_id: str, project: list[int]) -> None:
    """What the origin publishes when it loads a project's policy."""
    config = {"project": project, "keys": {}}
    await redis.set(limits_config_key(project_id), json.dumps(config))


async def test_hits_count_against_the_project_limit_then_429(
    http: HttpxClient,
    env: dict[str, str],
    make_project: Any,
    cache_seed: CacheSeed,
    redis: aioredis.Redis,
    pg: Any,
) -> None:
    project = await make_project("edge-limits")
    if time.time() % 60 > 50:  # all three requests inside one minute window
        await asyncio.sleep(61 - time.time() % 60)
    await publish(redis, project.id, [2, 0, 0, 0])
    body = chat(f"limited {uuid.uuid4().hex}")
    await cache_seed.exact(project.id, body, cached_completion("Cached."))
    edge = EdgeDriver(http, env)
    first, second, third = [await edge.send(project.api_key, body) for _ in range(3)]
    assert first.status == second.status == 200
    assert second.header("x-prism-cache-status") == "hit-exact-edge"
    assert second.header("x-ratelimit-limit-requests") == "2"
    assert second.header("x-ratelimit-remaining-requests") == "0"
    assert third.status == 429
    error = json.loads(await read_body(third.body))["error"]
    assert (
        error["code"] == "rate_limited"
        and "requests per minute of this project" in error["message"]
    )
    assert 1 <= int(third.header("retry-after") or 0) <= 60
    refused_id = third.header("x-prism-request-id")
    # The origin's counter, under the shared key, holds both hits.
    counter = limit_keys(project.id, None, datetime.now(UTC))[4]
    assert await redis.get(counter) == "2"
    conn = await pg.connect()
    try:
        codes = await conn.fetch(
            "select request_id, error_code from usage_logs where project_id = $1", project.id
        )
    finally:
        await conn.close()
    assert sorted(str(r["error_code"]) for r in codes) == ["None", "None", "rate_limited"]
    # The 429 names its row, as every answer does.
    assert [r["request_id"] for r in codes if r["error_code"]] == [refused_id]


async def test_hits_are_served_uncounted_when_no_limits_were_published(
    http: HttpxClient, env: dict[str, str], make_project: Any, cache_seed: CacheSeed
) -> None:
    project = await make_project("edge-nolimits")
    body = chat(f"free {uuid.uuid4().hex}")
    await cache_seed.exact(project.id, body, cached_completion("Cached."))
    response = await EdgeDriver(http, env).send(project.api_key, body)
    assert response.status == 200 and response.header("x-ratelimit-limit-requests") is None


async def test_an_address_sending_bad_keys_is_slowed_down_at_the_edge(
    http: HttpxClient, env: dict[str, str], make_project: Any, cache_seed: CacheSeed
) -> None:
    project = await make_project("edge-abuse")
    address = {"CF-Connecting-IP": f"198.51.100.{uuid.uuid4().int % 250}:{uuid.uuid4().hex[:6]}"}
    body = chat(f"abuse {uuid.uuid4().hex}")
    await cache_seed.exact(project.id, body, cached_completion("Cached."))
    edge = EdgeDriver(http, env)
    if time.time() % 60 > 45:  # the whole flood inside one minute window
        await asyncio.sleep(61 - time.time() % 60)
    assert (await edge.send(project.api_key, body, address)).status == 200
    statuses = [(await edge.send(generate_api_key(), body, address)).status for _ in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    refused = await edge.send(generate_api_key(), body, address)
    error = json.loads(await read_body(refused.body))["error"]
    assert refused.status == 429 and error["code"] == "rate_limited"
    assert "invalid API keys from this address" in error["message"]
    # The key this isolate knows to be good still works from the same address.
    assert (await edge.send(project.api_key, body, address)).status == 200
    other = {"CF-Connecting-IP": "192.0.2.1"}
    assert (await edge.send(generate_api_key(), body, other)).status == 401
