"""The dashboard's SQL functions, called as the dashboard calls them (RPC through PostgREST with
a signed-in user's token), checked against plain SQL over usage_logs: the rollups and the
request log must agree with the ledger exactly, and show another organisation nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import openai
import pytest

from infra.local.usage_seed import seed
from shared.pricing import REFERENCE_MODELS, TokenUsage, cost_for_model
from tests.fixtures.members import Member, new_member, signed_in

ROWS = 3000
SAVED = "cache_saved_cents + native_cache_saved_cents + routing_saved_cents"


@pytest.fixture(scope="module")
async def seeded(pg: Any) -> tuple[Member, Member]:
    mine, theirs = await new_member(pg.dsn, "queries"), await new_member(pg.dsn, "others")
    conn = await pg.connect()
    try:
        await seed(conn, mine.org_id, mine.project_id, ROWS, 40, seed=3)
        await seed(conn, theirs.org_id, theirs.project_id, 500, 40, seed=4)
    finally:
        await conn.close()
    return mine, theirs


async def rpc(client: Any, fn: str, **args: Any) -> Any:
    return (await client.rpc(fn, {f"p_{k}": v for k, v in args.items()}).execute()).data


async def test_keyset_pages_walk_every_row_once_in_order(
    postgrest: Any, pg_conn: asyncpg.Connection, seeded: tuple[Member, Member]
) -> None:
    me = seeded[0]
    expected = [
        r["request_id"]
        for r in await pg_conn.fetch(
            "SELECT request_id FROM usage_logs WHERE project_id = $1"
            " ORDER BY created_at DESC, request_id DESC",
            me.project_id,
        )
    ]
    seen: list[str] = []
    cursor: dict[str, Any] = {}
    async with signed_in(postgrest, me) as client:
        while True:
            page = await rpc(client, "dash_requests", project=me.project_id, limit=200, **cursor)
            seen += [r["request_id"] for r in page]
            if len(page) < 200:
                break
            cursor = {"before_at": page[-1]["created_at"], "before_id": page[-1]["request_id"]}
    assert seen == expected and len(seen) >= ROWS


FILTERS = [
    ({"tag_key": "feature", "tag_value": "search"}, "request_tags ->> 'feature' = 'search'"),
    ({"tag_key": "team", "tag_value": "cx"}, "request_tags ->> 'team' = 'cx'"),
    ({"model": "claude-haiku-4-5"}, "model_used = 'claude-haiku-4-5'"),
    ({"provider": "cache"}, "provider = 'cache'"),
    ({"mode": "eco"}, "mode = 'eco'"),
    ({"task_type": "code"}, "task_type = 'code'"),
    ({"cache_status": "hit-semantic-edge"}, "cache_status = 'hit-semantic-edge'"),
    ({"session": "sess-5"}, "session_id = 'sess-5'"),
    ({"success": False}, "NOT success"),
    (
        {"from": "DAYS_AGO_10", "to": "DAYS_AGO_3", "model": "gpt-4o-mini"},
        "created_at >= 'DAYS_AGO_10' AND created_at < 'DAYS_AGO_3' AND model_used = 'gpt-4o-mini'",
    ),
]


@pytest.mark.parametrize(("args", "where"), FILTERS, ids=[w for _, w in FILTERS])
async def test_each_filter_returns_what_sql_returns(
    postgrest: Any,
    pg_conn: asyncpg.Connection,
    seeded: tuple[Member, Member],
    args: dict[str, Any],
    where: str,
) -> None:
    me = seeded[0]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = {f"DAYS_AGO_{n}": (today - timedelta(days=n)).isoformat() for n in (3, 10)}
    for name, value in days.items():
        where = where.replace(name, value)
    args = {k: days.get(v, v) if isinstance(v, str) else v for k, v in args.items()}
    expected = [
        r["request_id"]
        for r in await pg_conn.fetch(
            f"SELECT request_id FROM usage_logs WHERE project_id = $1 AND {where}"
            " ORDER BY created_at DESC, request_id DESC LIMIT 200",
            me.project_id,
        )
    ]
    async with signed_in(postgrest, me) as client:
        got = await rpc(client, "dash_requests", project=me.project_id, limit=200, **args)
    assert [r["request_id"] for r in got] == expected
    assert expected, "the seed should give every filter something to find"


async def test_overview_and_savings_equal_sql_sums_exactly(
    postgrest: Any, pg_conn: asyncpg.Connection, seeded: tuple[Member, Member]
) -> None:
    me = seeded[0]
    async with signed_in(postgrest, me) as client:
        overview = await rpc(client, "dash_overview", project=me.project_id)
    totals = overview["totals"]
    for days, field in ((1, "spend_today"), (7, "spend_7d"), (30, "spend_30d")):
        in_sql = await pg_conn.fetchval(
            "SELECT coalesce(sum(cost_total_cents), 0) FROM usage_logs"
            " WHERE project_id = $1 AND created_at >= public.dash_period_start($2)",
            me.project_id,
            days,
        )
        assert Decimal(totals[field]) == in_sql, field
    saved = await pg_conn.fetchval(
        f"SELECT sum({SAVED}) FROM usage_logs"
        " WHERE project_id = $1 AND created_at >= public.dash_period_start(30)",
        me.project_id,
    )
    assert Decimal(overview["savings_30d"]["total_cents"]) == saved
    statuses = await pg_conn.fetch(
        "SELECT cache_status, count(*) AS n FROM usage_logs"
        " WHERE project_id = $1 AND created_at >= public.dash_period_start(30) GROUP BY 1",
        me.project_id,
    )
    assert overview["by_cache_status"] == {r["cache_status"]: r["n"] for r in statuses}
    latency = await pg_conn.fetchrow(
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,"
        " percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95 FROM usage_logs"
        " WHERE project_id = $1 AND created_at >= public.dash_period_start(7)",
        me.project_id,
    )
    # Read from a histogram of 2%-wide buckets: the same bucket as the exact percentile.
    for name in ("p50", "p95"):
        buckets = await pg_conn.fetchrow(
            "SELECT public.latency_bucket($1) AS shown, public.latency_bucket($2) AS exact",
            overview["latency_7d"][name],
            latency[name],
        )
        assert buckets["shown"] == buckets["exact"], name


async def test_feature_totals_are_the_sum_of_rows_and_of_the_ledger(
    postgrest: Any, pg_conn: asyncpg.Connection, seeded: tuple[Member, Member]
) -> None:
    me = seeded[0]
    today = datetime.now(UTC).date()
    start = today - timedelta(days=13)
    async with signed_in(postgrest, me) as client:
        result = await rpc(
            client, "dash_features", project=me.project_id, key="feature", **{"from": str(start)},
            to=str(today),
        )  # fmt: skip
    rows, totals = result["rows"], result["totals"]
    for money in ("spend_cents", "cache_saved_cents", "native_saved_cents", "routing_saved_cents"):
        assert sum(Decimal(r[money]) for r in rows) == Decimal(totals[money]), money
    assert sum(r["requests"] for r in rows) == totals["requests"]
    ledger = await pg_conn.fetch(
        "SELECT request_tags ->> 'feature' AS value, count(*) AS requests,"
        " sum(cost_total_cents) AS spend FROM usage_logs WHERE project_id = $1"
        " AND request_tags ? 'feature' AND created_at >= $2::date AND created_at < $3::date + 1"
        " GROUP BY 1",
        me.project_id,
        start,
        today,
    )
    assert {r["value"]: (r["requests"], Decimal(r["spend"])) for r in ledger} == {
        r["value"]: (r["requests"], Decimal(r["spend_cents"])) for r in rows
    }


@pytest.mark.parametrize(
    ("fn", "args", "empty"),
    [
        ("dash_requests", {}, []),
        ("dash_tag_keys", {}, []),
        ("dash_cache_series", {"days": 30}, []),
        ("dash_cache_entries", {"keys": ["x"]}, {}),
        ("dash_cache_entry_hits", {"keys": ["x"], "stored": ["2000-01-01T00:00:00+00:00"]}, {}),
    ],
)
async def test_another_organisation_gets_nothing_from_any_function(
    postgrest: Any, seeded: tuple[Member, Member], fn: str, args: dict[str, Any], empty: Any
) -> None:
    me, other = seeded
    async with signed_in(postgrest, other) as client:
        assert await rpc(client, fn, project=me.project_id, **args) == empty
        overview = await rpc(client, "dash_overview", project=me.project_id)
    assert overview["totals"]["requests_30d"] == 0
    assert overview["savings_30d"]["total_cents"] == "0"


async def test_anonymous_callers_cannot_run_the_functions(
    postgrest: Any, seeded: tuple[Member, Member]
) -> None:
    from postgrest import APIError

    from tests.fixtures.members import supabase_client

    async with supabase_client(postgrest) as client:
        with pytest.raises(APIError) as caught:
            await rpc(client, "dash_overview", project=seeded[0].project_id)
    assert caught.value.code == "42501"


async def test_origin_rows_carry_routing_savings_against_the_reference_model(
    origin_server: Any, make_project: Any, sim: Any
) -> None:
    project = await make_project("routing")
    sdk = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    auto = await sdk.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Say hi"}],
        extra_headers={"X-Prism-Mode": "balanced", "X-Prism-Cache": "no-store"},
    )
    rows = await origin_server.rows(project.id, expect=1)
    row = rows[0]
    assert row["reference_model"] == REFERENCE_MODELS["balanced"]
    usage = TokenUsage(row["tokens_in"], row["tokens_out"], row["tokens_cache_read"])
    reference = cost_for_model(REFERENCE_MODELS["balanced"], usage).cents
    assert row["routing_saved_cents"] == reference - Decimal(auto.headers["x-prism-cost-cents"])
