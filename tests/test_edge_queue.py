"""The origin's drain of the edge's fallback queue, against real Redis, PostgREST and Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from edge.usage import QUEUE_KEY as EDGE_QUEUE_KEY
from origin.ledger.edge_queue import EdgeQueueDrain, NotAUsageRow, row_from_json
from origin.ledger.redis_queue import QUEUE_KEY, RedisUsageQueue
from origin.ledger.writer import Ledger
from origin.store import Store
from shared.options import RequestOptions
from shared.pricing import Cost, TokenUsage
from shared.usage import Caller, UsageRow, build_cache_hit_row, build_row, new_request_id

# Bounds waits that only a bug would make long.
DEADLINE_S = 30.0
TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF), max_size=20)
CENTS = st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False, allow_infinity=False)


def hit_row(project: Any, tags: dict[str, str] | None = None) -> UsageRow:
    return build_cache_hit_row(
        request_id=new_request_id(),
        caller=Caller(str(project.org_id), str(project.id)),
        options=RequestOptions(tags=tags, session_id="s"),
        model_used="gpt-4o-mini",
        usage=TokenUsage(10, 20),
        saved=Cost(Decimal("0.0135"), Decimal(0)),
        latency_ms=3,
        was_streaming=False,
        cache_status="hit-exact-edge",
    )


def queued(row: UsageRow) -> str:
    """A row as the edge pushes it (edge/usage.py)."""
    return json.dumps(row.to_json(), separators=(",", ":"))


@given(
    tags=st.none() | st.dictionaries(TEXT, TEXT, max_size=4),
    session=st.none() | TEXT,
    saved=CENTS,
    cost=CENTS,
    counts=st.tuples(*[st.integers(0, 10**9)] * 3),
)
def test_queued_rows_read_back_exactly(
    tags: Any, session: Any, saved: Decimal, cost: Decimal, counts: tuple[int, int, int]
) -> None:
    row = UsageRow(
        request_id=new_request_id(),
        org_id="o",
        project_id="p",
        api_key_id=None,
        mode="eco",
        task_type="cache",
        model_used="m",
        provider="cache",
        tokens_in=counts[0],
        tokens_out=counts[1],
        tokens_cache_read=0,
        tokens_cache_write=0,
        cost_provider_cents=cost,
        cost_total_cents=cost,
        latency_ms=counts[2],
        was_streaming=True,
        success=True,
        error_code=None,
        usage_reported=True,
        session_id=session,
        cache_status="hit-semantic-edge",
        cache_saved_cents=saved,
        native_cache_saved_cents=Decimal(0),
        request_tags=tags,
    )
    back = row_from_json(queued(row))
    assert back == row and back.to_json() == row.to_json()


def test_the_drain_reads_the_list_the_edge_writes() -> None:
    assert QUEUE_KEY == EDGE_QUEUE_KEY


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "not json",
        "[]",
        "null",
        '{"request_id": "r"}',
        json.dumps({"x": 1}),
        "REPLACE:cache_saved_cents=lots",
        "REPLACE:request_id=",
    ],
)
def test_entries_that_are_not_rows_are_refused(entry: str) -> None:
    if entry.startswith("REPLACE:"):
        column, _, value = entry.removeprefix("REPLACE:").partition("=")
        base = json.loads(queued(hit_row(SimpleNamespace(id="p", org_id="o"))))
        entry = json.dumps({**base, column: value})
    with pytest.raises(NotAUsageRow):
        row_from_json(entry)


@pytest.fixture
def queue_key() -> str:
    # Each test its own list: a running origin drains the real one, and must not compete here.
    return f"prism:test-usage-queue:{uuid.uuid4().hex}"


@pytest.fixture
async def start_drain(
    redis_server: Any, store: Store, tmp_path: Path, queue_key: str
) -> AsyncIterator[Callable[[], Awaitable[EdgeQueueDrain]]]:
    started: list[EdgeQueueDrain] = []

    async def start() -> EdgeQueueDrain:
        ledger = Ledger(
            store,
            tmp_path / f"outbox-{len(started)}.db",
            50,
            0.01,
            min_backoff_s=0.05,
            max_backoff_s=0.2,
        )
        drain = EdgeQueueDrain(
            RedisUsageQueue.from_url(redis_server.url, queue_key),
            ledger,
            batch_size=50,
            poll_s=0.05,
            flush_timeout_s=1.0,
        )
        await drain.start()
        started.append(drain)
        return drain

    yield start
    for drain in started:
        await drain.aclose()


async def stored(pg: Any, project_id: str, expect: int) -> dict[str, int]:
    """request_id -> copies in usage_logs, once `expect` distinct rows landed (bounded wait)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        conn = await pg.connect()
        try:
            found = await conn.fetch(
                "select request_id, count(*) from usage_logs "
                "where project_id = $1 group by request_id",
                project_id,
            )
        finally:
            await conn.close()
        counts = {r["request_id"]: r["count"] for r in found}
        if len(counts) >= expect or loop.time() > deadline:
            return counts
        await asyncio.sleep(0.05)


async def lists_empty(redis: aioredis.Redis, *keys: str) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while any([await redis.llen(k) for k in keys]) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return not any([await redis.llen(k) for k in keys])


async def test_queued_rows_land_once_and_leave_the_queue(
    start_drain: Any, make_project: Any, pg: Any, redis: aioredis.Redis, queue_key: str
) -> None:
    project = await make_project("drain")
    rows = [hit_row(project, {"team": f"t{i}"}) for i in range(5)]
    # A row pushed twice (the edge's retry after a lost answer) still lands once.
    await redis.lpush(queue_key, *[queued(r) for r in rows], queued(rows[0]))
    await start_drain()
    assert await stored(pg, project.id, 5) == {r.request_id: 1 for r in rows}
    assert await lists_empty(redis, queue_key, f"{queue_key}:processing")


async def test_rows_a_crashed_drain_took_are_recovered(
    start_drain: Any, make_project: Any, pg: Any, redis: aioredis.Redis, queue_key: str
) -> None:
    project = await make_project("crash")
    rows = [hit_row(project) for _ in range(3)]
    # What a process that died after LMOVE and before its ack leaves behind.
    await redis.lpush(f"{queue_key}:processing", *[queued(r) for r in rows])
    await start_drain()
    assert await stored(pg, project.id, 3) == {r.request_id: 1 for r in rows}
    assert await lists_empty(redis, queue_key, f"{queue_key}:processing")


async def test_entries_that_are_not_rows_are_set_aside(
    start_drain: Any, make_project: Any, pg: Any, redis: aioredis.Redis, queue_key: str
) -> None:
    project = await make_project("dead")
    good = hit_row(project)
    await redis.lpush(queue_key, "garbage", queued(good), '{"request_id": 1}')
    drain = await start_drain()
    assert await stored(pg, project.id, 1) == {good.request_id: 1}
    assert await lists_empty(redis, queue_key, f"{queue_key}:processing")
    dead = await redis.lrange(f"{queue_key}:dead", 0, -1)
    assert sorted(dead) == sorted(['{"request_id": 1}', "garbage"])
    assert drain.buried == 2


def refusal_row(project: Any) -> UsageRow:
    """The row of a hit the edge refused over a rate limit (edge/answer.py)."""
    return build_row(
        request_id=new_request_id(),
        caller=Caller(str(project.org_id), str(project.id)),
        options=RequestOptions(),
        task_type="unknown",
        model_used="gpt-4o-mini",
        provider="none",
        usage=None,
        cost=None,
        latency_ms=2,
        was_streaming=False,
        success=False,
        error_code="rate_limited",
    )


async def test_only_rows_the_edge_writes_leave_the_queue(
    start_drain: Any, make_project: Any, pg: Any, redis: aioredis.Redis, queue_key: str
) -> None:
    # The queue's Redis token is an edge binding: whoever holds it must not be able to bill
    # another tenant (a paid call, a costly "hit") through the drain's service role.
    victim = await make_project("queue-victim")
    hit, refusal = hit_row(victim), refusal_row(victim)
    base = hit.to_json()
    paid = {**base, "request_id": new_request_id(), "provider": "openai", "cache_status": "miss"}
    paid |= {"task_type": "simple", "cost_total_cents": "777777", "cost_provider_cents": "777777"}
    costly_hit = {**base, "request_id": new_request_id(), "cost_total_cents": "99999999"}
    saving_refusal = {**refusal.to_json(), "request_id": new_request_id()}
    saving_refusal["cache_saved_cents"] = "5000"
    forged = [json.dumps(paid), json.dumps(costly_hit), json.dumps(saving_refusal)]
    await redis.lpush(queue_key, queued(hit), *forged, queued(refusal))
    drain = await start_drain()
    # Emptied only once what was taken is delivered, so nothing lands after this.
    assert await lists_empty(redis, queue_key, f"{queue_key}:processing")
    assert await stored(pg, victim.id, 2) == {hit.request_id: 1, refusal.request_id: 1}
    assert sorted(await redis.lrange(f"{queue_key}:dead", 0, -1)) == sorted(forged)
    assert drain.buried == 3


async def test_rows_wait_out_a_supabase_outage(
    start_drain: Any,
    make_project: Any,
    pg: Any,
    redis: aioredis.Redis,
    queue_key: str,
    postgrest_outage: Any,
) -> None:
    project = await make_project("outage")
    rows = [hit_row(project) for _ in range(4)]
    async with postgrest_outage():
        drain = await start_drain()
        await redis.lpush(queue_key, *[queued(r) for r in rows])
        while drain.stats()["unacked"] == 0:
            await asyncio.sleep(0.05)
        # Taken but not delivered: still held in Redis, so a crash now would lose nothing.
        assert await redis.llen(queue_key) + await redis.llen(f"{queue_key}:processing") == 4
    assert await stored(pg, project.id, 4) == {r.request_id: 1 for r in rows}
    assert await lists_empty(redis, queue_key, f"{queue_key}:processing")


async def test_the_drain_outlives_a_redis_outage(
    start_drain: Any,
    make_project: Any,
    pg: Any,
    redis_outage: Any,
    queue_key: str,
    redis: aioredis.Redis,
) -> None:
    project = await make_project("redis-down")
    drain = await start_drain()
    with redis_outage():
        while drain.last_error is None:
            await asyncio.sleep(0.05)
    row = hit_row(project)
    await redis.lpush(queue_key, queued(row))
    assert await stored(pg, project.id, 1) == {row.request_id: 1}


def test_rows_queued_by_an_edge_deployed_before_routing_savings_still_read() -> None:
    row = hit_row(SimpleNamespace(org_id="o", id="p"))
    old = {
        k: v
        for k, v in row.to_json().items()
        if k not in ("reference_model", "routing_saved_cents", "cache_key")
    }
    back = row_from_json(json.dumps(old))
    assert back.routing_saved_cents == Decimal(0) and back.reference_model is None
    assert back == row
