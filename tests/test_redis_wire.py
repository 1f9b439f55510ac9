"""The request path's Redis connection (origin.redis_wire) against a real redis-server: replies
meet their own commands however callers interleave, give up or fail, and a lost connection
is reopened."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from origin.redis_wire import RedisWire


@pytest.fixture
async def wire(redis_server: Any) -> Any:
    client = RedisWire(redis_server.url)
    yield client
    await client.aclose()


def key() -> str:
    return f"test:wire:{uuid.uuid4().hex}"


async def test_many_concurrent_callers_each_get_their_own_reply(wire: RedisWire) -> None:
    keys = [key() for _ in range(300)]
    await wire.pipeline([("SET", k, f"value-{i}".encode()) for i, k in enumerate(keys)])
    replies = await asyncio.gather(*(wire.call("GET", k) for k in keys))
    assert replies == [f"value-{i}".encode() for i in range(len(keys))]


async def test_a_pipeline_answers_in_order_with_every_type(wire: RedisWire) -> None:
    k, s = key(), key()
    replies = await wire.pipeline(
        [
            ("SET", k, b"\x00binary\r\n", "EX", 60),
            ("GET", k),
            ("SADD", s, "a", "b"),
            ("EXPIRE", s, 60, "NX"),
            ("GET", key()),
        ]
    )
    assert replies == [b"OK", b"\x00binary\r\n", 2, 1, None]


async def test_a_caller_that_gives_up_does_not_shift_later_replies(wire: RedisWire) -> None:
    k = key()
    await wire.call("SET", k, b"mine")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await wire.call("BLPOP", key(), "0.3")  # answers nil after 0.3 s, long after
    assert await wire.call("GET", k) == b"mine"
    assert await wire.call("GET", k) == b"mine"


async def test_an_error_reply_is_a_response_error_and_the_next_command_is_fine(
    wire: RedisWire,
) -> None:
    k = key()
    await wire.call("SET", k, b"text")
    with pytest.raises(ResponseError):
        await wire.call("INCR", k)
    assert await wire.call("GET", k) == b"text"


async def test_a_killed_connection_fails_what_was_in_flight_and_is_reopened(
    wire: RedisWire, redis_server: Any
) -> None:
    k = key()
    await wire.call("SET", k, b"kept")
    my_id = await wire.call("CLIENT", "ID")
    waiting = asyncio.ensure_future(wire.call("BLPOP", key(), "5"))
    await asyncio.sleep(0.05)
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await admin.client_kill_filter(_id=my_id) == 1
    finally:
        await admin.aclose()
    with pytest.raises(RedisConnectionError):
        await waiting  # the cache reads this as a bypass
    assert await wire.call("GET", k) == b"kept"
    assert await wire.call("CLIENT", "ID") != my_id


async def _get_on_a_late_loop(url: str) -> tuple[Any, float]:
    """A GET whose reply Redis sends at once, on a loop that is busy past the deadline: the
    value and how long the call took."""
    wire = RedisWire(url)
    try:
        k = key()
        await wire.call("SET", k, b"answered")
        # Runs right after the GET is written: the worker is busy for twice the deadline.
        asyncio.get_running_loop().call_soon(time.sleep, 0.1)
        started = time.perf_counter()
        value = await wire.call_within(0.05, "GET", k)
        return value, time.perf_counter() - started
    finally:
        await wire.aclose()


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_a_reply_that_came_in_time_counts_though_the_loop_ran_late(
    redis_server: Any, run: Any
) -> None:
    # Under load the loop checks its timers before reading the reply waiting in its socket;
    # a lookup Redis answered in time must not turn into a cache bypass.
    value, waited = run(_get_on_a_late_loop(redis_server.url))
    assert value == b"answered"
    assert waited >= 0.1


async def test_no_reply_by_the_deadline_is_a_timeout_and_later_replies_stay_in_order(
    wire: RedisWire,
) -> None:
    k = key()
    await wire.call("SET", k, b"mine")
    with pytest.raises(TimeoutError):
        await wire.call_within(0.05, "BLPOP", key(), "0.3")  # answers nil after 0.3 s
    assert await wire.call_within(1.0, "GET", k) == b"mine"
    assert await wire.call("GET", k) == b"mine"


async def test_a_later_write_lands_before_the_next_command_that_follows_it(
    wire: RedisWire,
) -> None:
    # A miss's store is sent later; the next lookup of the same key must still see it.
    k = key()
    stored = asyncio.ensure_future(wire.pipeline([("SET", k, b"stored")], later=True))
    await asyncio.sleep(0)  # the store is sent and held, nothing written yet
    assert await wire.call("GET", k) == b"stored"
    assert await stored == [b"OK"]


async def test_a_later_write_with_nothing_after_it_lands_on_its_own(
    wire: RedisWire, redis_server: Any
) -> None:
    k = key()
    assert await wire.pipeline([("SET", k, b"alone"), ("EXPIRE", k, 60)], later=True) == [
        b"OK",
        1,
    ]
    plain = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await plain.get(k) == b"alone"
    finally:
        await plain.aclose()


async def test_closing_writes_what_is_held(redis_server: Any) -> None:
    k, wire = key(), RedisWire(redis_server.url)
    await wire.call("PING")
    held = asyncio.ensure_future(wire.pipeline([("SET", k, b"flushed")], later=True))
    await asyncio.sleep(0)
    await wire.aclose()
    held.cancel()
    plain = aioredis.Redis.from_url(redis_server.url)
    try:
        for _ in range(100):  # written at close; Redis applies it as it reads
            if await plain.get(k) == b"flushed":
                break
            await asyncio.sleep(0.01)
        assert await plain.get(k) == b"flushed"
    finally:
        await plain.aclose()


async def test_the_database_in_the_url_is_selected(redis_server: Any) -> None:
    # Read as redis-py reads it ("/0/7" is database 7 there too): both clients agree.
    k, seven = key(), f"{redis_server.url}/7"
    wire, plain = RedisWire(seven), aioredis.Redis.from_url(seven)
    try:
        await wire.call("SET", k, b"in-seven")
        assert await plain.get(k) == b"in-seven"
    finally:
        await wire.aclose()
        await plain.aclose()


async def test_nothing_listens_so_connecting_fails_with_a_connection_error() -> None:
    wire = RedisWire("redis://127.0.0.1:1", connect_timeout_s=1)
    with pytest.raises(RedisConnectionError):
        await wire.call("PING")
    await wire.aclose()


def test_under_uvloop_as_prism_serve_runs_it(redis_server: Any) -> None:
    """uvloop's transports are not asyncio's classes: the same exchange on its loop."""

    async def exchange() -> list[Any]:
        wire = RedisWire(redis_server.url)
        try:
            k = key()
            await wire.call("SET", k, b"uv")
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await wire.call("BLPOP", key(), "0.2")
            return [*await asyncio.gather(*(wire.call("GET", k) for _ in range(50)))]
        finally:
            await wire.aclose()

    assert uvloop.run(exchange()) == [b"uv"] * 50
