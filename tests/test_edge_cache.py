"""The edge's cache stage in CPython against the real stand-ins: Upstash Redis and Vector over
REST, PostgREST over Postgres, and a recording stand-in origin that shows what was forwarded."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from edge.usage import stats_key
from edge.web import read_body
from infra.local.proc import free_port
from shared.cache_entry import replay_chunks
from tests.edge.httpx_client import HttpxClient
from tests.fixtures.edge import CacheSeed, EdgeDriver, body_hex, cached_completion, chat


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("edge-cache")


@pytest.fixture
def env(edge_bindings: dict[str, str], edge_upstream: str) -> dict[str, str]:
    return {"ORIGIN_URL": edge_upstream, **edge_bindings}


async def rows(pg: Any, project_id: str) -> list[dict[str, Any]]:
    conn = await pg.connect()
    try:
        found = await conn.fetch(
            "select * from usage_logs where project_id = $1 order by created_at", project_id
        )
    finally:
        await conn.close()
    return [dict(r) for r in found]


async def test_exact_hit_is_answered_at_the_edge_with_its_receipt_and_row(
    http: HttpxClient,
    env: dict[str, str],
    project: Any,
    cache_seed: CacheSeed,
    pg: Any,
    redis: aioredis.Redis,
) -> None:
    marker = uuid.uuid4().hex
    body = chat(f"Tell me a fact {marker}")
    entry = cached_completion("A stored fact.")
    await cache_seed.exact(project.id, body, entry, {"X-Prism-Tags": "team=edge"})
    edge = EdgeDriver(http, env)
    response = await edge.send(
        project.api_key, body, {"X-Prism-Tags": "team=edge, feature=faq", "X-Prism-Session": "s-1"}
    )
    answer = json.loads(await read_body(response.body))
    request_id = response.header("x-prism-request-id")
    assert response.status == 200 and request_id
    assert answer["choices"] == entry.response["choices"]
    assert answer["id"] == f"chatcmpl-{request_id}"
    assert response.header("x-prism-cache-status") == "hit-exact-edge"
    assert response.header("x-prism-provider") == "cache"
    assert response.header("x-prism-model") == "gpt-4o-mini"
    assert Decimal(response.header("x-prism-cache-saved-cents") or "0") == entry.saved().cents
    assert response.header("x-prism-cache-similarity") is None
    assert await edge.forwarded(marker) == []
    [row] = await rows(pg, project.id)
    assert (row["request_id"], row["cache_status"], row["provider"]) == (
        request_id,
        "hit-exact-edge",
        "cache",
    )
    assert json.loads(row["request_tags"]) == {"team": "edge", "feature": "faq"}
    assert (row["session_id"], row["tokens_in"], row["tokens_out"]) == ("s-1", 12, 30)
    assert row["cache_saved_cents"] == entry.saved().cents and row["cost_total_cents"] == 0
    stats = await redis.hgetall(stats_key(project.id, row["created_at"].strftime("%Y-%m-%d")))
    assert stats["hits"] == "1" and stats["hits_exact"] == "1"
    assert int(stats["saved_microcents"]) == int(entry.saved().cents * 1_000_000)


@pytest.mark.parametrize("include_usage", [False, True])
async def test_stream_hit_is_an_sse_replay(
    http: HttpxClient,
    env: dict[str, str],
    project: Any,
    cache_seed: CacheSeed,
    pg: Any,
    include_usage: bool,
) -> None:
    body = chat(f"Stream me {uuid.uuid4().hex}")
    entry = cached_completion("Streamed from the cache.")
    await cache_seed.exact(project.id, body, entry)
    extra = {"stream": True, "stream_options": {"include_usage": include_usage}}
    response = await EdgeDriver(http, env).send(project.api_key, {**body, **extra})
    raw = (await read_body(response.body)).decode()
    assert response.header("content-type") == "text/event-stream"
    events = [e.removeprefix("data: ") for e in raw.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    expected = replay_chunks(
        entry, f"chatcmpl-{response.header('x-prism-request-id')}", include_usage
    )
    assert [c["choices"] for c in chunks] == [c["choices"] for c in expected]
    assert ("usage" in chunks[-1]) is include_usage
    [row] = await rows(pg, project.id)
    assert row["was_streaming"] is True


async def test_paraphrase_is_a_semantic_hit_with_its_similarity(
    http: HttpxClient,
    env: dict[str, str],
    project: Any,
    cache_seed: CacheSeed,
    pg: Any,
) -> None:
    await cache_seed.semantic(
        project.id, chat("How do I reset my password?"), cached_completion("Use the reset link.")
    )
    edge = EdgeDriver(http, env)
    response = await edge.send(
        project.api_key, chat("How can I reset my password?"), {"X-Prism-Cache-Threshold": "0.85"}
    )
    assert response.header("x-prism-cache-status") == "hit-semantic-edge"
    similarity = float(response.header("x-prism-cache-similarity") or 0)
    assert 0.85 <= similarity < 1.0
    [row] = await rows(pg, project.id)
    assert row["cache_status"] == "hit-semantic-edge"


@pytest.mark.parametrize(
    ("stored", "asked", "headers"),
    [
        # the guard: a different number must never be answered from the cache
        ("What is 15% of 80?", "What is 15% of 90?", {"X-Prism-Cache-Threshold": "0.80"}),
        # the threshold: a loose paraphrase is not close enough at the strict default
        ("How do I reset my password?", "I forgot my login secret, what now?", {}),
        # tool-calling requests skip the semantic layer
        ("How do I reset my password?", "How can I reset my password?", {"tools": True}),
        # the same words in another order (who fires whom): the origin's verifier decides
        ("Can a manager fire an employee?", "Can an employee fire a manager?", {}),
    ],
)
async def test_near_misses_go_to_the_origin(
    http: HttpxClient,
    env: dict[str, str],
    project: Any,
    cache_seed: CacheSeed,
    stored: str,
    asked: str,
    headers: dict[str, Any],
) -> None:
    marker = uuid.uuid4().hex
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    extra = {"tools": tools} if headers.pop("tools", False) else {}
    await cache_seed.semantic(project.id, chat(stored), cached_completion("stored"))
    edge = EdgeDriver(http, env)
    response = await edge.send(project.api_key, chat(asked, user=marker, **extra), headers)
    assert response.header("x-upstream") == "echo"
    assert len(await edge.forwarded(marker)) == 1


@pytest.mark.parametrize(
    ("headers", "body_extra"),
    [
        ({"X-Prism-Cache": "no-cache"}, {}),
        ({"X-Prism-Cache": "no-store"}, {}),
        ({"X-Prism-Mode": "turbo"}, {}),  # invalid header: the origin answers the 400
        ({"X-Prism-Mode": "eco"}, {}),  # another mode is another cache key
        # the session's turns, which only the origin holds, go before this message
        ({"X-Prism-Session": "s-1", "X-Prism-Memory": "on"}, {}),
        ({}, {"temperature": 0.2}),  # so is any answer-changing field
        ({}, {"stream": "yes"}),  # the origin refuses a non-boolean stream
        # ... and these, which Python compares equal to the defaults (True == 1, False == 0)
        ({}, {"temperature": True}),
        ({}, {"logprobs": 0}),
        ({}, {"parallel_tool_calls": 1}),
    ],
)
async def test_requests_the_edge_must_not_answer_are_forwarded_untouched(
    http: HttpxClient,
    env: dict[str, str],
    project: Any,
    cache_seed: CacheSeed,
    pg: Any,
    headers: dict[str, str],
    body_extra: dict[str, Any],
) -> None:
    marker = uuid.uuid4().hex
    body = chat(f"Cached question {marker}")
    await cache_seed.exact(project.id, body, cached_completion("cached"))
    sent = json.dumps({**body, **body_extra}, indent=1).encode()
    edge = EdgeDriver(http, env)
    response = await edge.send(project.api_key, sent, headers)
    [seen] = await edge.forwarded(marker)
    assert response.header("x-upstream") == "echo"
    assert body_hex(seen) == sent.hex()
    assert await rows(pg, project.id) == []


async def test_an_empty_model_is_not_the_auto_entry(
    http: HttpxClient, env: dict[str, str], project: Any, cache_seed: CacheSeed
) -> None:
    """No model means "auto", so an entry stored without one answers a request without one;
    "model": "" is the origin's 400 and must reach it rather than that entry."""
    marker = uuid.uuid4().hex
    body = {"messages": [{"role": "user", "content": f"Cached question {marker}"}]}
    await cache_seed.exact(project.id, body, cached_completion("cached"))
    edge = EdgeDriver(http, env)
    assert (await edge.send(project.api_key, body)).header("x-upstream") != "echo"
    response = await edge.send(project.api_key, {**body, "model": ""})
    assert response.header("x-upstream") == "echo"
    assert len(await edge.forwarded(marker)) == 1


async def test_unreadable_bodies_are_forwarded(
    http: HttpxClient, env: dict[str, str], project: Any
) -> None:
    edge = EdgeDriver(http, env)
    for raw in (
        b"{not json",
        b"[]",
        b'{"messages": []}',
        b'{"messages": "hi"}',
        b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
    ):
        response = await edge.send(project.api_key, raw)
        assert response.header("x-upstream") == "echo", raw


async def test_one_project_never_sees_another_projects_entries(
    http: HttpxClient,
    env: dict[str, str],
    make_project: Any,
    cache_seed: CacheSeed,
) -> None:
    owner, other = await make_project("owner"), await make_project("other")
    marker = uuid.uuid4().hex
    body = chat(f"How do I reset my password? {marker}")
    await cache_seed.semantic(owner.id, body, cached_completion("owner's answer"))
    edge = EdgeDriver(http, env)
    for asked in (body, chat(f"How can I reset my password? {marker}")):
        response = await edge.send(other.api_key, asked, {"X-Prism-Cache-Threshold": "0.80"})
        assert response.header("x-upstream") == "echo"
    assert len(await edge.forwarded(marker)) == 2


async def test_a_failed_row_write_goes_through_the_queue_into_usage_logs(
    http: HttpxClient,
    env: dict[str, str],
    project: Any,
    cache_seed: CacheSeed,
    origin_server: Any,
) -> None:
    # The running origin drains the queue, so the row must come out the other end, once.
    body = chat(f"Queue me {uuid.uuid4().hex}")
    await cache_seed.exact(project.id, body, cached_completion("queued"))
    warm = EdgeDriver(http, env)
    await warm.send(project.api_key, chat(uuid.uuid4().hex))  # the key is known from here on
    cut_off = EdgeDriver(http, {**env, "SUPABASE_URL": f"http://127.0.0.1:{free_port()}"})
    cut_off.callers = warm.callers
    response = await cut_off.send(project.api_key, body, {"X-Prism-Tags": "team=q"})
    assert response.header("x-prism-cache-status") == "hit-exact-edge"
    [row] = await origin_server.rows(project.id, expect=1)
    assert row["request_id"] == response.header("x-prism-request-id")
    assert row["cache_status"] == "hit-exact-edge"
    assert json.loads(row["request_tags"]) == {"team": "q"}
