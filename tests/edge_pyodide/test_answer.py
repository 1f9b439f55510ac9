"""The edge's answering path in the Workers Pyodide: keys, exact and semantic hits, their rows
and the fallback queue, against the real stand-ins (Upstash Redis and Vector, PostgREST)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest

from shared.cache_entry import CacheEntry, exact_key, vector_namespace
from shared.fingerprint import fingerprint, semantic_scope
from shared.pricing import TokenUsage

from .harness import DEADLINE_S, forwarded, js_request, rest_json, setting, worker

CHAT = "http://edge.test/v1/chat/completions"


@pytest.fixture
def upstream() -> str:
    return setting("PRISM_TEST_UPSTREAM")


@pytest.fixture
def bindings() -> dict[str, str]:
    found: dict[str, str] = json.loads(setting("PRISM_TEST_BINDINGS"))
    return found


@pytest.fixture
def project() -> dict[str, str]:
    found: dict[str, str] = json.loads(setting("PRISM_TEST_PROJECT"))
    return found


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def stored_entry(text: str) -> CacheEntry:
    response = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 21, "total_tokens": 30},
    }
    return CacheEntry(
        model="gpt-4o-mini",
        provider="openai",
        response=response,
        usage=TokenUsage(9, 21),
        created_at=time.time(),
    )


async def seed(
    bindings: dict[str, str],
    project_id: str,
    body: dict[str, Any],
    entry: CacheEntry,
    semantic: bool = False,
) -> None:
    """Store an entry where the origin would (the shared layout), through the REST APIs."""
    key = fingerprint(project_id, body)
    redis_url, token = bindings["UPSTASH_REDIS_REST_URL"], bindings["UPSTASH_REDIS_REST_TOKEN"]
    await rest_json(
        "POST", redis_url, token, ["SET", exact_key(project_id, key), entry.dumps(), "EX", 600]
    )
    if semantic:
        scoped = semantic_scope(project_id, body)
        assert scoped is not None
        item = {"id": key, "data": scoped[1], "metadata": {"scope": scoped[0], "text": scoped[1]}}
        url = f"{bindings['UPSTASH_VECTOR_REST_URL']}/upsert-data/{vector_namespace(project_id)}"
        await rest_json("POST", url, bindings["UPSTASH_VECTOR_REST_TOKEN"], [item])


async def usage_rows(bindings: dict[str, str], request_id: str, wait: bool = False) -> list[Any]:
    """The usage_logs rows with this request id, read through PostgREST."""
    url = f"{bindings['SUPABASE_URL']}/rest/v1/usage_logs?request_id=eq.{request_id}"
    key = setting("PRISM_TEST_SERVICE_KEY")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        found: list[Any] = await rest_json("GET", url, key, apikey=key)
        if found or not wait or loop.time() > deadline:
            return found
        await asyncio.sleep(0.1)


async def send(
    upstream: str,
    bindings: dict[str, str],
    key: str,
    body: dict[str, Any],
    *headers: tuple[str, str],
) -> tuple[Any, Any]:
    """The runtime Response (its body still unread) and the host after its waitUntil work."""
    instance, host = worker(upstream, **bindings)
    request = js_request(
        CHAT, "POST", [("Authorization", f"Bearer {key}"), *headers], json.dumps(body).encode()
    )
    response = (await instance.fetch(request)).js_object
    await host.settled()
    assert host.failures.length == 0
    return response, host


async def test_exact_hit_answers_at_the_edge_and_writes_its_row(
    upstream: str, bindings: dict[str, str], project: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex
    body = chat(f"Edge fact {marker}")
    await seed(bindings, project["id"], body, stored_entry("From the edge cache."))
    response, _ = await send(
        upstream,
        bindings,
        project["api_key"],
        body,
        ("X-Prism-Tags", "team=pyodide"),
        ("X-Prism-Session", "py-1"),
    )
    answer = json.loads(await response.text())
    request_id = response.headers.get("x-prism-request-id")
    assert response.status == 200
    assert response.headers.get("x-prism-cache-status") == "hit-exact-edge"
    assert response.headers.get("x-prism-provider") == "cache"
    assert answer["choices"][0]["message"]["content"] == "From the edge cache."
    assert answer["id"] == f"chatcmpl-{request_id}"
    assert await forwarded(upstream, marker) == []
    [row] = await usage_rows(bindings, request_id)
    assert (row["project_id"], row["cache_status"], row["session_id"]) == (
        project["id"],
        "hit-exact-edge",
        "py-1",
    )
    assert row["request_tags"] == {"team": "pyodide"}


async def test_stream_hit_is_replayed_as_sse(
    upstream: str, bindings: dict[str, str], project: dict[str, str]
) -> None:
    body = chat(f"Edge stream {uuid.uuid4().hex}")
    await seed(bindings, project["id"], body, stored_entry("Streamed at the edge."))
    streaming = {**body, "stream": True, "stream_options": {"include_usage": True}}
    response, _ = await send(upstream, bindings, project["api_key"], streaming)
    events = [e.removeprefix("data: ") for e in (await response.text()).split("\n\n") if e]
    chunks = [json.loads(e) for e in events[:-1]]
    assert response.headers.get("content-type") == "text/event-stream"
    assert events[-1] == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Streamed at the edge."
    assert chunks[-1]["usage"]["completion_tokens"] == 21
    [row] = await usage_rows(bindings, response.headers.get("x-prism-request-id"))
    assert row["was_streaming"] is True


async def test_paraphrase_is_a_semantic_hit(
    upstream: str, bindings: dict[str, str], project: dict[str, str]
) -> None:
    tag = uuid.uuid4().hex[:6]
    await seed(
        bindings,
        project["id"],
        chat(f"How do I rotate my API key {tag}?"),
        stored_entry("Rotate it in settings."),
        semantic=True,
    )
    response, _ = await send(
        upstream,
        bindings,
        project["api_key"],
        chat(f"How can I rotate my API key {tag}?"),
        ("X-Prism-Cache-Threshold", "0.85"),
    )
    assert response.headers.get("x-prism-cache-status") == "hit-semantic-edge"
    assert float(response.headers.get("x-prism-cache-similarity")) >= 0.85
    assert json.loads(await response.text())["choices"][0]["message"]["content"] == (
        "Rotate it in settings."
    )


async def test_a_miss_and_an_unknown_key_are_told_apart(
    upstream: str, bindings: dict[str, str], project: dict[str, str]
) -> None:
    missed, refused = uuid.uuid4().hex, uuid.uuid4().hex
    response, _ = await send(upstream, bindings, project["api_key"], chat(missed))
    assert response.headers.get("x-upstream") == "echo"
    response, _ = await send(upstream, bindings, "prism_sk_" + refused, chat(refused))
    assert response.status == 401
    assert json.loads(await response.text())["error"]["code"] == "invalid_api_key"
    assert len(await forwarded(upstream, missed)) == 1
    assert await forwarded(upstream, refused) == []


async def test_dead_backends_leave_the_key_to_the_origin(upstream: str) -> None:
    dead = setting("PRISM_TEST_DEAD_URL")
    marker = uuid.uuid4().hex
    cut_off = {
        "SUPABASE_URL": dead,
        "SUPABASE_EDGE_KEY": "k",
        "UPSTASH_REDIS_REST_URL": dead,
        "UPSTASH_REDIS_REST_TOKEN": "t",
    }
    response, _ = await send(upstream, cut_off, "prism_sk_" + marker, chat(marker))
    assert response.headers.get("x-upstream") == "echo"
    assert len(await forwarded(upstream, marker)) == 1


async def test_a_row_postgrest_refuses_still_lands_through_the_queue(
    upstream: str, bindings: dict[str, str], project: dict[str, str]
) -> None:
    body = chat(f"Queued at the edge {uuid.uuid4().hex}")
    await seed(bindings, project["id"], body, stored_entry("queued"))
    await send(upstream, bindings, project["api_key"], chat(uuid.uuid4().hex))  # key now known
    cut_off = {**bindings, "SUPABASE_URL": setting("PRISM_TEST_DEAD_URL")}
    response, _ = await send(upstream, cut_off, project["api_key"], body)
    assert response.headers.get("x-prism-cache-status") == "hit-exact-edge"
    # The origin running beside these tests drains the queue into usage_logs.
    [row] = await usage_rows(bindings, response.headers.get("x-prism-request-id"), wait=True)
    assert row["cache_status"] == "hit-exact-edge"
