"""The features page's total is every request of the period: requests that do not carry the
chosen tag key (no tags, or only other keys) are a row of their own, not left out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from origin.dashboard import view_features
from shared.options import RequestOptions
from shared.pricing import TokenUsage, cost_for_model
from shared.usage import Caller, UsageRow, build_row
from tests.fixtures.members import Member, insert_rows, new_member, signed_in

MONEY = ("spend_cents", "cache_saved_cents", "native_saved_cents", "routing_saved_cents")


def _row(member: Member, n: int, tags: dict[str, str] | None) -> UsageRow:
    usage = TokenUsage(prompt_tokens=500 * n, completion_tokens=100 * n)
    return build_row(
        request_id=f"req_untagged_{member.project_id[:8]}_{n}",
        caller=Caller(member.org_id, member.project_id),
        options=RequestOptions(mode="balanced", tags=tags),
        task_type="simple",
        model_used="gpt-4o-mini",
        provider="openai",
        usage=usage,
        cost=cost_for_model("gpt-4o-mini", usage),
        latency_ms=100 * n,
        was_streaming=False,
        requested_model="auto",
    )


@pytest.fixture(scope="module")
async def member(pg: Any) -> Member:
    me = await new_member(pg.dsn, "untagged")
    rows = [
        _row(me, 1, {"feature": "search", "team": "cx"}),
        _row(me, 2, {"feature": "chat"}),
        _row(me, 3, {"team": "cx"}),  # tagged, but not with the key the page groups by
        _row(me, 4, None),
    ]
    await insert_rows(pg, rows)
    return me


async def _features(postgrest: Any, member: Member, key: str) -> dict[str, Any]:
    today = str(datetime.now(UTC).date())
    args = {"p_project": member.project_id, "p_key": key, "p_from": today, "p_to": today}
    async with signed_in(postgrest, member) as client:
        data: dict[str, Any] = (await client.rpc("dash_features", args).execute()).data
    return data


async def test_the_total_is_every_request_and_the_untagged_ones_are_a_row(
    postgrest: Any, pg_conn: asyncpg.Connection, member: Member
) -> None:
    ledger = await pg_conn.fetchrow(
        "SELECT count(*) AS requests, sum(cost_total_cents) AS spend_cents,"
        " sum(routing_saved_cents) AS routing_saved_cents, avg(latency_ms) AS latency"
        " FROM usage_logs WHERE project_id = $1",
        member.project_id,
    )
    result = await _features(postgrest, member, "feature")
    rows, totals = result["rows"], result["totals"]
    assert [r["value"] for r in rows][-1] is None
    untagged = rows[-1]
    assert untagged["requests"] == 2
    assert Decimal(untagged["spend_cents"]) == sum(
        (_row(member, n, None).cost_total_cents for n in (3, 4)), Decimal(0)
    )
    assert totals["requests"] == ledger["requests"] == 4
    for money in ("spend_cents", "routing_saved_cents"):
        assert Decimal(totals[money]) == ledger[money], money
    for money in MONEY:
        assert sum(Decimal(r[money]) for r in rows) == Decimal(totals[money]), money
    assert Decimal(str(totals["avg_latency_ms"])) == round(ledger["latency"], 1)


async def test_the_page_names_the_untagged_row_and_links_no_tag_filter(
    postgrest: Any, member: Member
) -> None:
    result = await _features(postgrest, member, "team")
    today = datetime.now(UTC).date()
    page = view_features.render(result, ["feature", "team"], "team", today, today, "p")
    assert "(no team tag)" in page
    assert "team%3DNone" not in page and ">None<" not in page
