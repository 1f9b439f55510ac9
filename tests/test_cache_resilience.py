"""A sick cache never fails a request: Redis or the vector index down or hanging means the
provider answers, the receipt says `bypass`, and the bypass is counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from infra.local.proc import free_port
from tests.fixtures.origin import OriginHandle, start_origin
from tests.test_cache_helpers import chat, chat_body, content, stats, wait_cached


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers: a hung backend."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # until the client gives up

    port = free_port()
    server = await asyncio.start_server(hold, "127.0.0.1", port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


@asynccontextmanager
async def origin_with(base: OriginHandle, tmp_path: Any, **env: str) -> AsyncIterator[OriginHandle]:
    service = await asyncio.to_thread(start_origin, {**base.env, **env}, tmp_path)
    try:
        yield OriginHandle(service, {**base.env, **env}, base.dsn)
    finally:
        await asyncio.to_thread(service.stop)


async def cooled_down(origin: OriginHandle) -> None:
    """Wait out the breaker, so later tests meet a healthy cache (bounded)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = await stats(origin)
        if not now["redis_cooling_down"] and not now["vector_cooling_down"]:
            return
        await asyncio.sleep(0.1)


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("resilience")


async def test_redis_down_requests_are_answered_as_bypass(
    origin_server, project, sim, redis_outage
):
    before = await stats(origin_server)
    body = chat_body("Is the cache down?")
    with redis_outage():
        for streamed in (False, True):
            response = await chat(origin_server, project, {**body, "stream": streamed})
            assert response.status_code == 200
            assert response.headers["x-prism-cache-status"] == "bypass"
    after = await stats(origin_server)
    assert after["bypass_redis"] >= before["bypass_redis"] + 2
    assert len(sim.requests()) == 2
    rows = await origin_server.rows(project.id, expect=2)
    assert [r["cache_status"] for r in rows] == ["bypass", "bypass"]
    assert all(r["provider"] == "openai" and r["success"] for r in rows)
    await cooled_down(origin_server)


async def test_cache_works_again_after_redis_comes_back(
    origin_server, project, sim, redis_outage, redis_server
):
    with redis_outage():
        await chat(origin_server, project, chat_body("before the restart"))
    await cooled_down(origin_server)
    body = chat_body("after the restart")
    assert (await chat(origin_server, project, body)).headers["x-prism-cache-status"] == "miss"
    await wait_cached(redis_server.url, project.id)
    assert (await chat(origin_server, project, body)).headers["x-prism-cache-status"] == "hit-exact"


async def test_hung_redis_and_vector_index_cost_a_bypass_not_an_error(
    origin_server, project, sim, tmp_path
):
    async with (
        silent_server() as redis_addr,
        silent_server() as vector_addr,
        origin_with(
            origin_server,
            tmp_path,
            REDIS_URL=f"redis://{redis_addr}/0",
            UPSTASH_VECTOR_REST_URL=f"http://{vector_addr}",
        ) as sick,
    ):
        for text in ("first question", "second question"):
            response = await chat(sick, project, chat_body(text))
            assert response.status_code == 200 and text in content(response)
            assert response.headers["x-prism-cache-status"] == "bypass"
        counters = await stats(sick)
        assert counters["bypass_redis"] == 2 and counters["hits_exact"] == 0


async def test_vector_index_hung_then_down_exact_layer_keeps_working(
    origin_server, project, sim, redis_server, tmp_path
):
    body = chat_body("Which planet is largest?")
    hung_index = silent_server()
    address = await hung_index.__aenter__()
    async with origin_with(
        origin_server,
        tmp_path,
        PRISM_CACHE_COOLDOWN_MS="0",
        UPSTASH_VECTOR_REST_URL=f"http://{address}",
    ) as sick:
        try:
            hung = await chat(sick, project, body)
            assert hung.status_code == 200
            assert hung.headers["x-prism-cache-status"] == "bypass"
            await wait_cached(redis_server.url, project.id)
            # The exact layer answers before the vector index is ever asked.
            assert (await chat(sick, project, body)).headers["x-prism-cache-status"] == "hit-exact"
        finally:
            await hung_index.__aexit__(None, None, None)
        # Nothing listens where the index was any more: refused instead of hung.
        refused = await chat(sick, project, chat_body("Which planet is smallest?"))
        assert refused.status_code == 200
        assert refused.headers["x-prism-cache-status"] == "bypass"
        counters = await stats(sick)
        assert counters["bypass_vector"] == 2 and counters["bypass_redis"] == 0
        assert counters["hits_exact"] == 1
