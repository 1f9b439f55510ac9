"""Postgres is the truth of a budget: a Redis restart in the middle of a period resets nothing,
and while Redis is down a block budget refuses rather than letting spend through unchecked."""

from __future__ import annotations

import uuid
from decimal import Decimal

import openai
import pytest


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


async def test_redis_down_refuses_block_budgets_with_503_and_lets_limits_through(
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
