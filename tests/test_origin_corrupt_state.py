"""State at rest that Prism did not write as it reads it: a session's memory or a cached
answer in Redis holding garbage, another type or JSON of another shape. Each is treated as
absent (no memory, a cache miss), never a 500, and every request keeps exactly one usage row.
Real origin under Hypercorn, real Redis (corrupted by writing to it directly), the simulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from origin.gateway.memory import session_key
from shared.cache_entry import exact_key
from shared.fingerprint import fingerprint
from tests.test_cache_helpers import chat, chat_body
from tests.test_gateway_memory import remembered

Corrupt = Callable[[aioredis.Redis, str], Awaitable[Any]]


def value(raw: bytes) -> Corrupt:
    return lambda redis, key: redis.set(key, raw)


def a_hash(redis: aioredis.Redis, key: str) -> Awaitable[Any]:
    return redis.hset(key, "turns", "[]")


MEMORY = [
    pytest.param(value(b"\x00\xffnot json"), id="garbage-bytes"),
    pytest.param(value(b'[[{"role": "user", "content": "trunc'), id="truncated-json"),
    pytest.param(value(b'{"turns": []}'), id="object-not-list"),
    pytest.param(value(b"[1, 2, 3]"), id="numbers-as-turns"),
    pytest.param(value(b'["hello"]'), id="string-as-turn"),
    pytest.param(value(b'[{"role": "user", "content": "hi"}]'), id="message-as-turn"),
    pytest.param(value(b"[[42]]"), id="number-as-message"),
    pytest.param(value(b'[[{"role": "user", "content": 42}]]'), id="number-as-content"),
    pytest.param(value(b'[[{"content": "no role"}]]'), id="message-without-role"),
    pytest.param(value(b"[[" * 300 + b"]]" * 300), id="too-deep"),
    pytest.param(a_hash, id="wrong-type"),
]


async def corrupted(redis_url: str, key: str, corrupt: Corrupt) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await redis.delete(key)
        await corrupt(redis, key)
    finally:
        await redis.aclose()


async def stream_text(origin: Any, project: Any, body: dict[str, Any], **headers: str) -> str:
    sent = {"authorization": f"Bearer {project.api_key}", **headers}
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream(
            "POST", f"{origin.base_url}/chat/completions", json=body, headers=sent
        ) as response,
    ):
        text = (await response.aread()).decode()
    assert response.status_code == 200, text
    return text


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("corrupt-state")


@pytest.fixture(params=[False, True], ids=["whole", "stream"])
def streamed(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.mark.parametrize("corrupt", MEMORY)
async def test_corrupt_session_memory_is_no_memory(
    origin_server: Any, project: Any, sim: Any, redis_server: Any, corrupt: Corrupt, streamed: bool
) -> None:
    key = session_key(project.id, "s-1")
    await corrupted(redis_server.url, key, corrupt)
    headers = {"X-Prism-Session": "s-1", "X-Prism-Memory": "on"}
    body = chat_body("what did I say?", stream=streamed)
    if streamed:
        assert "data: [DONE]" in await stream_text(origin_server, project, body, **headers)
    else:
        response = await chat(origin_server, project, body, **headers)
        assert response.status_code == 200, response.text
    # The request went out with its own messages only: nothing of the corrupt value.
    assert sim.requests("openai")[-1]["body"]["messages"] == body["messages"]
    (row,) = await origin_server.rows(project.id, expect=1)
    assert row["success"] and row["error_code"] is None
    log = origin_server.service.log_path.read_text(errors="replace")
    assert "session memory unreadable, starting it afresh" in log
    # The answer started the conversation afresh over the corrupt value.
    await remembered(redis_server.url, project.id, "s-1", 1)
    redis = aioredis.Redis.from_url(redis_server.url)
    try:
        assert orjson.loads(await redis.get(key))[0][0] == body["messages"][0]
    finally:
        await redis.aclose()


def entry(usage: Any = None, **response: Any) -> bytes:
    """A stored entry (shared.cache_entry) whose answer is `response`."""
    usage = usage or {"prompt_tokens": 5, "completion_tokens": 3}
    stored = {"v": 1, "model": "gpt-4o-mini", "provider": "openai", "created_at": 1.0}
    return orjson.dumps({**stored, "response": response, "usage": usage})


def choices(*given: Any) -> bytes:
    return entry(object="chat.completion", model="gpt-4o-mini", choices=list(given))


def said(**message: Any) -> bytes:
    return choices({"index": 0, "message": message, "finish_reason": "stop"})


CACHE = [
    pytest.param(value(b"\x00\xffnot json"), id="garbage-bytes"),
    pytest.param(value(said(role="assistant", content="hi")[:40]), id="truncated"),
    pytest.param(value(said(content="hi").replace(b'"v":1', b'"v":0')), id="older-version"),
    pytest.param(value(entry(choices="stop")), id="choices-a-string"),
    pytest.param(value(choices("stop")), id="choice-a-string"),
    pytest.param(value(choices({"message": "hi", "finish_reason": "stop"})), id="message-a-string"),
    pytest.param(value(said(content=42)), id="content-a-number"),
    pytest.param(value(said(content="hi", tool_calls="x")), id="tool-calls-a-string"),
    pytest.param(value(said(content="hi", tool_calls=[5])), id="tool-call-a-number"),
    pytest.param(value(choices()), id="no-choices"),
    pytest.param(
        value(choices({"message": {"content": "cut"}, "finish_reason": "length"})), id="cut-answer"
    ),
    pytest.param(
        value(entry({"prompt_tokens": -5}, choices=[{"message": {}, "finish_reason": "stop"}])),
        id="negative-usage",
    ),
    pytest.param(a_hash, id="wrong-type"),
]


@pytest.mark.parametrize("corrupt", CACHE)
async def test_a_corrupt_cache_entry_is_a_miss(
    origin_server: Any, project: Any, sim: Any, redis_server: Any, corrupt: Corrupt, streamed: bool
) -> None:
    body = chat_body("Which river flows through Vienna?", stream=streamed)
    await corrupted(redis_server.url, exact_key(project.id, fingerprint(project.id, body)), corrupt)
    if streamed:
        text = await stream_text(origin_server, project, body)
        assert "data: [DONE]" in text and '"error"' not in text
    else:
        response = await chat(origin_server, project, body)
        assert response.status_code == 200, response.text
        assert response.headers["x-prism-cache-status"] == "miss"
    assert len(sim.requests("openai")) == 1  # answered by the provider
    (row,) = await origin_server.rows(project.id, expect=1)
    assert row["success"] and row["cache_status"] == "miss"
    log = origin_server.service.log_path.read_text(errors="replace")
    assert f"unreadable cache entry prism:exact:{project.id}:" in log


async def stored_key(pg: Any, project: Any, provider: str, ciphertext: str) -> None:
    """A provider key row written by something other than this origin (another master key, a
    hand-edited row)."""
    conn = await pg.connect()
    try:
        await conn.execute(
            "INSERT INTO provider_keys (project_id, provider, name, ciphertext) VALUES ($1, $2, $2, $3)",
            project.id,
            provider,
            ciphertext,
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "ciphertext",
    ["not base64 at all", "djE6" + "A" * 60, "v2:" + "B" * 80],
    ids=["garbage", "v1-wrong-key", "v2-wrong-key"],
)
async def test_a_provider_key_this_origin_cannot_decrypt_is_named_in_the_error(
    origin_server: Any, project: Any, sim: Any, pg: Any, ciphertext: str
) -> None:
    await stored_key(pg, project, "anthropic", ciphertext)
    response = await chat(origin_server, project, chat_body("Hello?"))
    error = response.json()["error"]
    assert response.status_code == 500 and error["code"] == "provider_key_unusable"
    assert "anthropic" in error["message"] and "PRISM_MASTER_KEY" in error["message"]
    assert sim.requests() == []  # not quietly answered by anything else
    (row,) = await origin_server.rows(project.id, expect=1)
    assert not row["success"] and row["error_code"] == "provider_key_unusable"


async def test_a_broken_key_beside_a_good_one_only_fails_what_needs_it(
    origin_server: Any, project: Any, sim: Any, pg: Any
) -> None:
    admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(base_url=origin_server.url, headers=admin) as http:
        added = await http.post(
            f"/admin/v1/projects/{project.id}/provider_keys",
            json={"provider": "openai", "api_key": "sk-good-" + "x" * 20},
        )
        assert added.status_code == 201, added.text
    await stored_key(pg, project, "anthropic", "not base64 at all")
    fine = await chat(origin_server, project, chat_body("Hello?"))
    assert fine.status_code == 200 and fine.headers["x-prism-provider"] == "openai"
    claude = await chat(origin_server, project, {**chat_body("Hi"), "model": "claude-sonnet-4-6"})
    assert claude.status_code == 500, claude.text
    assert claude.json()["error"]["code"] == "provider_key_unusable"
