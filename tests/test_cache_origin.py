"""The origin's response cache end to end: Hypercorn origin, real Redis, vector stand-in,
provider simulator, Postgres ledger. Each test has its own project, so entries never leak
between tests (and the isolation test checks exactly that)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from redis.asyncio import Redis
from upstash_vector import AsyncIndex

from shared.cache_entry import exact_key
from shared.fingerprint import fingerprint
from tests.test_cache_helpers import (
    MODEL,
    chat,
    chat_body,
    content,
    wait_cached,
)
from tests.test_observability_metrics import delta, scrape

PARAPHRASE = ("How do I reset my password?", "What's the way to reset my password?")


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("cache")


@pytest.fixture
async def vectors(upstash_vector: Any) -> AsyncIterator[AsyncIndex]:
    index = AsyncIndex(url=upstash_vector.url, token=upstash_vector.token, retries=0)
    yield index
    await index._client.aclose()


async def test_exact_miss_then_hit_with_receipt_and_hit_row(
    origin_server, project, sim, redis_server
):
    body = chat_body("What is the boiling point of water?")
    first = await chat(
        origin_server, project, body, X_Prism_Tags="team=docs", X_Prism_Session="s-1"
    )
    assert first.headers["x-prism-cache-status"] == "miss"
    await wait_cached(redis_server.url, project.id)
    second = await chat(
        origin_server, project, body, X_Prism_Tags="team=docs", X_Prism_Session="s-1"
    )
    headers = second.headers
    assert headers["x-prism-cache-status"] == "hit-exact"
    assert headers["x-prism-provider"] == "cache" and headers["x-prism-model"] == MODEL
    # The saving is what the first call cost: same usage, same catalog price.
    assert headers["x-prism-cache-saved-cents"] == first.headers["x-prism-cost-cents"]
    assert headers["x-prism-cost-cents"] == "0"
    assert "x-prism-cache-similarity" not in headers
    assert content(second) == content(first)
    assert second.json()["id"] == f"chatcmpl-{headers['x-prism-request-id']}"
    assert len(sim.requests()) == 1  # the provider was called once

    rows = {r["request_id"]: r for r in await origin_server.rows(project.id, expect=2)}
    assert len(rows) == 2
    hit = rows[headers["x-prism-request-id"]]
    miss = rows[first.headers["x-prism-request-id"]]
    assert (hit["provider"], hit["cache_status"], hit["task_type"]) == (
        "cache",
        "hit-exact",
        "cache",
    )
    assert hit["model_used"] == MODEL and hit["success"] is True
    assert hit["cost_total_cents"] == hit["cost_provider_cents"] == Decimal(0)
    assert hit["cache_saved_cents"] == miss["cost_total_cents"] > 0
    assert (hit["tokens_in"], hit["tokens_out"]) == (miss["tokens_in"], miss["tokens_out"])
    assert json.loads(hit["request_tags"]) == {"team": "docs"} and hit["session_id"] == "s-1"
    assert hit["was_streaming"] is False and hit["native_cache_saved_cents"] == 0


async def test_no_cache_skips_lookup_but_stores_and_no_store_does_neither(
    origin_server, project, sim, redis_server
):
    body = chat_body("Name three primary colours.")
    skipped = await chat(origin_server, project, body, X_Prism_Cache="no-cache")
    assert skipped.headers["x-prism-cache-status"] == "bypass"
    await wait_cached(redis_server.url, project.id)
    again = await chat(origin_server, project, body, X_Prism_Cache="no-cache")
    assert again.headers["x-prism-cache-status"] == "bypass"  # an entry exists, not consulted
    assert (await chat(origin_server, project, body)).headers["x-prism-cache-status"] == "hit-exact"

    other = chat_body("Name three secondary colours.")
    for _ in range(2):
        response = await chat(origin_server, project, other, X_Prism_Cache="no-store")
        assert response.headers["x-prism-cache-status"] == "bypass"
    assert (await chat(origin_server, project, other)).headers["x-prism-cache-status"] == "miss"
    assert len(sim.requests()) == 5


@pytest.mark.parametrize(
    ("ttl_header", "expected"), [(None, 3600), ("60", 60), ("2592000", 2592000)]
)
async def test_ttl_is_set_on_the_entry(
    origin_server, project, sim, redis_server, ttl_header, expected
):
    headers = {"X_Prism_Cache_TTL": ttl_header} if ttl_header else {}
    await chat(origin_server, project, chat_body("ttl check"), **headers)
    [key] = await wait_cached(redis_server.url, project.id)
    redis = Redis.from_url(redis_server.url)
    try:
        ttl = await redis.ttl(key)
    finally:
        await redis.aclose()
    assert expected - 30 < ttl <= expected


async def test_expired_entry_is_a_miss(origin_server, project, sim, redis_server):
    body = chat_body("What is an atom?")
    await chat(origin_server, project, body)
    [key] = await wait_cached(redis_server.url, project.id)
    redis = Redis.from_url(redis_server.url)
    try:
        await redis.expire(key, 0)  # what its TTL running out does
    finally:
        await redis.aclose()
    assert (await chat(origin_server, project, body)).headers["x-prism-cache-status"] == "miss"


async def test_prompt_version_keys_entries(origin_server, project, sim, redis_server):
    body = chat_body("Summarise our refund policy.")
    await chat(origin_server, project, body, X_Prism_Cache_Version="v1")
    await wait_cached(redis_server.url, project.id)
    v2 = await chat(origin_server, project, body, X_Prism_Cache_Version="v2")
    assert v2.headers["x-prism-cache-status"] == "miss"
    assert (await chat(origin_server, project, body)).headers["x-prism-cache-status"] == "miss"
    v1 = await chat(origin_server, project, body, X_Prism_Cache_Version="v1")
    assert v1.headers["x-prism-cache-status"] == "hit-exact"


async def test_entry_is_written_in_the_shared_layout(origin_server, project, sim, redis_server):
    body = chat_body("layout check", temperature=0.5)
    await chat(origin_server, project, body, X_Prism_Mode="eco", X_Prism_Cache_Version="7")
    [key] = await wait_cached(redis_server.url, project.id)
    # The edge computes the key from the same shared function and finds the entry.
    assert key == exact_key(project.id, fingerprint(project.id, body, mode="eco", version="7"))


async def test_semantic_hit_on_a_paraphrase(origin_server, project, sim, redis_server, vectors):
    stored, asked = PARAPHRASE
    first = await chat(origin_server, project, chat_body(stored))
    await wait_cached(redis_server.url, project.id, vectors=vectors)
    second = await chat(origin_server, project, chat_body(asked), X_Prism_Cache_Threshold="0.85")
    headers = second.headers
    assert headers["x-prism-cache-status"] == "hit-semantic"
    assert 0.85 <= float(headers["x-prism-cache-similarity"]) < 1.0
    assert headers["x-prism-cache-saved-cents"] == first.headers["x-prism-cost-cents"]
    assert content(second) == content(first)  # the stored answer, to the stored question
    rows = await origin_server.rows(project.id, expect=2)
    assert sorted(r["cache_status"] for r in rows) == ["hit-semantic", "miss"]


@pytest.mark.parametrize(
    ("stored", "asked", "status"),
    [
        # below the strict default (cosine about 0.97): answered because the verifier says so
        (*PARAPHRASE, "hit-semantic"),
        # the guard has no rule for who cancels; the verifier sees the unmatched words
        (
            "Is the flight refundable if the airline cancels?",
            "Is the flight refundable if I cancel?",
            "miss",
        ),
    ],
)
async def test_pair_verifier_judges_candidates_below_the_default_threshold(
    origin_server, project, sim, redis_server, vectors, stored, asked, status
):
    await chat(origin_server, project, chat_body(stored))
    await wait_cached(redis_server.url, project.id, vectors=vectors)
    before = scrape(origin_server)
    second = await chat(origin_server, project, chat_body(asked))
    assert second.headers["x-prism-cache-status"] == status
    if status == "hit-semantic":
        assert float(second.headers["x-prism-cache-similarity"]) < 0.99
    # Operators see each judgement, its engine and its time (the engine's speed is the CPU's).
    outcome = "accepted" if status == "hit-semantic" else "rejected"
    after, judged = scrape(origin_server), "prism_semantic_verification_seconds_count"
    assert delta(before, after, judged, engine="onnx-int8", outcome=outcome) == 1
    assert delta(before, after, judged) == 1


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("What is 15% of 80?", "What is 15% of 90?"),
        (
            "How do I get from Paris to Berlin by train?",
            "How do I get from Berlin to Paris by train?",
        ),
        ("Which foods are safe for dogs?", "Which foods are not safe for dogs?"),
    ],
)
async def test_guard_rejects_a_near_miss_the_vectors_find(
    origin_server, project, sim, redis_server, vectors, stored, asked
):
    await chat(origin_server, project, chat_body(stored))
    await wait_cached(redis_server.url, project.id, vectors=vectors)
    # The lowest threshold a client may ask for: only the guard stands in the way.
    second = await chat(origin_server, project, chat_body(asked), X_Prism_Cache_Threshold="0.80")
    assert second.headers["x-prism-cache-status"] == "miss"
    assert asked[:40] in content(second)


# Past the embedding's window: the two prompts would embed alike whatever follows the report.
REPORT = " ".join(["The quarterly report shows revenue growth in retail."] * 20) + "\n\n"


@pytest.mark.parametrize("reason", ["tools", "long conversation", "text past the window"])
async def test_semantic_layer_skips_tool_calls_long_conversations_and_long_texts(
    origin_server, project, sim, redis_server, vectors, reason
):
    turns = [{"role": r, "content": f"turn {i}"} for i, r in enumerate(["user", "assistant"] * 3)]
    extra: dict[str, Any] = {"tools": [WEATHER_TOOL]} if reason == "tools" else {}
    prefix = turns if reason == "long conversation" else []
    pasted = REPORT if reason == "text past the window" else ""

    def body(text: str) -> dict[str, Any]:
        final = {"role": "user", "content": pasted + text}
        return {"model": MODEL, "messages": [*prefix, final], **extra}

    await chat(origin_server, project, body(PARAPHRASE[0]))
    await wait_cached(redis_server.url, project.id)
    assert (await chat(origin_server, project, body(PARAPHRASE[0]))).headers[
        "x-prism-cache-status"
    ] == "hit-exact"
    second = await chat(origin_server, project, body(PARAPHRASE[1]), X_Prism_Cache_Threshold="0.80")
    assert second.headers["x-prism-cache-status"] == "miss"
    assert await vectors.info() is not None
    assert project.id not in (await vectors.info()).namespaces


async def test_projects_never_see_each_others_entries(
    origin_server, make_project, sim, redis_server, vectors
):
    a = await make_project("tenant-a")
    # Two more tenants, so neither can be answered by an entry it wrote itself.
    b_same, b_paraphrase = await make_project("tenant-b1"), await make_project("tenant-b2")
    stored, asked = PARAPHRASE
    await chat(origin_server, a, chat_body(stored))
    await wait_cached(redis_server.url, a.id, vectors=vectors)
    assert (await chat(origin_server, a, chat_body(stored))).headers[
        "x-prism-cache-status"
    ] == "hit-exact"
    assert (await chat(origin_server, a, chat_body(asked), X_Prism_Cache_Threshold="0.85")).headers[
        "x-prism-cache-status"
    ] == "hit-semantic"

    identical = await chat(origin_server, b_same, chat_body(stored))
    paraphrased = await chat(
        origin_server, b_paraphrase, chat_body(asked), X_Prism_Cache_Threshold="0.80"
    )
    assert identical.headers["x-prism-cache-status"] == "miss"
    assert paraphrased.headers["x-prism-cache-status"] == "miss"
    for tenant in (b_same, b_paraphrase):
        [row] = await origin_server.rows(tenant.id, expect=1)
        assert (row["provider"], row["cache_status"]) == ("openai", "miss")
    assert len(sim.requests()) == 3


@pytest.mark.parametrize("case", ["length", "cut stream", "error"])
async def test_only_complete_successful_answers_are_stored(
    origin_server, project, sim, redis_server, case
):
    body = chat_body("Tell me a long story about a lighthouse keeper and the sea.")
    if case == "length":
        body["max_tokens"] = 2
        first = await chat(origin_server, project, body)
        assert first.json()["choices"][0]["finish_reason"] == "length"
    elif case == "cut stream":
        sim.script({"kind": "disconnect", "after_chunks": 2}, provider="openai")
        first = await chat(origin_server, project, {**body, "stream": True})
        assert b"error" in first.content
    else:
        sim.script({"kind": "status", "status": 400, "message": "bad"}, provider="openai")
        first = await chat(origin_server, project, body)
        assert first.status_code == 400
    again = await chat(origin_server, project, body)
    assert again.status_code == 200
    assert again.headers["x-prism-cache-status"] == "miss"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.parametrize("first_streamed", [False, True], ids=["json-then-sse", "sse-then-sse"])
async def test_openai_sdk_streams_a_cache_hit(
    origin_server, project, sim, redis_server, first_streamed
):
    client = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    messages = [{"role": "user", "content": "Stream me a cached hello"}]
    if first_streamed:
        first_text = ""
        async for chunk in await client.chat.completions.create(
            model=MODEL, messages=messages, stream=True
        ):
            first_text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    else:
        first = await client.chat.completions.create(model=MODEL, messages=messages)
        first_text = first.choices[0].message.content or ""
    await wait_cached(redis_server.url, project.id)

    raw = await client.chat.completions.with_raw_response.create(
        model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["x-prism-cache-status"] == "hit-exact"
    assert raw.headers["content-type"].startswith("text/event-stream")
    text, finish, usage, ids = "", None, None, set()
    async for chunk in raw.parse():
        ids.add(chunk.id)
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    assert text == first_text and finish == "stop"
    assert usage is not None and usage.completion_tokens > 0
    assert (usage.model_extra or {}).get("cost_cents") == "0"  # a hit is free
    assert ids == {f"chatcmpl-{raw.headers['x-prism-request-id']}"}
    assert len(sim.requests()) == 1
    rows = await origin_server.rows(project.id, expect=2)
    hit = next(r for r in rows if r["cache_status"] == "hit-exact")
    assert hit["was_streaming"] is True


async def test_openai_sdk_streams_a_cached_tool_call(origin_server, project, sim, redis_server):
    client = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "tools": [WEATHER_TOOL],
        "stream": True,
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
    }

    async def calls() -> tuple[list[tuple[str, str]], str | None]:
        found: dict[int, list[str]] = {}
        finish = None
        async for chunk in await client.chat.completions.create(**kwargs):
            for part in chunk.choices:
                finish = part.finish_reason or finish
                for call in part.delta.tool_calls or ():
                    slot = found.setdefault(call.index, ["", ""])
                    slot[0] += call.function.name or "" if call.function else ""
                    slot[1] += call.function.arguments or "" if call.function else ""
        return [(n, a) for n, a in found.values()], finish

    live = await calls()
    await wait_cached(redis_server.url, project.id)
    replayed = await calls()
    assert live == replayed and live[1] == "tool_calls"
    assert live[0][0][0] == "get_weather"
    assert len(sim.requests()) == 1
