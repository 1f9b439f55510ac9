"""Session memory (X-Prism-Session + X-Prism-Memory: on) end to end, and its pure helpers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai
import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from origin.gateway.memory import new_turn, session_key, tokens, trimmed, with_history

SYSTEM = {"role": "system", "content": "Be brief."}


def sdk(origin_server: Any, project: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=origin_server.base_url, api_key=project.api_key, max_retries=0)


def say(client: openai.OpenAI, text: str, session: str, memory: bool = True) -> str:
    headers = {"X-Prism-Session": session, "X-Prism-Memory": "on" if memory else "off"}
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[SYSTEM, {"role": "user", "content": text}],
        extra_headers=headers,
    )
    return completion.choices[0].message.content or ""


def sent_messages(sim: Any) -> list[list[dict[str, Any]]]:
    return [r["body"]["messages"] for r in sim.requests("openai")]


async def remembered(redis_url: str, project_id: str, session: str, turns: int) -> None:
    """Wait (bounded) for the write made off the response path to land."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 5
        while True:
            raw = await client.get(session_key(project_id, session))
            if raw is not None and raw.count(b'"assistant"') >= turns:
                return
            assert time.monotonic() < deadline, "the turn was never stored"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def test_three_calls_carry_the_conversation(
    origin_server: Any, make_project: Any, sim: Any, redis_server: Any
) -> None:
    project = await make_project("memory")
    client = sdk(origin_server, project)
    first = say(client, "my name is Ada", "s-1")
    await remembered(redis_server.url, project.id, "s-1", 1)
    second = say(client, "what is my name?", "s-1")
    await remembered(redis_server.url, project.id, "s-1", 2)
    say(client, "and again?", "s-1")
    third = sent_messages(sim)[-1]
    assert third == [
        SYSTEM,
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "what is my name?"},
        {"role": "assistant", "content": second},
        {"role": "user", "content": "and again?"},
    ]
    # Without X-Prism-Memory the session id is only recorded.
    say(client, "no memory here", "s-1", memory=False)
    assert sent_messages(sim)[-1] == [SYSTEM, {"role": "user", "content": "no memory here"}]


async def test_projects_never_share_a_session(
    origin_server: Any, make_project: Any, sim: Any, redis_server: Any
) -> None:
    a, b = await make_project("memory-a"), await make_project("memory-b")
    say(sdk(origin_server, a), "a secret of project a", "shared-id")
    await remembered(redis_server.url, a.id, "shared-id", 1)
    say(sdk(origin_server, b), "hello from b", "shared-id")
    assert sent_messages(sim)[-1] == [SYSTEM, {"role": "user", "content": "hello from b"}]


async def test_a_session_expires_and_can_be_forgotten(
    origin_server: Any, make_project: Any, sim: Any, redis_server: Any
) -> None:
    project = await make_project("memory-ttl")
    client = sdk(origin_server, project)
    say(client, "remember me", "s-ttl")
    await remembered(redis_server.url, project.id, "s-ttl", 1)
    store = aioredis.Redis.from_url(redis_server.url)
    try:
        key = session_key(project.id, "s-ttl")
        assert 86_000 < await store.ttl(key) <= 86_400  # 24 h since last use
        await store.pexpire(key, 1)  # as if a day had passed
        await asyncio.sleep(0.05)
        say(client, "anyone there?", "s-ttl")
        assert sent_messages(sim)[-1] == [SYSTEM, {"role": "user", "content": "anyone there?"}]
        await remembered(redis_server.url, project.id, "s-ttl", 1)
        auth = {"Authorization": f"Bearer {project.api_key}"}
        async with httpx.AsyncClient(base_url=origin_server.base_url) as http:
            gone = await http.delete("/sessions/s-ttl", headers=auth)
            assert gone.status_code == 200 and gone.json()["deleted"] is True
            assert await store.exists(key) == 0
            assert (await http.delete("/sessions/s-ttl")).status_code == 401
    finally:
        await store.aclose()


TEXT = st.text(max_size=200)
TURN = st.builds(
    lambda u, a: [{"role": "user", "content": u}, {"role": "assistant", "content": a}], TEXT, TEXT
)


@given(st.lists(TURN, max_size=30), st.integers(min_value=1, max_value=2000))
def test_the_budget_drops_the_oldest_turns_and_keeps_the_newest(
    turns: list[list[dict[str, Any]]], budget: int
) -> None:
    kept = trimmed(turns, budget)
    assert kept == turns[len(turns) - len(kept) :]  # a suffix: only the oldest are dropped
    if turns:
        assert kept  # the newest turn always stays
        assert len(kept) == 1 or sum(tokens(t) for t in kept) <= budget


@pytest.mark.parametrize(
    ("messages", "expected_roles"),
    [
        ([{"role": "user", "content": "q"}], ["user", "assistant", "user"]),
        ([SYSTEM, {"role": "user", "content": "q"}], ["system", "user", "assistant", "user"]),
    ],
)
def test_history_goes_after_the_system_messages(
    messages: list[dict[str, Any]], expected_roles: list[str]
) -> None:
    turn = new_turn([{"role": "user", "content": "old"}], {"content": "answer"})
    assert [m["role"] for m in with_history(messages, [turn])] == expected_roles


async def test_a_redis_restart_costs_a_session_no_turn(
    origin_server: Any, make_project: Any, sim: Any, redis_server: Any, redis_outage: Any
) -> None:
    # The worker's pooled connection dies with the restart. Its first read after it failed, so
    # the turn went to the model without the conversation, and the write that followed stored
    # that lone turn over the whole history.
    project = await make_project("memory-restart")
    client = sdk(origin_server, project)
    first = say(client, "my name is Ada", "s-restart")
    await remembered(redis_server.url, project.id, "s-restart", 1)
    key = session_key(project.id, "s-restart")
    before = aioredis.Redis.from_url(redis_server.url)
    try:
        kept = await before.get(key)
    finally:
        await before.aclose()
    with redis_outage():
        pass
    after = aioredis.Redis.from_url(redis_server.url)
    try:
        await after.set(key, kept)  # back with its data, as a Redis with persistence comes
    finally:
        await after.aclose()
    say(client, "what is my name?", "s-restart")
    assert sent_messages(sim)[-1][1:3] == [
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": first},
    ]
    await remembered(redis_server.url, project.id, "s-restart", 2)
