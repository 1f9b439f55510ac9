"""Postgres is the truth of a budget: a Redis restart in the middle of a period resets nothing,
and while Redis is down a block budget refuses rather than letting spend through unchecked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import openai
import pytest
import redis.asyncio as aioredis

from origin.spend.counters import Counters
from origin.spend.policies import Policies
from origin.spend.policy import Budget
from origin.spend.reconcile import Reconciler
from origin.store import Store
from shared.limits import budget_keys
from shared.spend_scripts import SETTLE
from shared.worst_case import to_units
from tests.test_store import usage_row


def ask() -> dict[str, object]:
    content = f"restart {uuid.uuid4().hex[:8]}"
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 10,
    }


async def test_redis_restart_mid_period_keeps_the_spend(
    origin_server, make_project, origin_admin, redis_outage
):
    project = await make_project("restart")
    limit = Decimal("0.015")
    res = await origin_admin.post(
        f"/projects/{project.id}/budgets", json={"limit_cents": str(limit), "period": "month"}
    )
    assert res.status_code == 201
    api = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    spent = Decimal(0)
    for _ in range(4):
        raw = await api.chat.completions.with_raw_response.create(**ask())
        spent += Decimal(raw.headers["x-prism-cost-cents"])
    await origin_server.rows(project.id, expect=4)  # the ledger has them in Postgres

    with redis_outage():
        pass  # stopped and started again: every counter is gone

    raw = await api.chat.completions.with_raw_response.create(**ask())
    cost = Decimal(raw.headers["x-prism-cost-cents"])
    assert Decimal(raw.headers["x-prism-budget-remaining-cents"]) == limit - spent - cost
    spent += cost
    while True:  # and the budget still ends where it would have
        try:
            raw = await api.chat.completions.with_raw_response.create(**ask())
        except openai.APIStatusError as exc:
            assert exc.body["code"] == "budget_exceeded"
            break
        spent += Decimal(raw.headers["x-prism-cost-cents"])
    assert spent <= limit


async def test_redis_down_refuses_block_budgets_with_503_and_lets_limits_through_until_back(
    origin_server, make_project, origin_admin, redis_outage
):
    budgeted, limited = await make_project("down-budget"), await make_project("down-limit")
    res = await origin_admin.post(
        f"/projects/{budgeted.id}/budgets", json={"limit_cents": "5", "period": "month"}
    )
    assert res.status_code == 201
    res = await origin_admin.put(f"/projects/{limited.id}/limits", json={"requests_per_minute": 5})
    assert res.status_code == 200
    apis = [
        openai.AsyncOpenAI(base_url=origin_server.base_url, api_key=p.api_key, max_retries=0)
        for p in (budgeted, limited)
    ]
    for api in apis:  # both policies loaded and their counters in use
        await api.chat.completions.create(**ask())
    with redis_outage():
        with pytest.raises(openai.APIStatusError) as caught:
            await apis[0].chat.completions.create(**ask())
        assert caught.value.status_code == 503
        assert "Budgets can't be checked right now" in caught.value.body["message"]
        answer = await apis[1].chat.completions.create(**ask())  # unchecked, not refused
        assert answer.choices
    # Back at once: a refused connection is no reason to wait out a cooldown.
    assert (await apis[0].chat.completions.create(**ask())).choices


@pytest.fixture
async def counters(redis_server: Any) -> AsyncIterator[Counters]:
    client = Counters(redis_server.url, 2.0)
    yield client
    await client.aclose()


async def test_a_periodic_reconcile_counts_lost_settles_once_and_never_one_on_its_way(
    store: Store, counters: Counters, redis: aioredis.Redis
) -> None:
    """Redis is the fast copy of a budget's spend, Postgres the truth. A request's usage row
    can reach Postgres a moment before its settle reaches Redis; a reconcile in that moment
    must not take the request from the ledger, or its settle counts it a second time."""
    project = await store.create_project("reconcile-race")
    budget = Budget(str(uuid.uuid4()), project.id, "month", Decimal(10), "block")
    reconciler = Reconciler(store, counters, Policies(store, counters), 60.0)
    now = datetime.now(UTC)
    h, z = budget_keys(project.id, budget.id, budget.bounds(now)[0])

    async def ledger(cents: str, age: timedelta) -> str:
        row = usage_row(
            project.id,
            project.org_id,
            cost_total_cents=Decimal(cents),
            created_at=(now - age).isoformat(),
        )
        await store.insert_usage([row.to_json()])
        return row.request_id

    async def settle(request_id: str, cents: str) -> None:
        units = to_units(Decimal(cents))
        await redis.eval(SETTLE, 4, "tokens:m", "tokens:d", h, z, request_id, 0, units, 1)

    await ledger("0.5", timedelta(minutes=5))
    await reconciler.ensure(budget, now)  # a new counter: the whole ledger, 0.5
    assert int(await redis.hget(h, "s")) == to_units(Decimal("0.5"))
    await ledger("0.125", timedelta(seconds=30))  # its settle never arrived (Redis was away)
    arriving = await ledger("0.25", timedelta(0))  # its settle is on its way
    await reconciler.reconcile_all([budget])
    await settle(arriving, "0.25")
    assert int(await redis.hget(h, "s")) == to_units(Decimal("0.875"))
    await reconciler.reconcile_all([budget])  # and again: nothing is counted twice
    assert int(await redis.hget(h, "s")) == to_units(Decimal("0.875"))
