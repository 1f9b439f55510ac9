"""A bug of ours that escapes before the response still leaves the request its one usage row
(`internal_error`), gives back what spend control reserved for it, and answers the OpenAI
envelope's 500. Reached through real faults: state in Redis that the origin cannot read.
Real origin under Hypercorn, real Redis and Postgres, the simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis

from shared.cache_entry import exact_key
from shared.fingerprint import fingerprint
from shared.limits import budget_keys, window_bounds
from tests.test_cache_helpers import chat, chat_body

# Fits one request's worst case (16,000 output tokens at the dearest price of its route and
# fallbacks, about 4 cents) but not two, and is too small for an allowance: every admission
# reserves in Redis.
LIMIT_CENTS = "6"
# A stored answer whose one choice is a string, not an object.
UNREPLAYABLE = orjson.dumps(
    {
        "v": 1,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "response": {"object": "chat.completion", "choices": ["stop"]},
        "usage": {"prompt_tokens": 5, "completion_tokens": 3},
        "created_at": 1.0,
    }
)


def internal_error(response: httpx.Response) -> None:
    assert response.status_code == 500, response.text
    assert response.json()["error"]["code"] == "internal_error"


async def one_failure_row(origin: Any, project_id: str) -> dict[str, Any]:
    (row,) = await origin.rows(project_id, expect=1)
    assert not row["success"] and row["error_code"] == "internal_error"
    return row


async def test_a_hit_that_cannot_be_replayed_fails_with_its_row_and_reserves_nothing(
    origin_server: Any, make_project: Any, origin_admin: Any, sim: Any, redis_server: Any
) -> None:
    project = await make_project("backstop-hit")
    made = await origin_admin.post(
        f"/projects/{project.id}/budgets", json={"limit_cents": LIMIT_CENTS, "period": "day"}
    )
    assert made.status_code == 201, made.text
    body = chat_body("Which river flows through Vienna?", stream=True, max_tokens=16000)
    redis = aioredis.Redis.from_url(redis_server.url)
    try:
        await redis.set(exact_key(project.id, fingerprint(project.id, body)), UNREPLAYABLE)
        internal_error(await chat(origin_server, project, body))
        await one_failure_row(origin_server, project.id)
        window = window_bounds("day", datetime.now(UTC))[0]
        spent, reserved = await redis.hmget(
            budget_keys(project.id, made.json()["id"], window)[0], "s", "r"
        )
        assert (int(spent or 0), int(reserved or 0)) == (0, 0)
    finally:
        await redis.aclose()
    # Nothing was left reserved: the budget still fits the same worst case once more.
    again = await chat(origin_server, project, chat_body("And through Budapest?", max_tokens=16000))
    assert again.status_code == 200, again.text
    assert len(sim.requests("openai")) == 1
