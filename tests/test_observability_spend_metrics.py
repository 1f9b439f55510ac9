"""Spend control's refusals in GET /metrics on a real origin: a request over a rate limit and
one over a block budget are each counted once, by what refused them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

NAME = "prism_budget_events_total"


def events(origin: Any) -> dict[str, float]:
    text = httpx.get(f"{origin.url}/metrics", timeout=30).text
    return {
        s.labels["event"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == NAME
    }


def ask(origin: Any, key: str) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": uuid.uuid4().hex}]}
    return httpx.post(
        f"{origin.base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


async def test_rate_limit_and_budget_refusals_are_counted(
    origin_server: Any, make_project: Any, origin_admin: Any
) -> None:
    limited, budgeted = await make_project("m-limit"), await make_project("m-budget")
    res = await origin_admin.put(f"/projects/{limited.id}/limits", json={"requests_per_day": 1})
    assert res.status_code == 200, res.text
    body = {"limit_cents": "0", "period": "month"}
    res = await origin_admin.post(f"/projects/{budgeted.id}/budgets", json=body)
    assert res.status_code in (200, 201), res.text
    before = events(origin_server)

    assert ask(origin_server, limited.api_key).status_code == 200
    over_limit = ask(origin_server, limited.api_key)
    over_budget = ask(origin_server, budgeted.api_key)
    after = events(origin_server)

    assert over_limit.status_code == 429 and over_limit.json()["error"]["code"] == "rate_limited"
    assert over_budget.status_code == 402
    assert over_budget.json()["error"]["code"] == "budget_exceeded"
    for event in ("rate_limited", "refused"):
        assert after.get(event, 0.0) - before.get(event, 0.0) == 1, event
