"""The ledger and its outbox: delivery, outages, restarts, duplicates and refused rows."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from origin.ledger.outbox import Outbox
from origin.ledger.writer import Ledger
from origin.store import Project, Store
from tests.test_store import usage_row

FAST = {"min_backoff_s": 0.05, "max_backoff_s": 0.5}


@pytest.fixture
async def project(store: Store) -> Project:
    return await store.create_project("ledger")


async def stored_counts(pg: Any, project: Project) -> dict[str, int]:
    # A fresh connection each time: the outage tests restart Postgres under any open one.
    conn = await pg.connect()
    try:
        rows = await conn.fetch(
            "select request_id, count(*) as n from usage_logs where project_id = $1 group by 1",
            uuid.UUID(project.id),
        )
    finally:
        await conn.close()
    return {r["request_id"]: r["n"] for r in rows}


def outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("select count(*) from outbox where parked = 0").fetchone()[0])


async def test_recorded_rows_are_delivered(
    store: Store, project: Project, tmp_path: Path, pg: Any
) -> None:
    ledger = Ledger(store, tmp_path / "outbox.db", batch_size=7, flush_interval_s=0.01)
    early = usage_row(project.id, project.org_id)
    ledger.record(early)  # before start: queued, not lost
    await ledger.start()
    rows = [early] + [usage_row(project.id, project.org_id) for _ in range(40)]
    for row in rows[1:]:
        ledger.record(row)
    ledger.record(rows[3])  # a duplicate request_id lands once
    assert await ledger.flush(30)
    await ledger.aclose()
    assert await stored_counts(pg, project) == {r.request_id: 1 for r in rows}
    # The duplicate went in a later batch than its twin; Supabase confirmed it and kept one.
    assert ledger.pending == 0 and ledger.delivered == len(rows) + 1
    assert outbox_rows(tmp_path / "outbox.db") == 0


async def test_rows_survive_a_database_outage_exactly_once(
    store: Store, project: Project, tmp_path: Path, pg: Any
) -> None:
    path = tmp_path / "outbox.db"
    ledger = Ledger(store, path, batch_size=5, flush_interval_s=0.01, **FAST)
    await ledger.start()
    rows = [usage_row(project.id, project.org_id) for _ in range(60)]
    for row in rows[:20]:
        ledger.record(row)
    async with pg.outage():
        for row in rows[20:40]:
            ledger.record(row)
            await asyncio.sleep(0.1)
        assert ledger.pending >= 20
        assert ledger.last_error is not None
        assert outbox_rows(path) >= 20  # persisted on disk while the database is away
    for row in rows[40:]:
        ledger.record(row)
    assert await ledger.flush(60)
    await ledger.aclose()
    assert await stored_counts(pg, project) == {r.request_id: 1 for r in rows}


async def test_rows_left_by_a_closed_ledger_are_delivered_by_the_next(
    store: Store, project: Project, tmp_path: Path, pg: Any
) -> None:
    path = tmp_path / "outbox.db"
    rows = [usage_row(project.id, project.org_id) for _ in range(12)]
    first = Ledger(store, path, batch_size=5, flush_interval_s=0.01, **FAST)
    await first.start()
    async with pg.outage():
        for row in rows[:10]:
            first.record(row)
        await first.aclose()
        first.record(rows[10])  # after close: written straight to the outbox
        assert outbox_rows(path) == 11
    assert await stored_counts(pg, project) == {}

    second = Ledger(store, path, batch_size=5, flush_interval_s=0.01, **FAST)
    second.record(rows[11])
    await second.start()
    assert second.pending == 12
    assert await second.flush(30)
    await second.aclose()
    assert await stored_counts(pg, project) == {r.request_id: 1 for r in rows}
    assert outbox_rows(path) == 0


async def test_a_refused_row_is_parked_and_the_rest_delivered(
    store: Store, project: Project, tmp_path: Path, pg: Any
) -> None:
    path = tmp_path / "outbox.db"
    good = [usage_row(project.id, project.org_id) for _ in range(6)]
    bad = usage_row(project.id, project.org_id, tokens_in=-1)  # violates a CHECK constraint
    ledger = Ledger(store, path, batch_size=10, flush_interval_s=0.01, **FAST)
    await ledger.start()
    for row in good[:3] + [bad] + good[3:]:
        ledger.record(row)
    assert await ledger.flush(30)
    await ledger.aclose()
    assert await stored_counts(pg, project) == {r.request_id: 1 for r in good}
    assert ledger.parked == 1
    with sqlite3.connect(path) as db:
        parked = db.execute("select request_id, last_error from outbox where parked = 1").fetchall()
    assert parked[0][0] == bad.request_id and parked[0][1].startswith("23514")


async def test_drain_queue_is_a_seam_only(store: Store, tmp_path: Path) -> None:
    ledger = Ledger(store, tmp_path / "outbox.db")
    with pytest.raises(NotImplementedError):
        await ledger.drain_queue(None)  # type: ignore[arg-type]


def body(request_id: str) -> dict[str, Any]:
    return {"request_id": request_id, "tokens_in": 1}


def test_outbox_keeps_rows_in_order_once(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    try:
        assert box.put([body("a"), body("b"), body("a")]) == 2
        assert box.put([body("b"), body("c")]) == 1
        taken = box.take(10)
        assert [row["request_id"] for _, row in taken] == ["a", "b", "c"]
        assert box.take(2) == taken[:2]
        box.delete([taken[0][0]])
        box.park([taken[1][0]], "23514: bad")
        assert [row["request_id"] for _, row in box.take(10)] == ["c"]
        assert (box.count(), box.parked_count()) == (1, 1)
    finally:
        box.close()
    reopened = Outbox(tmp_path / "o.db")
    try:
        assert [row["request_id"] for _, row in reopened.take(10)] == ["c"]
    finally:
        reopened.close()


def test_outbox_uses_wal(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.close()
    with sqlite3.connect(tmp_path / "o.db") as db:
        assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
