"""Budgets as a client meets them, through the official openai SDK against the real origin.

Prices used below (shared/catalog.py, USD per million tokens): gpt-4o-mini input 0.15, output
0.60. The simulator bills 4 characters per token, so every request here has a known cost.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from decimal import Decimal
from typing import Any

import openai
import pytest

from shared.worst_case import worst_case_cents

MODEL = "gpt-4o-mini"


def client(origin_server: Any, project: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )


def ask(n: int, max_tokens: int = 10) -> dict[str, Any]:
    content = f"question {n} {uuid.uuid4().hex[:8]}"  # unique: never a cache hit
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
    }


async def budget(admin: Any, project_id: str, **body: Any) -> dict[str, Any]:
    res = await admin.post(f"/projects/{project_id}/budgets", json=body)
    assert res.status_code == 201, res.text
    return dict(res.json())


async def spend_until_refused(
    api: openai.AsyncOpenAI, limit: int = 200, **extra: Any
) -> tuple[list[Any], openai.APIStatusError | None]:
    served: list[Any] = []
    for n in range(limit):
        try:
            served.append(await api.chat.completions.with_raw_response.create(**ask(n), **extra))
        except openai.APIStatusError as exc:
            return served, exc
    return served, None


async def test_block_budget_serves_until_one_more_worst_case_does_not_fit(
    origin_server, make_project, origin_admin
):
    project = await make_project("budget-seq")
    limit = Decimal("0.0123")
    made = await budget(origin_admin, project.id, limit_cents=str(limit), period="day")
    served, refusal = await spend_until_refused(client(origin_server, project))

    assert refusal is not None and refusal.status_code == 402
    assert len(served) >= 8  # ~0.00074 cents each, worst case ~0.0052 (see test_spend_scripts)
    error = refusal.body
    assert error["code"] == "budget_exceeded" and error["type"] == "insufficient_quota"
    message = error["message"]
    assert made["id"] in message and "daily" in message and "project" in message
    assert re.search(r"resets at \d{4}-\d\d-\d\dT00:00:00Z", message)
    costs = [Decimal(r.headers["x-prism-cost-cents"]) for r in served]
    spent = sum(costs, Decimal(0))
    assert spent <= limit
    # Refused only because one more worst case no longer fits, and the message says so.
    worst = Decimal(re.search(r"could cost up to ([0-9.]+) cents", message).group(1))
    assert worst >= worst_case_cents(ask(0), [MODEL]) * Decimal("0.99")
    assert limit - spent < worst
    assert "not spent yet" in message
    # Every answer said what was left of the budget after it.
    remaining = [Decimal(r.headers["x-prism-budget-remaining-cents"]) for r in served]
    running = [limit - sum(costs[: i + 1], Decimal(0)) for i in range(len(costs))]
    assert remaining == running


async def test_request_whose_worst_case_exceeds_an_unspent_budget_is_refused(
    origin_server, make_project, origin_admin
):
    project = await make_project("budget-small")
    await budget(origin_admin, project.id, limit_cents="0.05", period="month")
    api = client(origin_server, project)
    with pytest.raises(openai.APIStatusError) as caught:
        await api.chat.completions.create(**{**ask(1), "max_tokens": 5000})
    assert caught.value.status_code == 402
    message = caught.value.body["message"]
    assert "monthly" in message and "only 0.05 of 0.05 cents are left" in message
    # A request small enough to fit is served: the budget itself was never spent.
    small = {**ask(2), "max_tokens": 1}
    small["messages"][0]["content"] = "hi"
    answer = await api.chat.completions.create(**small)
    assert answer.choices


async def test_tag_budget_covers_only_its_tag(origin_server, make_project, origin_admin):
    project = await make_project("budget-tag")
    await budget(origin_admin, project.id, limit_cents="0", period="week", tag="feature=search")
    api = client(origin_server, project)
    with pytest.raises(openai.APIStatusError) as caught:
        await api.chat.completions.create(
            **ask(1), extra_headers={"X-Prism-Tags": "feature=search,team=a"}
        )
    assert caught.value.status_code == 402
    assert "tag feature=search" in caught.value.body["message"]
    assert "weekly" in caught.value.body["message"]
    other = await api.chat.completions.with_raw_response.create(
        **ask(2), extra_headers={"X-Prism-Tags": "feature=chat"}
    )
    assert other.parse().choices and "x-prism-budget-remaining-cents" not in other.headers


async def test_warn_budget_never_refuses_warns_at_80_percent_once_recorded(
    origin_server, make_project, origin_admin, audit_events
):
    project = await make_project("budget-warn")
    made = await budget(
        origin_admin, project.id, limit_cents="0.002", period="month", action="warn"
    )
    api = client(origin_server, project)
    warnings = []
    for n in range(6):  # ~0.0006 cents each: well past the limit, never refused
        raw = await api.chat.completions.with_raw_response.create(**ask(n))
        warnings.append(raw.headers.get("x-prism-budget-warning"))
    assert warnings[0] is None
    first = next(i for i, w in enumerate(warnings) if w)
    assert all(warnings[first:])
    assert f"budget={made['id']}" in warnings[-1] and "period=month" in warnings[-1]
    used = int(re.search(r"used=(\d+)%", warnings[-1]).group(1))
    assert used >= 100
    assert raw.headers["x-prism-budget-remaining-cents"] == "0"
    await origin_server.rows(project.id, expect=6)
    assert (await audit_events(project.id, "budget.warn", 1)).count("budget.warn") == 1


async def test_the_answer_that_takes_a_budget_past_80_percent_is_the_first_to_warn(
    origin_server, make_project, origin_admin
):
    """The warning says how much is used after this request (`used=`), so it appears on the
    answer whose own cost crossed 80 %, not one request later."""
    project = await make_project("budget-warn-cross")
    limit = Decimal("0.004")
    await budget(origin_admin, project.id, limit_cents=str(limit), period="month", action="warn")
    api = client(origin_server, project)
    spent, seen = Decimal(0), []
    for n in range(10):  # ~0.0006 cents each: crosses 80 % (0.0032) around the sixth
        raw = await api.chat.completions.with_raw_response.create(**ask(n))
        spent += Decimal(raw.headers["x-prism-cost-cents"])
        warning = raw.headers.get("x-prism-budget-warning")
        seen.append((spent / limit, warning))
        if warning is not None:
            used = int(re.search(r"used=(\d+)%", warning).group(1))
            assert used == int(spent * 100 / limit)
    assert any(share >= Decimal("0.8") for share, _ in seen)
    assert [w is not None for _, w in seen] == [share >= Decimal("0.8") for share, _ in seen]


async def test_remaining_header_is_the_tightest_budget(origin_server, make_project, origin_admin):
    project = await make_project("budget-tight")
    await budget(origin_admin, project.id, limit_cents="5", period="month")
    await budget(origin_admin, project.id, limit_cents="1", period="day", action="warn")
    raw = await client(origin_server, project).chat.completions.with_raw_response.create(**ask(1))
    cost = Decimal(raw.headers["x-prism-cost-cents"])
    assert Decimal(raw.headers["x-prism-budget-remaining-cents"]) == Decimal(1) - cost


async def test_cache_hits_are_free_and_served_when_the_budget_is_spent(
    origin_server, make_project, origin_admin
):
    project = await make_project("budget-hit")
    api = client(origin_server, project)
    first = ask(1, max_tokens=200)  # a complete answer: a cut one is never cached
    await api.chat.completions.create(**first)
    for _ in range(50):  # the answer is stored just after it is sent
        again = await api.chat.completions.with_raw_response.create(**first)
        if again.headers["x-prism-cache-status"].startswith("hit"):
            break
        await asyncio.sleep(0.1)
    await budget(origin_admin, project.id, limit_cents="0", period="day")
    hit = await api.chat.completions.with_raw_response.create(**first)
    assert hit.headers["x-prism-cache-status"].startswith("hit")
    assert hit.headers["x-prism-cost-cents"] == "0"
    with pytest.raises(openai.APIStatusError) as caught:
        await api.chat.completions.create(**ask(2))
    assert caught.value.body["code"] == "budget_exceeded"
    assert re.search(r"is spent: [0-9.]+ of 0 cents", caught.value.body["message"])


async def test_zero_cost_models_are_never_blocked(origin_server, make_project, origin_admin):
    project = await make_project("budget-free")
    for name in ("openai", "ollama"):
        res = await origin_admin.post(
            f"/projects/{project.id}/provider_keys",
            json={"provider": name, "api_key": "k", "base_url": "https://llm.example/v1"},
        )
        assert res.status_code == 201, res.text
    await budget(origin_admin, project.id, limit_cents="0", period="day")
    api = client(origin_server, project)
    free = await api.chat.completions.with_raw_response.create(
        model="ollama/llama3", messages=[{"role": "user", "content": "hello"}]
    )
    assert free.parse().choices and free.headers["x-prism-cost-cents"] == "0"
    with pytest.raises(openai.APIStatusError) as caught:
        await api.chat.completions.create(**ask(1))
    assert caught.value.status_code == 402


@pytest.mark.parametrize(
    "body,param",
    [
        ({"limit_cents": -1}, "limit_cents"),
        ({"limit_cents": "lots"}, "limit_cents"),
        ({"limit_cents": True}, "limit_cents"),
        ({"limit_cents": 1, "period": "year"}, "period"),
        ({"limit_cents": 1, "action": "alert"}, "action"),
        ({"limit_cents": 1, "tag": "feature"}, "tag"),
        ({"limit_cents": 1, "tag": "bad key=x"}, "tag"),
    ],
)
async def test_bad_budgets_are_400_naming_the_field(
    origin_server, make_project, origin_admin, body, param
):
    project = await make_project("budget-bad")
    res = await origin_admin.post(f"/projects/{project.id}/budgets", json=body)
    assert res.status_code == 400 and res.json()["error"]["param"] == param


async def test_budgets_are_listed_with_spend_and_deleted(origin_server, make_project, origin_admin):
    project = await make_project("budget-admin")
    made = await budget(origin_admin, project.id, limit_cents="2.5", period="week", tag="team=x")
    listed = (await origin_admin.get(f"/projects/{project.id}/budgets")).json()["data"]
    assert [(b["id"], b["limit_cents"], b["tag"], b["spent_cents"]) for b in listed] == [
        (made["id"], "2.5", "team=x", "0")
    ]
    gone = await origin_admin.delete(f"/budgets/{made['id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert (await origin_admin.delete(f"/budgets/{made['id']}")).status_code == 404
    assert (await origin_admin.get(f"/projects/{project.id}/budgets")).json()["data"] == []
    audit = (await origin_admin.get(f"/projects/{project.id}/policy_audit")).json()["data"]
    assert sorted(a["event"] for a in audit) == ["budget.created", "budget.deleted"]
