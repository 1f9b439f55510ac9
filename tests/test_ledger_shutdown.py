"""Shutting the ledger and the edge-queue drain down is bounded, even when Supabase hangs."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from origin.ledger.edge_queue import EdgeQueueDrain
from origin.ledger.redis_queue import RedisUsageQueue
from origin.ledger.writer import Ledger
from origin.settings import Secret
from origin.store import Store
from tests.test_edge_queue import hit_row, queued

# The Store waits this long for an answer: far longer than any shutdown may take.
HUNG_S = 300.0
CLOSE_TIMEOUT_S = 1.0
# aclose must be done well within this; without the bound it waits for HUNG_S (twice).
CLOSE_BOUND_S = 20.0


def outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("select count(*) from outbox").fetchone()[0])


async def test_the_drain_closes_in_bounded_time_while_supabase_never_answers(
    silent_url: str, redis_server: Any, redis: aioredis.Redis, tmp_path: Path, make_project: Any
) -> None:
    project = await make_project("hung")
    queue_key = f"prism:test-usage-queue:{uuid.uuid4().hex}"
    rows = [hit_row(project) for _ in range(3)]
    await redis.lpush(queue_key, *[queued(r) for r in rows])
    store = Store(silent_url, Secret("unused"), timeout_s=HUNG_S)
    ledger = Ledger(store, tmp_path / "outbox.db", 50, 0.01, close_timeout_s=CLOSE_TIMEOUT_S)
    drain = EdgeQueueDrain(
        RedisUsageQueue.from_url(redis_server.url, queue_key),
        ledger,
        batch_size=50,
        poll_s=0.05,
        flush_timeout_s=HUNG_S,
        close_timeout_s=CLOSE_TIMEOUT_S,
    )
    await drain.start()
    try:
        while ledger.pending < len(rows) or ledger.queued:  # taken, persisted, being delivered
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        await asyncio.wait_for(drain.aclose(), CLOSE_BOUND_S)
    finally:
        await store.aclose()
    # Nothing lost: the rows wait in Redis's processing list and in the outbox for next time.
    assert await redis.llen(f"{queue_key}:processing") == len(rows)
    assert outbox_rows(tmp_path / "outbox.db") == len(rows)
    await redis.delete(f"{queue_key}:processing")


async def test_rows_of_a_delivery_that_hangs_are_on_disk_before_it_ends(
    silent_url: str, tmp_path: Path, make_project: Any
) -> None:
    """Batches go from memory straight to Supabase; one Supabase doesn't confirm in time is
    written to the outbox while the POST still waits, so a crash then would lose nothing."""
    project = await make_project("hung-fresh")
    rows = [hit_row(project) for _ in range(3)]
    store = Store(silent_url, Secret("unused"), timeout_s=HUNG_S)
    ledger = Ledger(store, tmp_path / "outbox.db", 50, 0.01, close_timeout_s=CLOSE_TIMEOUT_S)
    await ledger.start()
    try:
        for row in rows:
            ledger.record(row)
        async with asyncio.timeout(CLOSE_BOUND_S):
            while outbox_rows(tmp_path / "outbox.db") < len(rows):
                await asyncio.sleep(0.05)
        assert ledger.delivered == 0 and ledger.pending >= len(rows)
        await asyncio.wait_for(ledger.aclose(), CLOSE_BOUND_S)
    finally:
        await store.aclose()
    assert outbox_rows(tmp_path / "outbox.db") == len(rows)
