"""Contract tests: the official upstash-redis clients against our REST stand-in and real redis."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from upstash_redis import Redis as SyncRedis
from upstash_redis.asyncio import Redis
from upstash_redis.errors import UpstashError

from infra.local.proc import free_port
from infra.local.redis_server import RedisServer
from tests.fixtures.upstash import RestEndpoint


@pytest.fixture
async def redis(upstash_redis: RestEndpoint) -> AsyncIterator[Redis]:
    client = Redis(url=upstash_redis.url, token=upstash_redis.token, allow_telemetry=False)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def http(upstash_redis: RestEndpoint) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {upstash_redis.token}"}
    async with httpx.AsyncClient(base_url=upstash_redis.url, headers=headers) as client:
        yield client


@pytest.fixture
def key() -> Callable[[str], str]:
    """Per-test key names: the redis-server is shared by the whole session."""
    prefix = f"t:{uuid.uuid4().hex}:"
    return lambda name: prefix + name


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "välue ✓ 漢字 🎉",
        "line\nbreak\ttab",
        "\x00\x01 nul and control",
        '{"json": [1, 2]}',
        "",
    ],
)
async def test_set_get_roundtrip(redis: Redis, key: Callable[[str], str], value: str) -> None:
    assert await redis.set(key("k"), value) is True
    assert await redis.get(key("k")) == value


async def test_set_with_expiry_and_ttl(redis: Redis, key: Callable[[str], str]) -> None:
    assert await redis.set(key("k"), "v", ex=100) is True
    assert 0 < await redis.ttl(key("k")) <= 100
    assert await redis.ttl(key("missing")) == -2


async def test_missing_key_is_none(redis: Redis, key: Callable[[str], str]) -> None:
    assert await redis.get(key("missing")) is None


async def test_incr_returns_integers(redis: Redis, key: Callable[[str], str]) -> None:
    assert await redis.incr(key("n")) == 1
    assert await redis.incrby(key("n"), 41) == 42


async def test_hash_with_unicode_and_binaryish_values(
    redis: Redis, key: Callable[[str], str]
) -> None:
    values = {"name": "Zoë", "emoji": "🎉", "ctrl": "\x00\x7f", "num": "12"}
    assert await redis.hset(key("h"), values=values) == 4
    assert await redis.hgetall(key("h")) == values
    assert await redis.hincrby(key("h"), "num", 3) == 15
    assert await redis.hget(key("h"), "absent") is None


async def test_list_as_durable_queue(redis: Redis, key: Callable[[str], str]) -> None:
    assert await redis.lpush(key("q"), "job1", "job2", "job3") == 3
    assert await redis.lrange(key("q"), 0, -1) == ["job3", "job2", "job1"]
    assert await redis.rpop(key("q")) == "job1"
    assert await redis.rpop(key("q"), 5) == ["job2", "job3"]
    assert await redis.rpop(key("q")) is None


async def test_pipeline_returns_each_result(redis: Redis, key: Callable[[str], str]) -> None:
    pipe = redis.pipeline()
    pipe.set(key("p"), "x")
    pipe.get(key("p"))
    pipe.incr(key("c"))
    pipe.incrby(key("c"), 4)
    pipe.get(key("nothing"))
    assert await pipe.exec() == [True, "x", 1, 5, None]


async def test_transaction(redis: Redis, key: Callable[[str], str]) -> None:
    tx = redis.multi()
    tx.set(key("t"), "1")
    tx.incr(key("t"))
    tx.expire(key("t"), 60)
    assert await tx.exec() == [True, 2, True]


@pytest.mark.parametrize(
    ("setup", "command", "message"),
    [
        ("v", lambda r, k: r.incr(k), "ERR value is not an integer or out of range"),
        (None, lambda r, k: r.execute(["NOSUCHCOMMAND", k]), "ERR unknown command"),
        ("v", lambda r, k: r.lpush(k, "x"), "WRONGTYPE Operation against a key"),
    ],
)
async def test_redis_errors_raise_upstash_error(
    redis: Redis, key: Callable[[str], str], setup: str | None, command: Any, message: str
) -> None:
    if setup is not None:
        await redis.set(key("e"), setup)
    with pytest.raises(UpstashError, match=f"^{message}"):
        await command(redis, key("e"))


async def test_bad_token_is_rejected(upstash_redis: RestEndpoint) -> None:
    client = Redis(url=upstash_redis.url, token="wrong", allow_telemetry=False)
    try:
        with pytest.raises(UpstashError, match="Unauthorized"):
            await client.get("anything")
    finally:
        await client.close()


def test_sync_client(upstash_redis: RestEndpoint, key: Callable[[str], str]) -> None:
    with SyncRedis(url=upstash_redis.url, token=upstash_redis.token, allow_telemetry=False) as r:
        assert r.set(key("s"), "sync ✓", ex=30) is True
        assert r.get(key("s")) == "sync ✓"
        assert r.exists(key("s"), key("nope")) == 1


# ---- the wire format, as the edge's fetch-based client sees it ---------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({}, 401, {"error": "Unauthorized"}),
        ({"Authorization": "Bearer nope"}, 401, {"error": "Unauthorized"}),
        ({"Authorization": "Basic x"}, 401, {"error": "Unauthorized"}),
    ],
)
async def test_auth_wire_format(
    upstash_redis: RestEndpoint, headers: dict[str, str], status: int, body: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=upstash_redis.url) as client:
        response = await client.post("/", json=["PING"], headers=headers)
    assert (response.status_code, response.json()) == (status, body)


async def test_results_without_encoding_are_plain_json(
    http: httpx.AsyncClient, key: Callable[[str], str]
) -> None:
    await http.post("/", json=["RPUSH", key("l"), "a", "ü"])
    response = await http.post("/", json=["LRANGE", key("l"), "0", "-1"])
    assert response.json() == {"result": ["a", "ü"]}
    assert (await http.post("/", json=["LLEN", key("l")])).json() == {"result": 2}


async def test_base64_encoding_is_binary_safe(
    http: httpx.AsyncClient, key: Callable[[str], str]
) -> None:
    raw = bytes(range(256))
    # Path form with the value as the raw request body: the only way to send non-UTF-8 bytes.
    assert (await http.post(f"/set/{key('bin')}", content=raw)).json() == {"result": "OK"}
    response = await http.post(
        "/", json=["GET", key("bin")], headers={"Upstash-Encoding": "base64"}
    )
    assert base64.b64decode(response.json()["result"]) == raw


async def test_path_form_with_query_options(
    http: httpx.AsyncClient, key: Callable[[str], str]
) -> None:
    assert (await http.get(f"/set/{key('p')}/hello%20world?EX=100")).json() == {"result": "OK"}
    assert (await http.get(f"/get/{key('p')}")).json() == {"result": "hello world"}
    assert 0 < (await http.get(f"/ttl/{key('p')}")).json()["result"] <= 100


async def test_pipeline_wire_format_mixes_results_and_errors(
    http: httpx.AsyncClient, key: Callable[[str], str]
) -> None:
    body = [["SET", key("w"), "v"], ["INCR", key("w")], ["GET", key("w")]]
    response = await http.post("/pipeline", json=body)
    assert response.status_code == 200
    assert response.json() == [
        {"result": "OK"},
        {"error": "ERR value is not an integer or out of range"},
        {"result": "v"},
    ]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/", ["GET"], 400),
        ("/", [], 400),
        ("/", {"not": "an array"}, 400),
        ("/", ["MULTI"], 400),
        ("/pipeline", [], 400),
        ("/pipeline", ["GET", "k"], 400),
    ],
)
async def test_bad_requests_get_json_errors(
    http: httpx.AsyncClient, path: str, body: Any, status: int
) -> None:
    response = await http.post(path, json=body)
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)


async def test_redis_outage_is_a_5xx_and_service_recovers(
    redis: Redis,
    http: httpx.AsyncClient,
    key: Callable[[str], str],
    redis_outage: Callable[[], AbstractContextManager[None]],
) -> None:
    assert await redis.set(key("before"), "1") is True
    with redis_outage():
        response = await http.post("/", json=["GET", key("before")])
        assert response.status_code >= 500
        assert "error" in response.json()
        with pytest.raises(UpstashError):
            await redis.get(key("before"))
    assert await redis.set(key("after"), "2") is True
    assert await redis.get(key("after")) == "2"


# ---- the redis-server runner itself --------------------------------------------------------------


@pytest.mark.parametrize(("persist", "survives"), [(True, True), (False, False)])
async def test_redis_server_persistence(tmp_path: Path, persist: bool, survives: bool) -> None:
    server = RedisServer(free_port(), tmp_path, persist=persist).start()
    try:
        client = aioredis.Redis.from_url(server.url)
        await client.set("k", "v")
        await client.aclose()
        server.stop()
        assert not server.running
        server.start()
        client = aioredis.Redis.from_url(server.url)
        assert (await client.get("k") == b"v") is survives
        await client.aclose()
    finally:
        server.stop()


async def test_eval_and_evalsha_run_scripts_like_the_hosted_api(redis: Redis) -> None:
    # The edge enforces rate limits with one EVALSHA (EVAL after a script flush) per hit.
    key = f"counter:{uuid.uuid4().hex}"
    script = "return {redis.call('INCRBY', KEYS[1], ARGV[1]), ARGV[2]}"
    assert await redis.eval(script, keys=[key], args=["5", "five"]) == [5, "five"]
    sha = await redis.script_load(script)
    assert await redis.evalsha(sha, keys=[key], args=["2", "two"]) == [7, "two"]
    with pytest.raises(UpstashError, match="NOSCRIPT"):
        await redis.evalsha("0" * 40, keys=[key], args=["1", "x"])
    with pytest.raises(UpstashError, match="ERR"):
        await redis.eval("return redis.call('NOPE')", keys=[], args=[])
