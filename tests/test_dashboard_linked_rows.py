"""Rows linked to another request (a fusion request's panel calls, a hedge's losing attempt)
on the dashboard: spend is the sum over rows without a parent plus hedge losers (a fusion
parent's row already carries its panel's cost), and only rows without a parent are requests.
The rows are made by the gateway's own builder and read back through the dashboard's RPC."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from starlette.datastructures import QueryParams

from infra.local.postgres import apply_migrations, migration_files
from origin.dashboard import view_requests
from shared.options import RequestOptions
from shared.pricing import Cost, TokenUsage, cost_for_model
from shared.usage import Caller, UsageRow, build_row
from tests.fixtures.members import Member, insert_rows, new_member, signed_in

TAGS = {"feature": "fusion-demo", "team": "cx"}
COUNTED = "parent_request_id IS NULL OR error_code = 'hedge_lost'"


def _row(member: Member, n: int, model: str, **kw: Any) -> UsageRow:
    usage = TokenUsage(prompt_tokens=1000 + n, completion_tokens=200 + n)
    cost = kw.pop("cost", None) or cost_for_model(model, usage)
    return build_row(
        request_id=f"req_linked_{member.project_id[:8]}_{n}",
        caller=Caller(member.org_id, member.project_id),
        options=RequestOptions(mode=kw.pop("mode", "sport"), tags=dict(TAGS)),
        task_type="reasoning",
        model_used=model,
        provider="openai",
        usage=usage,
        cost=cost,
        latency_ms=kw.pop("latency_ms", 400 + n),
        was_streaming=False,
        requested_model="gpt-4o",
        **kw,
    )


def _rows(member: Member) -> list[UsageRow]:
    """A fusion request (three panel calls, the parent carrying them), a hedged request whose
    loser finished in a tie (billed, usage reported), and a plain request."""
    parent_id = f"req_linked_{member.project_id[:8]}_0"
    panel = [
        _row(member, n, m, parent_request_id=parent_id, mode="fusion", latency_ms=30_000)
        for n, m in ((1, "gpt-4o"), (2, "claude-haiku-4-5"), (3, "gemini-2.5-flash"))
    ]
    synthesis = cost_for_model("gpt-4o", TokenUsage(prompt_tokens=1000, completion_tokens=200))
    carried = Cost(
        synthesis.cents + sum((r.cost_total_cents for r in panel), Decimal(0)), Decimal(0)
    )
    fusion = _row(member, 0, "gpt-4o", cost=carried, mode="fusion")
    winner = _row(member, 4, "gpt-4o-mini")
    loser = _row(
        member, 5, "gpt-4o", success=False, error_code="hedge_lost",
        parent_request_id=winner.request_id, latency_ms=90_000,
    )  # fmt: skip
    return [*panel, fusion, winner, loser, _row(member, 6, "gpt-4o-mini")]


@pytest.fixture(scope="module")
async def member(pg: Any) -> Member:
    me = await new_member(pg.dsn, "linked")
    await insert_rows(pg, _rows(me))
    return me


async def rpc(client: Any, fn: str, **args: Any) -> Any:
    return (await client.rpc(fn, {f"p_{k}": v for k, v in args.items()}).execute()).data


async def _ledger(conn: asyncpg.Connection, project_id: str) -> asyncpg.Record:
    return await conn.fetchrow(
        f"SELECT sum(cost_total_cents) FILTER (WHERE {COUNTED}) AS spend,"
        " count(*) FILTER (WHERE parent_request_id IS NULL) AS requests,"
        " count(*) FILTER (WHERE parent_request_id IS NULL AND NOT success) AS errors,"
        " sum(routing_saved_cents) FILTER (WHERE parent_request_id IS NULL) AS routing,"
        " avg(latency_ms) FILTER (WHERE parent_request_id IS NULL) AS latency"
        " FROM usage_logs WHERE project_id = $1",
        project_id,
    )


async def test_overview_counts_a_fusion_panel_once_and_linked_rows_as_no_requests(
    postgrest: Any, pg_conn: asyncpg.Connection, member: Member
) -> None:
    ledger = await _ledger(pg_conn, member.project_id)
    assert (ledger["requests"], ledger["errors"]) == (3, 0)
    async with signed_in(postgrest, member) as client:
        overview = await rpc(client, "dash_overview", project=member.project_id)
    totals = overview["totals"]
    assert Decimal(totals["spend_today"]) == Decimal(totals["spend_30d"]) == ledger["spend"]
    assert (totals["requests_today"], totals["errors_30d"]) == (3, 0)
    assert sum(overview["by_cache_status"].values()) == 3
    assert Decimal(overview["savings_30d"]["routing_cents"]) == ledger["routing"]
    # The panel's 30 s and the loser's 90 s were no request's latency.
    assert overview["latency_7d"]["p95"] < 1000


async def test_features_count_a_fusion_panel_once_and_linked_rows_as_no_requests(
    postgrest: Any, pg_conn: asyncpg.Connection, member: Member
) -> None:
    ledger = await _ledger(pg_conn, member.project_id)
    today = str(datetime.now(UTC).date())
    async with signed_in(postgrest, member) as client:
        result = await rpc(
            client, "dash_features", project=member.project_id, key="feature", **{"from": today},
            to=today,
        )  # fmt: skip
    (row,) = result["rows"]
    assert (row["value"], row["requests"]) == ("fusion-demo", 3)
    assert Decimal(row["spend_cents"]) == ledger["spend"]
    assert Decimal(row["routing_saved_cents"]) == ledger["routing"]
    assert Decimal(str(row["avg_latency_ms"])) == round(ledger["latency"], 1)


async def test_the_migration_rebuilds_rollups_that_counted_linked_rows(
    pg: Any, pg_conn: asyncpg.Connection, tmp_path: Any
) -> None:
    """A database that rolled up linked rows before 0028 reads as the ledger says after it."""
    name = f"linked_{uuid.uuid4().hex[:12]}"
    await pg_conn.execute(f'CREATE DATABASE "{name}"')
    dsn = pg.dsn.rsplit("/", 1)[0] + f"/{name}"
    for path in migration_files():
        if path.name < "0028":
            shutil.copy(path, tmp_path / path.name)
    try:
        await apply_migrations(dsn, tmp_path)
        me = Member("", "", "", str(uuid.uuid4()), str(uuid.uuid4()), "")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "INSERT INTO usage_logs"
                " SELECT * FROM jsonb_populate_recordset(NULL::usage_logs, $1)",
                json.dumps([r.to_json() for r in _rows(me)]),
            )
            assert "0028_linked_rows_in_rollups.sql" in await apply_migrations(dsn)
            ledger = await _ledger(conn, me.project_id)
            hourly = await conn.fetchrow(
                "SELECT sum(spend_cents) AS spend, sum(requests) AS requests FROM usage_hourly"
            )
            tagged = await conn.fetchval(
                "SELECT sum(requests) FROM usage_tag_daily WHERE tag_key = 'feature'"
            )
            histogram = await conn.fetchval("SELECT sum(requests) FROM usage_latency_daily")
        finally:
            await conn.close()
    finally:
        await pg_conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    assert (hourly["spend"], hourly["requests"]) == (ledger["spend"], 3)
    assert tagged == histogram == 3


async def test_budget_spend_counts_a_fusion_panel_once(
    pg_conn: asyncpg.Connection, member: Member
) -> None:
    """Budgets are rebuilt from the ledger with the same rule (`prism budgets list` shows it)."""
    ledger = await _ledger(pg_conn, member.project_id)
    for tag in ((None, None), ("feature", "fusion-demo")):
        spent = await pg_conn.fetchval(
            "SELECT public.budget_spend($1, now() - interval '1 day', $2, $3)",
            member.project_id,
            *tag,
        )
        assert Decimal(spent) == ledger["spend"], tag


def test_a_linked_rows_receipt_names_its_request_and_whose_cost_it_is() -> None:
    me = Member("", "", "", str(uuid.uuid4()), str(uuid.uuid4()), "")
    panel, *_, fusion, winner, loser, plain = _rows(me)
    pages = {
        r.request_id: view_requests.render_detail(r.to_json(), [], me.project_id)
        for r in (panel, fusion, loser, plain)
    }
    assert f"/requests/{fusion.request_id}" in pages[panel.request_id]
    assert "already in that request&#x27;s cost" in pages[panel.request_id]
    assert f"/requests/{winner.request_id}" in pages[loser.request_id]
    assert "not in that request&#x27;s cost" in pages[loser.request_id]
    assert "Part of request" not in pages[fusion.request_id] + pages[plain.request_id]


async def test_the_request_log_marks_linked_rows_and_links_their_request(
    postgrest: Any, member: Member
) -> None:
    panel, *_, fusion, winner, loser, plain = _rows(member)
    async with signed_in(postgrest, member) as client:
        listed = await rpc(client, "dash_requests", project=member.project_id)
    by_id = {r["request_id"]: r for r in listed}
    assert by_id[panel.request_id]["parent_request_id"] == fusion.request_id
    assert by_id[plain.request_id]["parent_request_id"] is None

    def row_html(request_id: str) -> str:
        page = view_requests.render_list([by_id[request_id]], QueryParams(""), member.project_id)
        return page.split("<tbody>", 1)[1]

    assert "panel call" in row_html(panel.request_id)
    assert f"/requests/{fusion.request_id}" in row_html(panel.request_id)
    assert "hedge loser" in row_html(loser.request_id)
    assert f"/requests/{winner.request_id}" in row_html(loser.request_id)
    for plain_id in (fusion.request_id, winner.request_id, plain.request_id):
        assert "panel call" not in row_html(plain_id) and "hedge loser" not in row_html(plain_id)
