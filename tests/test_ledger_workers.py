"""Several origin workers sharing one data directory: each row lands once, every ledger's
count is right (so flush() succeeds and the edge queue gets acked), no worker spins."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from infra.local.proc import Service, free_port
from origin.ledger.edge_queue import EdgeQueueDrain
from origin.ledger.redis_queue import QUEUE_KEY, RedisUsageQueue
from origin.ledger.writer import Ledger
from origin.settings import Secret
from origin.store import Project, Store
from tests.test_edge_queue import hit_row, queued
from tests.test_store import usage_row

REQUESTS = 200
CONCURRENCY = 16
# The workers' own Redis database: the session's origin drains the edge queue of db 0.
WORKERS_REDIS_DB = 7
# An idle worker sleeps; one spinning on a wrong count burns a whole core.
IDLE_CPU_SHARE = 0.5


@pytest.fixture
async def project(store: Store) -> Project:
    return await store.create_project("workers")


async def row_counts(pg: Any, project_id: str) -> Counter[str]:
    conn = await pg.connect()
    try:
        rows = await conn.fetch(
            "select request_id from usage_logs where project_id = $1", uuid.UUID(project_id)
        )
    finally:
        await conn.close()
    return Counter(r["request_id"] for r in rows)


async def test_two_ledgers_sharing_a_data_dir_both_flush(
    store: Store, project: Project, tmp_path: Path, pg: Any
) -> None:
    path = tmp_path / "ledger-outbox.sqlite3"  # the same configured path, as two workers have
    first = Ledger(
        store, path, batch_size=5, flush_interval_s=0.01, min_backoff_s=0.05, max_backoff_s=0.5
    )
    second = Ledger(
        store, path, batch_size=5, flush_interval_s=0.01, min_backoff_s=0.05, max_backoff_s=0.5
    )
    await first.start()
    await second.start()
    try:
        rows = [usage_row(project.id, project.org_id) for _ in range(60)]
        for i, row in enumerate(rows):
            (first if i % 2 else second).record(row)
        assert await first.flush(30) and await second.flush(30)
        assert (first.pending, second.pending) == (0, 0)
        assert first.outbox_path != second.outbox_path
    finally:
        await first.aclose()
        await second.aclose()
    assert await row_counts(pg, project.id) == Counter({r.request_id: 1 for r in rows})
    assert first.delivered + second.delivered == len(rows)


async def test_rows_a_stopped_worker_left_are_adopted_by_a_running_one(
    store: Store, project: Project, tmp_path: Path, pg: Any, silent_url: str
) -> None:
    path = tmp_path / "ledger-outbox.sqlite3"
    running = Ledger(
        store,
        path,
        flush_interval_s=0.01,
        adopt_interval_s=0.1,
        min_backoff_s=0.05,
        max_backoff_s=0.5,
    )
    await running.start()
    hung = Store(silent_url, Secret("unused"), timeout_s=0.2)
    stopped = Ledger(
        hung,
        path,
        flush_interval_s=0.01,
        close_timeout_s=0.5,
        min_backoff_s=0.05,
        max_backoff_s=0.5,
    )
    await stopped.start()
    try:
        rows = [usage_row(project.id, project.org_id) for _ in range(7)]
        for row in rows:
            stopped.record(row)
        await stopped.aclose()  # Supabase never answered: the rows stay in its outbox slot
        assert stopped.pending == len(rows)
        assert outbox_rows(stopped.outbox_path) == len(rows)
        # The running worker's next sweep takes them over and delivers them.
        counts = await landed(pg, project.id, len(rows))
        assert running.adopted == len(rows)
        assert await running.flush(30)
    finally:
        await running.aclose()
        await hung.aclose()
    assert counts == Counter({r.request_id: 1 for r in rows})
    assert not stopped.outbox_path.exists()


def outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("select count(*) from outbox where parked = 0").fetchone()[0])


@pytest.fixture
def two_workers(origin_env: dict[str, str], redis_server: Any, tmp_path: Path) -> Iterator[Service]:
    port = free_port()
    env = {
        **origin_env,
        "PRISM_HOST": "127.0.0.1",
        "PRISM_PORT": str(port),
        "PRISM_DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": redis_server.url.rsplit("/", 1)[0] + f"/{WORKERS_REDIS_DB}",
    }
    argv = [sys.executable, "-m", "origin.admin.cli", "serve", "--workers", "2"]
    service = Service("prism-serve-2", argv, port, env=env, log_path=tmp_path / "serve.log")
    service.start(timeout=90)
    try:
        yield service
    finally:
        service.stop(timeout=30)


def worker_pids(supervisor: int) -> list[int]:
    """Hypercorn's workers among the supervisor's children (not multiprocessing's tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in cmdline(int(pid))]


def cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks


async def chat(client: httpx.AsyncClient, key: str, i: int) -> str:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {i}"}]}
    reply = await client.post(
        "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}", "X-Prism-Cache": "no-store"},
    )
    assert reply.status_code == 200, reply.text
    return reply.headers["x-prism-request-id"]


async def test_prism_serve_with_two_workers_keeps_one_row_per_request(
    two_workers: Service, make_project: Any, pg: Any, redis_server: Any
) -> None:
    project = await make_project("two-workers")
    edge_rows = [hit_row(project) for _ in range(20)]
    redis = aioredis.Redis.from_url(
        redis_server.url.rsplit("/", 1)[0] + f"/{WORKERS_REDIS_DB}", decode_responses=True
    )
    try:
        await redis.lpush(QUEUE_KEY, *[queued(r) for r in edge_rows])
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(client: httpx.AsyncClient, i: int) -> str:
            async with limit:
                return await chat(client, project.api_key, i)

        async with httpx.AsyncClient(base_url=two_workers.url, timeout=60) as client:
            ids = await asyncio.gather(*[one(client, i) for i in range(REQUESTS)])
            expected = Counter({**dict.fromkeys(ids, 1), **{r.request_id: 1 for r in edge_rows}})
            assert await landed(pg, project.id, len(expected)) == expected
            # The edge queue was drained and acked: nothing left taken-but-unconfirmed.
            assert await emptied(redis, QUEUE_KEY, f"{QUEUE_KEY}:processing")
            # Each worker's own count reached zero (whichever worker answers /healthz).
            for _ in range(10):
                health = (await client.get("/healthz")).json()
                assert health["ledger_pending"] == 0
        assert len(set(ids)) == REQUESTS
        workers = worker_pids(two_workers.proc.pid)  # type: ignore[union-attr]
        assert len(workers) == 2
        before = {pid: cpu_seconds(pid) for pid in workers}
        await asyncio.sleep(2.0)
        busy = {pid: (cpu_seconds(pid) - before[pid]) / 2.0 for pid in workers}
        assert all(share < IDLE_CPU_SHARE for share in busy.values()), busy
    finally:
        await redis.aclose()


async def landed(pg: Any, project_id: str, expect: int, timeout: float = 30.0) -> Counter[str]:
    deadline = time.monotonic() + timeout
    counts = await row_counts(pg, project_id)
    while len(counts) < expect and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        counts = await row_counts(pg, project_id)
    await asyncio.sleep(0.3)  # a wrong extra copy written late is seen, not missed
    return await row_counts(pg, project_id)


async def emptied(redis: aioredis.Redis, *keys: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while any([await redis.llen(k) for k in keys]) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return not any([await redis.llen(k) for k in keys])


async def test_workers_sharing_a_data_dir_run_one_edge_queue_drain(
    store: Store, redis_server: Any, tmp_path: Path, make_project: Any, pg: Any, silent_url: str
) -> None:
    # Each drain recover()s at start: a second one would move the rows the first is still
    # delivering back onto the queue and take them itself. One drain per data directory; the
    # other takes over, and recovers, only once the first is gone.
    queue_key = f"prism:test-usage-queue:{uuid.uuid4().hex}"
    processing = f"{queue_key}:processing"
    project = await make_project("one-drain")
    hung = Store(silent_url, Secret("unused"), timeout_s=60)

    def drain(sink: Store) -> EdgeQueueDrain:
        ledger = Ledger(sink, tmp_path / "edge-outbox.db", 50, 0.01, close_timeout_s=0.5)
        return EdgeQueueDrain(
            RedisUsageQueue.from_url(redis_server.url, queue_key),
            ledger,
            batch_size=50,
            poll_s=0.05,
            flush_timeout_s=60,
            close_timeout_s=0.5,
            leader_lock=tmp_path / "edge-queue-drain",
        )

    first, second = drain(hung), drain(store)  # the first's Supabase never answers
    redis = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    rows = [hit_row(project) for _ in range(30)]
    await redis.lpush(queue_key, *[queued(r) for r in rows])
    await first.start()
    try:
        while await redis.llen(processing) < len(rows):  # taken, being delivered
            await asyncio.sleep(0.02)
        await second.start()
        await asyncio.sleep(1.0)  # twenty of its polls
        assert not second.leading and second.drained == 0
        assert await redis.llen(processing) == len(rows)  # still the first's
        await first.aclose()  # gone: the second takes over and recovers its rows
        assert await landed(pg, project.id, 30) == Counter({r.request_id: 1 for r in rows})
        assert await emptied(redis, queue_key, processing)
        assert second.leading and second.drained == len(rows)
    finally:
        await first.aclose()
        await second.aclose()
        await redis.aclose()
        await hung.aclose()
