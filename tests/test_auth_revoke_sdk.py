"""Revoking a key stops it at once at both tiers, as the official openai SDK sees it: the origin
(Hypercorn, real stack) and the edge (Workers Pyodide under Node) in front of it, each of which
had just served the key from its own memory. Whichever way it is revoked: the admin API (as the
CLI does) or a signed-in member's dashboard."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
import redis.asyncio as aioredis

from infra.local.proc import Service
from shared.apikeys import hash_api_key, key_record_name
from tests.fixtures.edge import CacheSeed, EdgeServer, cached_completion, chat
from tests.fixtures.members import Member, new_member
from tests.test_dashboard_http import browser

DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def edge(edge_server: EdgeServer, origin_server: Any, edge_bindings: dict[str, str]) -> Service:
    return edge_server(origin_server.url, **edge_bindings)


@pytest.fixture
async def member(pg: Any) -> Member:
    return await new_member(pg.dsn, "revoke-sdk")


@pytest.fixture
async def clients(
    edge: Service, origin_server: Any, member: Member
) -> AsyncIterator[tuple[openai.AsyncOpenAI, openai.AsyncOpenAI]]:
    at_edge = openai.AsyncOpenAI(base_url=f"{edge.url}/v1", api_key=member.api_key, max_retries=0)
    at_origin = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=member.api_key, max_retries=0
    )
    yield at_edge, at_origin
    await at_edge.close()
    await at_origin.close()


async def record_written(redis: aioredis.Redis, key: str) -> None:
    """Waits (bounded) for the edge's waitUntil to store the key's record in Upstash."""
    deadline = time.monotonic() + DEADLINE_S
    while await redis.get(key_record_name(hash_api_key(key))) is None:
        assert time.monotonic() < deadline, "the edge never stored the key's record"
        await asyncio.sleep(0.05)


async def revoke(via: str, origin_server: Any, member: Member, key_id: Any) -> None:
    async with browser(origin_server.url, timeout=30) as http:
        if via == "admin API":
            token = origin_server.env["PRISM_ADMIN_TOKEN"]
            revoked = await http.delete(
                f"/admin/v1/api_keys/{key_id}", headers={"Authorization": f"Bearer {token}"}
            )
            assert revoked.status_code == 200 and revoked.json()["revoked_at"]
            return
        signed_in = await http.post(
            "/dashboard/login", data={"email": member.email, "password": member.password}
        )
        assert signed_in.status_code == 303
        revoked = await http.post(
            "/dashboard/keys/revoke", data={"project": member.project_id, "key_id": str(key_id)}
        )
        assert revoked.status_code in (200, 303)


@pytest.mark.parametrize("via", ["admin API", "dashboard"])
async def test_a_revoked_key_gets_401_at_the_origin_and_the_edge_on_its_next_request(
    clients: tuple[openai.AsyncOpenAI, openai.AsyncOpenAI],
    origin_server: Any,
    member: Member,
    cache_seed: CacheSeed,
    redis: aioredis.Redis,
    pg: Any,
    via: str,
) -> None:
    at_edge, at_origin = clients
    conn = await pg.connect()
    try:
        key_id = await conn.fetchval(
            "select id from api_keys where key_hash = $1", hash_api_key(member.api_key)
        )
    finally:
        await conn.close()
    body = chat("What is the capital of France?")
    await cache_seed.exact(member.project_id, body, cached_completion("Paris."))

    # Both tiers know the key and keep it in memory: the edge answers the hit itself.
    for _ in range(2):
        reply = await at_edge.chat.completions.with_raw_response.create(**body)
        assert reply.headers["x-prism-cache-status"] == "hit-exact-edge"
        await record_written(redis, member.api_key)
    completion = await at_origin.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello before"}]
    )
    assert completion.choices[0].message.content

    await revoke(via, origin_server, member, key_id)

    with pytest.raises(openai.AuthenticationError) as at_origin_error:
        await at_origin.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello after"}]
        )
    with pytest.raises(openai.AuthenticationError) as at_edge_error:
        await at_edge.chat.completions.create(**body)
    for error in (at_origin_error.value, at_edge_error.value):
        assert error.status_code == 401 and error.code == "invalid_api_key"
    # A request the edge does not answer itself is refused by the origin behind it.
    with pytest.raises(openai.AuthenticationError):
        await at_edge.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "not cached"}]
        )
