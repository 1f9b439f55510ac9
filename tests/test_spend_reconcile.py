"""Postgres is the truth of a budget: a Redis restart in the middle of a period resets nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

import openai


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
