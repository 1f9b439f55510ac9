"""Spend checks sent alongside the cache lookup (origin.spend.early), as a client meets them.

A request naming its model is routed before its lookup so its admission can share the lookup's
round trip. What a client must not notice: a miss is still labelled with its task type, a hit
holds nothing back from the budget, and a hit still counts against the rate limits.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import openai
import pytest

MODEL = "gpt-4o-mini"
CODE_ASK = "Write a Python function that merges two sorted lists into one sorted list."


def client(origin_server: Any, api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=origin_server.base_url, api_key=api_key, max_retries=0)


def ask(content: str) -> dict[str, Any]:
    # A complete answer (never cut by max_tokens), so it is cached.
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": 200}


async def guard(admin: Any, project_id: str, limit_cents: str) -> None:
    res = await admin.post(
        f"/projects/{project_id}/budgets", json={"limit_cents": limit_cents, "period": "month"}
    )
    assert res.status_code == 201, res.text
    res = await admin.put(f"/projects/{project_id}/limits", json={"requests_per_minute": 1000})
    assert res.status_code == 200, res.text


async def until_hit(api: openai.AsyncOpenAI, body: dict[str, Any]) -> Any:
    for _ in range(50):  # the answer is stored just after it is sent
        raw = await api.chat.completions.with_raw_response.create(**body)
        if raw.headers["x-prism-cache-status"].startswith("hit"):
            return raw
        await asyncio.sleep(0.1)
    raise AssertionError("the answer was never cached")


@pytest.mark.parametrize("cache", ["default", "no-store"])
async def test_a_named_models_miss_keeps_its_task_type(
    origin_server, make_project, origin_admin, cache
):
    project = await make_project(f"alongside-label-{cache}")
    await guard(origin_admin, project.id, "100")
    raw = await client(origin_server, project.api_key).chat.completions.with_raw_response.create(
        **ask(f"{CODE_ASK} ({uuid.uuid4().hex[:6]})"), extra_headers={"X-Prism-Cache": cache}
    )
    assert raw.headers["x-prism-task-type"] == "code"
    assert raw.headers["x-prism-route-reason"] == "requested"
    assert float(raw.headers["x-prism-task-confidence"]) > 0
    (row,) = await origin_server.rows(project.id, expect=1)
    assert row["task_type"] == "code"


async def test_hits_hold_nothing_back_and_still_count_as_requests(
    origin_server, make_project, origin_admin
):
    project = await make_project("alongside-hits")
    await guard(origin_admin, project.id, "100")
    api = client(origin_server, project.api_key)
    body = ask(f"What is the capital of France? ({uuid.uuid4().hex[:6]})")
    first = await api.chat.completions.with_raw_response.create(**body)
    spent = Decimal(first.headers["x-prism-cost-cents"])
    hit = await until_hit(api, body)
    before = int(hit.headers["x-ratelimit-remaining-requests"])
    for n in range(1, 6):
        hit = await api.chat.completions.with_raw_response.create(**body)
        assert hit.headers["x-prism-cache-status"].startswith("hit")
        # Each hit is a request for the limits, and costs the budget nothing.
        assert int(hit.headers["x-ratelimit-remaining-requests"]) == before - n
        assert Decimal(hit.headers["x-prism-budget-remaining-cents"]) == Decimal(100) - spent
    # A new miss sees no reservation left behind by the hits: only what was spent is gone.
    other = await api.chat.completions.with_raw_response.create(**ask(f"Hi {uuid.uuid4().hex}"))
    cost = Decimal(other.headers["x-prism-cost-cents"])
    assert Decimal(other.headers["x-prism-budget-remaining-cents"]) == Decimal(100) - spent - cost


@pytest.mark.parametrize("cache", ["default", "no-store"])
async def test_a_budget_that_cannot_cover_the_request_still_refuses_it(
    origin_server, make_project, origin_admin, cache
):
    project = await make_project(f"alongside-refuse-{cache}")
    await guard(origin_admin, project.id, "0.0001")  # less than any worst case here
    api = client(origin_server, project.api_key)
    with pytest.raises(openai.APIStatusError) as caught:
        await api.chat.completions.create(
            **ask(f"Hello {uuid.uuid4().hex}"), extra_headers={"X-Prism-Cache": cache}
        )
    assert caught.value.status_code == 402
    assert caught.value.body["code"] == "budget_exceeded"
    (row,) = await origin_server.rows(project.id, expect=1)
    assert row["error_code"] == "budget_exceeded" and row["cost_total_cents"] == 0
