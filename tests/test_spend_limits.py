"""Rate limits and fair use as a client meets them: the openai SDK against the real origin."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import openai
import pytest

from infra.local.projects import insert_api_key
from shared.apikeys import generate_api_key
from shared.limits import limit_keys


def client(origin_server: Any, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=origin_server.base_url, api_key=key, max_retries=0)


def ask(**extra: Any) -> dict[str, Any]:
    content = f"limits {uuid.uuid4().hex[:8]}"
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


async def put_limits(admin: Any, path: str, **body: Any) -> dict[str, Any]:
    res = await admin.put(path, json=body)
    assert res.status_code == 200, res.text
    return dict(res.json())


async def second_key(pg: Any, project_id: str) -> tuple[str, str]:
    key = generate_api_key()
    conn = await pg.connect()
    try:
        await insert_api_key(conn, project_id, key, "second")
        key_id = await conn.fetchval(
            "select id from api_keys where name = 'second' and project_id = $1", project_id
        )
    finally:
        await conn.close()
    return key, str(key_id)


async def test_requests_per_minute_per_project_then_429_with_openai_headers(
    origin_server, make_project, origin_admin, audit_events
):
    project = await make_project("rl-rpm")
    await put_limits(origin_admin, f"/projects/{project.id}/limits", requests_per_minute=3)
    api = client(origin_server, project.api_key)
    await _not_near_a_minute_boundary()
    remaining = []
    for _ in range(3):
        raw = await api.chat.completions.with_raw_response.create(**ask())
        assert raw.headers["x-ratelimit-limit-requests"] == "3"
        remaining.append(raw.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    with pytest.raises(openai.RateLimitError) as caught:
        await api.chat.completions.create(**ask())
    error = caught.value
    assert error.body["code"] == "rate_limited"
    assert "requests per minute of this project is 3" in error.body["message"]
    headers = error.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert (await audit_events(project.id, "rate_limit", 1)).count("rate_limit") == 1


async def test_a_key_limit_binds_that_key_only_and_project_limits_bind_every_key(
    origin_server, make_project, origin_admin, pg
):
    project = await make_project("rl-key")
    other_key, other_id = await second_key(pg, project.id)
    await put_limits(origin_admin, f"/api_keys/{other_id}/limits", requests_per_minute=1)
    await put_limits(origin_admin, f"/projects/{project.id}/limits", requests_per_minute=4)
    first, other = client(origin_server, project.api_key), client(origin_server, other_key)
    await _not_near_a_minute_boundary()
    await other.chat.completions.create(**ask())
    with pytest.raises(openai.RateLimitError) as caught:
        await other.chat.completions.create(**ask())
    assert "this API key" in caught.value.body["message"]
    for _ in range(3):  # the project allows 4 in all: 1 by the other key, 3 by this one
        await first.chat.completions.create(**ask())
    with pytest.raises(openai.RateLimitError) as caught:
        await first.chat.completions.create(**ask())
    assert "this project" in caught.value.body["message"]
    shown = (await origin_admin.get(f"/api_keys/{other_id}/limits")).json()
    assert shown["requests_per_minute"] == 1 and shown["api_key_id"] == other_id
    listed = (await origin_admin.get(f"/projects/{project.id}/limits")).json()
    assert listed["requests_per_minute"] == 4 and [k["api_key_id"] for k in listed["keys"]] == [
        other_id
    ]


async def test_tokens_per_minute_counts_the_cap_up_front_then_what_was_used(
    origin_server, make_project, origin_admin
):
    project = await make_project("rl-tpm")
    await put_limits(origin_admin, f"/projects/{project.id}/limits", tokens_per_minute=200)
    api = client(origin_server, project.api_key)
    await _not_near_a_minute_boundary()
    with pytest.raises(openai.RateLimitError) as caught:
        await api.chat.completions.create(**ask(max_tokens=500))
    assert "can never be admitted" in caught.value.body["message"]
    first = await api.chat.completions.with_raw_response.create(**ask(max_tokens=150))
    assert first.headers["x-ratelimit-limit-tokens"] == "200"
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < 50  # cap + prompt held
    await asyncio.sleep(0.3)  # settled in the background to the tokens actually used
    second = await api.chat.completions.with_raw_response.create(**ask(max_tokens=150))
    used = first.parse().usage.total_tokens
    assert int(second.headers["x-ratelimit-remaining-tokens"]) < 200 - used - 150
    await asyncio.sleep(0.3)
    with pytest.raises(openai.RateLimitError) as caught:
        await api.chat.completions.create(**ask(max_tokens=170))
    assert "tokens per minute of this project is 200" in caught.value.body["message"]
    assert caught.value.response.headers["x-ratelimit-limit-tokens"] == "200"


async def _not_near_a_minute_boundary() -> None:
    second = time.time() % 60
    if second > 45:
        await asyncio.sleep(61 - second)


async def test_fair_use_preset_and_limits_validation(origin_server, make_project, origin_admin):
    project = await make_project("rl-preset")
    shown = await put_limits(origin_admin, f"/projects/{project.id}/limits", preset="fair-use")
    assert (shown["requests_per_day"], shown["requests_per_month"]) == (1000, 30000)
    assert shown["requests_per_minute"] is None
    raw = await client(origin_server, project.api_key).chat.completions.with_raw_response.create(
        **ask()
    )
    assert raw.headers["x-ratelimit-limit-requests"] == "1000"
    assert raw.headers["x-ratelimit-remaining-requests"] == "999"
    for body, param in [
        ({"preset": "generous"}, "preset"),
        ({"requests_per_minute": 0}, "requests_per_minute"),
        ({"tokens_per_minute": "many"}, "tokens_per_minute"),
        ({"rpm": 5}, "rpm"),
    ]:
        res = await origin_admin.put(f"/projects/{project.id}/limits", json=body)
        assert res.status_code == 400 and res.json()["error"]["param"] == param
    # Replacing limits replaces all of them: what is not named becomes unlimited.
    shown = await put_limits(origin_admin, f"/projects/{project.id}/limits", requests_per_day=7)
    assert (shown["requests_per_day"], shown["requests_per_month"]) == (7, None)
    audit = (await origin_admin.get(f"/projects/{project.id}/policy_audit")).json()["data"]
    assert [a["event"] for a in audit].count("limits.updated") == 2
    unknown = await origin_admin.put(f"/api_keys/{uuid.uuid4()}/limits", json={})
    assert unknown.status_code == 404


async def test_cache_hits_count_against_limits(origin_server, make_project, origin_admin):
    project = await make_project("rl-hit")
    await put_limits(origin_admin, f"/projects/{project.id}/limits", requests_per_minute=2)
    api = client(origin_server, project.api_key)
    same = ask()
    await _not_near_a_minute_boundary()
    await api.chat.completions.create(**same)
    hit = await api.chat.completions.with_raw_response.create(**same)
    assert hit.headers["x-prism-cache-status"].startswith("hit")
    assert hit.headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(openai.RateLimitError):
        await api.chat.completions.create(**same)
    rows = await origin_server.rows(project.id, expect=3)
    assert sorted(r["error_code"] or "ok" for r in rows) == ["ok", "ok", "rate_limited"]


async def test_requests_counted_elsewhere_are_refused_here(
    origin_server, make_project, origin_admin, redis
):
    """Workers and the edge count into one Redis counter: requests this worker never saw
    count, and a worker that has not itself seen the limit full still refuses."""
    project = await make_project("rl-shared")
    await put_limits(origin_admin, f"/projects/{project.id}/limits", requests_per_minute=3)
    api = client(origin_server, project.api_key)
    await _not_near_a_minute_boundary()
    first = await api.chat.completions.with_raw_response.create(**ask())
    assert first.headers["x-ratelimit-remaining-requests"] == "2"
    counter = limit_keys(project.id, None, datetime.now(UTC))[4]
    assert await redis.incrby(counter, 2) == 3  # two hits answered by the edge
    with pytest.raises(openai.RateLimitError) as caught:
        await api.chat.completions.create(**ask())
    assert "requests per minute of this project is 3 (3 used)" in caught.value.body["message"]


async def test_raising_a_full_limit_admits_the_next_request_at_once(
    origin_server, make_project, origin_admin
):
    project = await make_project("rl-raise")
    await put_limits(origin_admin, f"/projects/{project.id}/limits", requests_per_minute=1)
    api = client(origin_server, project.api_key)
    await _not_near_a_minute_boundary()
    await api.chat.completions.create(**ask())
    for _ in range(2):  # refused while the limit is full, the cache consulted or not
        with pytest.raises(openai.RateLimitError):
            await api.chat.completions.create(**ask())
    with pytest.raises(openai.RateLimitError):
        await api.chat.completions.create(**ask(), extra_headers={"X-Prism-Cache": "no-store"})
    await put_limits(origin_admin, f"/projects/{project.id}/limits", requests_per_minute=3)
    raw = await api.chat.completions.with_raw_response.create(**ask())
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
