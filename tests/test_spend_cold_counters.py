"""Several budget counters cold at once: a project's first request finds every one of its
budgets' counters missing, and so does the first request after Redis lost them. Each must be
admitted (the counters rebuilt from the ledger) and its spend land on every budget exactly."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import openai
import redis.asyncio as aioredis

from shared.limits import budget_keys, window_bounds
from shared.worst_case import from_units, to_units

# Five block budgets, all covering a request with both tags: the project's and two tags',
# over each period, so the request has five counters (in three periods) to rebuild.
BUDGETS = [
    ("101", "day", None),
    ("102", "week", None),
    ("103", "month", None),
    ("104", "day", "feature=search"),
    ("105", "month", "team=a"),
]
TAGS = {"X-Prism-Tags": "feature=search,team=a"}


def ask() -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"cold {uuid.uuid4().hex[:8]}"}],
        "max_tokens": 10,
        "extra_headers": TAGS,
    }


async def make_budgets(admin: Any, project_id: str) -> list[tuple[str, str]]:
    """The budgets created, as (id, period)."""
    made = []
    for cents, period, tag in BUDGETS:
        body = {"limit_cents": cents, "period": period, **({"tag": tag} if tag else {})}
        res = await admin.post(f"/projects/{project_id}/budgets", json=body)
        assert res.status_code == 201, res.text
        made.append((res.json()["id"], period))
    return made


def counter_keys(project_id: str, budgets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    now = datetime.now(UTC)
    return [budget_keys(project_id, b, window_bounds(period, now)[0]) for b, period in budgets]


async def settled(
    redis: aioredis.Redis, keys: list[tuple[str, str]], units: int
) -> list[tuple[int, int]]:
    """Each counter's (spent, reserved), once every one shows `units` spent and nothing
    reserved (settles and allowance renewals reach Redis a little after the answers)."""
    deadline = time.monotonic() + 10
    while True:
        found = []
        for h, _ in keys:
            spent, reserved = await redis.hmget(h, "s", "r")
            found.append((int(spent or 0), int(reserved or 0)))
        if all(f == (units, 0) for f in found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def listed_spend(admin: Any, project_id: str) -> list[Decimal]:
    res = await admin.get(f"/projects/{project_id}/budgets")
    return [Decimal(b["spent_cents"]) for b in res.json()["data"]]


async def test_a_first_request_with_five_cold_budgets_is_admitted_and_counted_on_each(
    origin_server, make_project, origin_admin, redis
):
    project = await make_project("cold-five")
    budgets = await make_budgets(origin_admin, project.id)
    api = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    raw = await api.chat.completions.with_raw_response.create(**ask())
    assert raw.parse().choices
    cost = Decimal(raw.headers["x-prism-cost-cents"])
    assert cost > 0
    assert Decimal(raw.headers["x-prism-budget-remaining-cents"]) == Decimal(101) - cost

    keys = counter_keys(project.id, budgets)
    assert await settled(redis, keys, to_units(cost)) == [(to_units(cost), 0)] * len(BUDGETS)
    await origin_server.rows(project.id, expect=1)
    assert await listed_spend(origin_admin, project.id) == [cost] * len(BUDGETS)


async def test_counters_redis_lost_mid_period_are_all_rebuilt_by_the_next_request(
    origin_server, make_project, origin_admin, redis
):
    project = await make_project("cold-lost")
    budgets = await make_budgets(origin_admin, project.id)
    api = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    units = 0
    for _ in range(3):
        raw = await api.chat.completions.with_raw_response.create(**ask())
        units += to_units(Decimal(raw.headers["x-prism-cost-cents"]))
    keys = counter_keys(project.id, budgets)
    # All settled, and nothing reserved: no allowance left that could admit in memory.
    assert await settled(redis, keys, units) == [(units, 0)] * len(BUDGETS)
    await origin_server.rows(project.id, expect=3)  # the ledger has them

    lost = keys[:4]  # four counters gone (a flush, an eviction); the fifth survives
    await redis.delete(*(k for pair in lost for k in pair))

    raw = await api.chat.completions.with_raw_response.create(**ask())
    cost = Decimal(raw.headers["x-prism-cost-cents"])
    before = from_units(units)
    assert Decimal(raw.headers["x-prism-budget-remaining-cents"]) == Decimal(101) - before - cost
    units += to_units(cost)
    assert await settled(redis, keys, units) == [(units, 0)] * len(BUDGETS)
    await origin_server.rows(project.id, expect=4)
    assert await listed_spend(origin_admin, project.id) == [before + cost] * len(BUDGETS)
