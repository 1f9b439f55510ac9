"""Spend counters in Redis holding what the admit script cannot read (not an integer, another
type): each is treated as absent and repaired in the same script call, never a 503 for every
request until the key expires. A rate-limit counter is counted afresh from the request; a
budget's counter is deleted and rebuilt from the ledger, so the request gets the answer its
real spend gives. Real origin and real Redis (corrupted by writing to it directly), the
simulator; one edge cache hit through edge.handler."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from shared.limits import (
    budget_key_prefix,
    budget_keys,
    limit_keys,
    limits_config_key,
    window_bounds,
)
from shared.pricing import format_cents
from shared.worst_case import to_units
from tests.edge.httpx_client import HttpxClient
from tests.fixtures.edge import CacheSeed, EdgeDriver, cached_completion
from tests.fixtures.edge import chat as edge_chat
from tests.test_cache_helpers import chat, chat_body
from tests.test_origin_corrupt_state import Corrupt, a_hash, corrupted, value
from tests.test_spend_cold_counters import settled

MONTH = 6  # the project's requests-per-month counter (shared.limits.limit_keys)

COUNTER = [
    pytest.param(value(b"abc"), id="abc"),
    pytest.param(value(b"1.5"), id="1.5"),
    pytest.param(value(b"1e400"), id="1e400"),
    pytest.param(a_hash, id="wrong-type"),
]


def fields(**given: str) -> Corrupt:
    """An initialised budget hash with `given` in place of its spent or reserved."""
    return lambda redis, key: redis.hset(key, mapping={"i": "1", "s": "0", "r": "0", **given})


async def set_a_string(redis: aioredis.Redis, key: str) -> None:
    await fields()(redis, key)
    await redis.delete(key + ":res")
    await redis.set(key + ":res", "garbage")


BUDGET = [
    pytest.param(fields(s="abc"), id="spent-abc"),
    pytest.param(fields(s="1e400"), id="spent-1e400"),
    pytest.param(fields(r="abc"), id="reserved-abc"),
    pytest.param(fields(r="1e400"), id="reserved-1e400"),
    pytest.param(value(b"garbage"), id="hash-wrong-type"),
    pytest.param(set_a_string, id="set-wrong-type"),
]


async def put(admin: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    res = await (admin.put if path.endswith("limits") else admin.post)(path, json=body)
    assert res.status_code in (200, 201), res.text
    return dict(res.json())


@pytest.mark.parametrize("corrupt", COUNTER)
async def test_a_corrupt_rate_limit_counter_is_counted_afresh(
    origin_server: Any, make_project: Any, origin_admin: Any, redis: Any, corrupt: Corrupt
) -> None:
    project = await make_project("corrupt-limit")
    await put(origin_admin, f"/projects/{project.id}/limits", {"requests_per_month": 1})
    now = datetime.now(UTC)
    key = limit_keys(project.id, None, now)[MONTH]
    await corrupted(origin_server.env["REDIS_URL"], key, corrupt)
    first = await chat(origin_server, project, chat_body(f"month {uuid.uuid4().hex}"))
    assert first.status_code == 200, first.text  # 503 before
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    assert await redis.get(key) == "1"  # this request, counted afresh
    month_ms = (window_bounds("month", now)[1] - now).total_seconds() * 1000
    assert 0 < await redis.pttl(key) <= month_ms
    second = await chat(origin_server, project, chat_body(f"month {uuid.uuid4().hex}"))
    assert second.status_code == 429 and second.json()["error"]["code"] == "rate_limited"
    rows = await origin_server.rows(project.id, expect=2)
    assert sorted(str(r["error_code"]) for r in rows) == ["None", "rate_limited"]


async def seed_spend(pg: Any, project: Any, cents: Decimal) -> str:
    """A usage row already in the ledger (an earlier request's): the budget's real spend."""
    request_id = f"req_{uuid.uuid4().hex}"
    conn = await pg.connect()
    try:
        await conn.execute(
            "INSERT INTO usage_logs (request_id, org_id, project_id, task_type, model_used,"
            " provider, cost_total_cents) VALUES ($1, $2, $3, 'simple', 'gpt-4o-mini', 'openai',"
            " $4)",
            request_id,
            project.org_id,
            project.id,
            cents,
        )
    finally:
        await conn.close()
    return request_id


@pytest.mark.parametrize(("seeded", "status"), [("0.25", 200), ("2", 402)], ids=["fits", "spent"])
@pytest.mark.parametrize("corrupt", BUDGET)
async def test_a_corrupt_budget_counter_is_rebuilt_from_the_ledger(
    origin_server: Any,
    make_project: Any,
    origin_admin: Any,
    redis: Any,
    pg: Any,
    corrupt: Corrupt,
    seeded: str,
    status: int,
) -> None:
    project = await make_project("corrupt-budget")
    made = await put(
        origin_admin, f"/projects/{project.id}/budgets", {"limit_cents": "1", "period": "day"}
    )
    earlier = await seed_spend(pg, project, Decimal(seeded))
    keys = budget_keys(project.id, made["id"], window_bounds("day", datetime.now(UTC))[0])
    await corrupted(origin_server.env["REDIS_URL"], keys[1], lambda r, k: r.delete(k))
    await corrupted(origin_server.env["REDIS_URL"], keys[0], corrupt)
    response = await chat(origin_server, project, chat_body(f"b {uuid.uuid4().hex}", max_tokens=10))
    assert response.status_code == status, response.text  # 503 (or a nonsense 402) before
    spent = Decimal(seeded) + Decimal(response.headers.get("x-prism-cost-cents", "0"))
    if status == 402:
        message = response.json()["error"]["message"]
        assert (
            f"is spent: {format_cents(Decimal(seeded).quantize(Decimal('0.000001')))} of" in message
        )
    # Rebuilt from the ledger, then this request settled on it.
    assert await settled(redis, [keys], to_units(spent)) == [(to_units(spent), 0)]
    assert await redis.hget(keys[0], "i") == "1"
    assert await redis.type(keys[1]) in ("zset", "none")
    rows = [r for r in await origin_server.rows(project.id, expect=2) if r["request_id"] != earlier]
    assert [r["error_code"] for r in rows] == [None if status == 200 else "budget_exceeded"]
    log = origin_server.service.log_path.read_text(errors="replace")
    assert f"budget counter {keys[0]} was unreadable" in log


@pytest.fixture
def env(edge_bindings: dict[str, str], edge_upstream: str) -> dict[str, str]:
    return {"ORIGIN_URL": edge_upstream, **edge_bindings}


def edge_budget(project_id: str, budget_id: str) -> list[str]:
    """A published block budget of 1 cent a day (origin.spend.policy.Budget.edge_entry)."""
    prefix = budget_key_prefix(project_id, budget_id)
    return [budget_id, prefix, "", "", "day", "block", "10000000", "8000000", "1"]


EDGE = [
    pytest.param("limit", value(b"abc"), id="limit-abc"),
    pytest.param("limit", a_hash, id="limit-wrong-type"),
    pytest.param("budget", fields(s="abc"), id="budget-spent-abc"),
    pytest.param("budget", value(b"garbage"), id="budget-wrong-type"),
]


@pytest.mark.parametrize(("counter", "corrupt"), EDGE)
async def test_an_edge_hit_repairs_a_corrupt_counter_and_is_served(
    http: HttpxClient,
    env: dict[str, str],
    make_project: Any,
    cache_seed: CacheSeed,
    redis: aioredis.Redis,
    redis_server: Any,
    counter: str,
    corrupt: Corrupt,
) -> None:
    project = await make_project("edge-corrupt")
    now = datetime.now(UTC)
    budget_id = str(uuid.uuid4())
    config = {
        "project": [0, 0, 1000, 0],
        "keys": {},
        "budgets": [edge_budget(project.id, budget_id)],
    }
    await redis.set(limits_config_key(project.id), json.dumps(config))
    limit_key = limit_keys(project.id, None, now)[MONTH]
    budget_hash = budget_keys(project.id, budget_id, window_bounds("day", now)[0])[0]
    await corrupted(redis_server.url, limit_key if counter == "limit" else budget_hash, corrupt)
    body = edge_chat(f"edge corrupt {uuid.uuid4().hex}")
    await cache_seed.exact(project.id, body, cached_completion("Cached."))
    response = await EdgeDriver(http, env).send(project.api_key, body)
    assert response.status == 200
    # Answered by the edge itself, not failed over to the origin (as before, for a month).
    assert response.header("x-prism-cache-status") == "hit-exact-edge"
    assert response.header("x-ratelimit-remaining-requests") == "999"
    assert await redis.get(limit_key) == "1"
    # A budget the edge cannot read is left for the origin to rebuild, and left out here.
    assert response.header("x-prism-budget-remaining-cents") is None
    assert await redis.exists(budget_hash) == 0
