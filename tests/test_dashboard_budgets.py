"""Budgets on the dashboard: a team lead sees each budget's spend this period against its
limit, and an owner or admin adds one that the gateway enforces from the next request, with
the same checks (and audit row) as `prism budgets create`."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from origin.dashboard import fmt
from shared.options import RequestOptions
from shared.pricing import TokenUsage, cost_for_model
from shared.usage import Caller, build_row
from tests.fixtures.members import Member, insert_rows, new_member, signed_in
from tests.test_dashboard_http import signed_in_browser


@pytest.fixture
async def owner(pg: Any) -> Member:
    return await new_member(pg.dsn, "budgets")


async def budget_rows(pg: Any, project_id: str) -> list[dict[str, Any]]:
    conn = await pg.connect()
    try:
        rows = await conn.fetch(
            "SELECT id, limit_cents, period, action, tag_key, tag_value FROM budgets"
            " WHERE project_id = $1",
            project_id,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def budget_form(member: Member, **fields: str) -> dict[str, str]:
    return {"project": member.project_id, "period": "month", "action": "block", **fields}


async def ask(origin_server: Any, member: Member, text: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=origin_server.base_url, timeout=30) as api:
        return await api.post(
            "/chat/completions",
            headers={"Authorization": f"Bearer {member.api_key}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
        )


async def test_a_block_budget_added_on_the_dashboard_refuses_the_next_request(
    origin_server: Any, owner: Member, pg: Any, sim: Any
) -> None:
    # The first answer has the origin load (and keep) the project's policy without budgets:
    # the budget must apply from the next request, not when that copy expires.
    assert (await ask(origin_server, owner, "before the budget")).status_code == 200
    async for http in signed_in_browser(origin_server.url, owner):
        added = await http.post("/dashboard/budgets", data=budget_form(owner, limit_dollars="0"))
        assert added.status_code == 303
        page = await http.get("/dashboard/budgets", params={"project": owner.project_id})
    (row,) = await budget_rows(pg, owner.project_id)
    assert (row["limit_cents"], row["period"], row["action"]) == (0, "month", "block")
    assert "whole project" in page.text and "block" in page.text
    answer = await ask(origin_server, owner, "after the budget")
    assert answer.status_code == 402, answer.text
    assert answer.json()["error"]["code"] == "budget_exceeded"
    conn = await pg.connect()
    try:
        actor = await conn.fetchval(
            "SELECT actor FROM policy_audit WHERE project_id = $1 AND event = 'budget.created'",
            owner.project_id,
        )
    finally:
        await conn.close()
    assert actor == f"user:{owner.email}"
    # The page's log shows who added the budget and, once the gateway's audit batch is
    # written (about every half second), that it refused a request.
    async for http in signed_in_browser(origin_server.url, owner):
        for _ in range(40):
            page = await http.get("/dashboard/budgets", params={"project": owner.project_id})
            log = page.text.split("Changes and refusals", 1)[1]
            if "budget refused a request" in log:
                break
            await asyncio.sleep(0.25)
    assert "budget refused a request" in log and "budget added" in log
    assert f"user:{owner.email}" in log and "block at $0.00 a month" in log


async def test_the_page_shows_this_periods_spend_against_each_budget(
    origin_server: Any, owner: Member, pg: Any
) -> None:
    usage = TokenUsage(prompt_tokens=120_000, completion_tokens=40_000)
    cost = cost_for_model("gpt-4o", usage)
    tagged = build_row(
        request_id=f"req_budget_page_{owner.project_id[:8]}",
        caller=Caller(owner.org_id, owner.project_id),
        options=RequestOptions(tags={"feature": "search"}),
        task_type="simple",
        model_used="gpt-4o",
        provider="openai",
        usage=usage,
        cost=cost,
        latency_ms=300,
        was_streaming=False,
        requested_model="gpt-4o",
    )
    await insert_rows(pg, [tagged])
    limit = Decimal("2.00")  # dollars
    form = budget_form(owner, limit_dollars=str(limit), action="warn", tag="feature=search")
    async for http in signed_in_browser(origin_server.url, owner):
        assert (await http.post("/dashboard/budgets", data=form)).status_code == 303
        page = (await http.get("/dashboard/budgets", params={"project": owner.project_id})).text
    row = page.split("<tbody>", 1)[1]
    percent = cost.cents / (limit * 100) * 100
    assert fmt.money(cost.cents) in row and "$2.00" in row and f"{percent:.0f}%" in row
    assert "feature=search" in row and "warn" in row


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"limit_dollars": "fifty"}, "amount in US dollars"),
        ({"limit_dollars": "-5"}, "amount in US dollars"),
        ({"limit_dollars": "5", "tag": "search"}, "key=value"),
        ({"limit_dollars": "5", "period": "year"}, "day, week or month"),
        # Beyond what decimal arithmetic holds: refused, not our 500.
        ({"limit_dollars": "1e999999999"}, "amount in US dollars"),
    ],
)
async def test_a_bad_budget_is_refused_with_what_to_fix(
    origin_server: Any, owner: Member, pg: Any, fields: dict[str, str], message: str
) -> None:
    async for http in signed_in_browser(origin_server.url, owner):
        response = await http.post("/dashboard/budgets", data=budget_form(owner, **fields))
    assert response.status_code == 400 and message in response.text
    assert await budget_rows(pg, owner.project_id) == []


async def test_another_projects_budget_cannot_be_deleted_through_mine(
    origin_server: Any, owner: Member, pg: Any
) -> None:
    other = await new_member(pg.dsn, "budgets-other")
    async for http in signed_in_browser(origin_server.url, other):
        form = budget_form(other, limit_dollars="10")
        assert (await http.post("/dashboard/budgets", data=form)).status_code == 303
    (theirs,) = await budget_rows(pg, other.project_id)
    async for http in signed_in_browser(origin_server.url, owner):
        response = await http.post(
            "/dashboard/budgets/delete",
            data={"project": owner.project_id, "budget_id": str(theirs["id"])},
        )
        assert response.status_code == 400 and "No such budget" in response.text
        mine = await http.post("/dashboard/budgets", data=budget_form(owner, limit_dollars="1"))
        assert mine.status_code == 303
        (own,) = await budget_rows(pg, owner.project_id)
        deleted = await http.post(
            "/dashboard/budgets/delete",
            data={"project": owner.project_id, "budget_id": str(own["id"])},
        )
        assert deleted.status_code == 303
    assert len(await budget_rows(pg, other.project_id)) == 1
    assert await budget_rows(pg, owner.project_id) == []


async def test_a_rate_limit_set_on_the_dashboard_holds_from_the_next_request(
    origin_server: Any, owner: Member, pg: Any, sim: Any
) -> None:
    assert (await ask(origin_server, owner, "before the limit")).status_code == 200
    form = {"project": owner.project_id, "subject": "project", "requests_per_minute": "1"}
    async for http in signed_in_browser(origin_server.url, owner):
        assert (await http.post("/dashboard/limits", data=form)).status_code == 303
        page = (await http.get("/dashboard/budgets", params={"project": owner.project_id})).text
    limits = page.split("<h2>Rate limits</h2>", 1)[1]
    assert "<td>whole project</td><td class=num>1</td>" in limits
    statuses = [(await ask(origin_server, owner, f"limited {n}")).status_code for n in range(2)]
    assert statuses == [200, 429]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"requests_per_minute": "ten"}, "Requests / min: a whole number above 0"),
        ({"tokens_per_minute": "-3"}, "Tokens / min: a whole number above 0"),
        # Digits to str.isdigit() that int() does not take, and more digits than int() reads.
        ({"requests_per_minute": "\u00b2"}, "Requests / min: a whole number above 0"),
        ({"requests_per_day": "9" * 5000}, "Requests / day: a whole number above 0"),
        ({"subject": "00000000-0000-0000-0000-000000000000"}, "No such API key"),
    ],
)
async def test_bad_rate_limits_are_refused_with_what_to_fix(
    origin_server: Any, owner: Member, pg: Any, fields: dict[str, str], message: str
) -> None:
    form = {"project": owner.project_id, "subject": "project", **fields}
    async for http in signed_in_browser(origin_server.url, owner):
        response = await http.post("/dashboard/limits", data=form)
    assert response.status_code == 400 and message in response.text
    conn = await pg.connect()
    try:
        rows = await conn.fetchval(
            "SELECT count(*) FROM rate_limits WHERE project_id = $1", owner.project_id
        )
    finally:
        await conn.close()
    assert rows == 0


async def test_the_page_reads_budgets_and_spend_without_the_service_key(
    origin_server: Any, owner: Member, pg: Any
) -> None:
    """For as long as service_role may not read budgets or their spend, the page still shows
    them: it reads as the viewer, under row-level security."""
    conn = await pg.connect()
    await conn.execute(
        "INSERT INTO budgets (project_id, period, limit_cents, action) VALUES ($1, 'day', 700, 'warn')",
        owner.project_id,
    )
    revoked = [
        "SELECT ON budgets",
        "EXECUTE ON FUNCTION budget_spend(uuid, timestamptz, text, text, timestamptz)",
    ]
    try:
        for what in revoked:
            await conn.execute(f"REVOKE {what} FROM service_role")
        async for http in signed_in_browser(origin_server.url, owner):
            page = await http.get("/dashboard/budgets", params={"project": owner.project_id})
    finally:
        for what in revoked:
            await conn.execute(f"GRANT {what} TO service_role")
        await conn.close()
    assert page.status_code == 200
    row = page.text.split("<tbody>", 1)[1]
    assert "<td>whole project</td>" in row and "$7.00" in row


async def test_budget_spend_sums_another_organisations_project_as_nothing(
    postgrest: Any, owner: Member, pg: Any
) -> None:
    other = await new_member(pg.dsn, "budgets-spend-other")
    usage = TokenUsage(prompt_tokens=1000, completion_tokens=1000)
    row = build_row(
        request_id=f"req_budget_rls_{other.project_id[:8]}",
        caller=Caller(other.org_id, other.project_id),
        options=RequestOptions(),
        task_type="simple",
        model_used="gpt-4o",
        provider="openai",
        usage=usage,
        cost=cost_for_model("gpt-4o", usage),
        latency_ms=10,
        was_streaming=False,
        requested_model="gpt-4o",
    )
    await insert_rows(pg, [row])
    args = {"p_project_id": other.project_id, "p_since": "2000-01-01T00:00:00+00:00"}
    async with signed_in(postgrest, owner) as client:
        assert Decimal(str((await client.rpc("budget_spend", args).execute()).data)) == 0
    async with signed_in(postgrest, other) as client:
        assert Decimal(str((await client.rpc("budget_spend", args).execute()).data)) > 0
