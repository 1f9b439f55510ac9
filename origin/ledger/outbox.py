"""The ledger's durable local outbox: usage rows wait here, on disk, until Supabase has them.

A SQLite file in WAL mode. Rows are keyed by request_id, so writing a row twice keeps one
copy; they leave only when the database confirmed the insert. Rows the database rejects on
their own merits (a constraint a single row violates) are parked, not deleted, so one bad
row can't block every row behind it and nothing is silently thrown away.

All methods are blocking; the ledger calls them through `asyncio.to_thread`. A lock makes
the one connection safe to use from whichever worker thread runs the call.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    parked      INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX IF NOT EXISTS outbox_ready ON outbox (parked, id);
"""
# Oldest first, so adopted rows keep their order; a request_id we already hold is kept once.
_ADOPT = """
INSERT OR IGNORE INTO main.outbox (request_id, body, created_at, parked, last_error)
SELECT request_id, body, created_at, parked, last_error FROM orphan.outbox ORDER BY id
"""


class Outbox:
    """Rows persisted before sending; `take` oldest first, `delete` once delivered."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a row acknowledged as persisted survives a power cut, not just a crash.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.ready = 0  # deliverable rows, as of the last call that changed the file
        self.parked = 0
        self._recount(self._db)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"outbox {self.path} is closed")
        return self._db

    def put(self, rows: list[dict[str, Any]]) -> int:
        """Persist rows in one transaction; returns how many were new (duplicates are kept once)."""
        if not rows:
            return 0
        now = time.time()
        values = [(row["request_id"], json.dumps(row, separators=(",", ":")), now) for row in rows]
        with self._lock:
            db = self._conn()
            before = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR IGNORE INTO outbox (request_id, body, created_at) VALUES (?, ?, ?)",
                    values,
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            added = db.total_changes - before
            self._recount(db)
            return added

    def take(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to `limit` deliverable rows, oldest first, with their outbox ids."""
        with self._lock:
            cursor = self._conn().execute(
                "SELECT id, body FROM outbox WHERE parked = 0 ORDER BY id LIMIT ?", (limit,)
            )
            return [(row_id, json.loads(body)) for row_id, body in cursor.fetchall()]

    def delete(self, ids: list[int]) -> None:
        self._update("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def park(self, ids: list[int], reason: str) -> None:
        """Keep rows the database refused, out of the delivery queue, with why."""
        self._update(
            "UPDATE outbox SET parked = 1, last_error = ? WHERE id = ?", [(reason, i) for i in ids]
        )

    def _update(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        if not params:
            return
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(sql, params)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            self._recount(db)

    def adopt(self, other: Path) -> int:
        """Move every row of another outbox file (a dead process's) into this one; returns how
        many were new. The caller holds that file's slot and deletes it afterwards."""
        with self._lock:
            db = self._conn()
            before = db.total_changes
            db.execute("ATTACH DATABASE ? AS orphan", (str(other),))
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute(_ADOPT)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                db.execute("DETACH DATABASE orphan")
            self._recount(db)
            return db.total_changes - before

    def _recount(self, db: sqlite3.Connection) -> None:
        # Counted from the file itself, never kept as a running tally that could drift.
        ready, parked = db.execute(
            "SELECT count(*) FILTER (WHERE parked = 0), count(*) FILTER (WHERE parked = 1)"
            " FROM outbox"
        ).fetchone()
        self.ready, self.parked = int(ready), int(parked)

    def count(self) -> int:
        """Rows still waiting for delivery."""
        return self._scalar("SELECT count(*) FROM outbox WHERE parked = 0")

    def parked_count(self) -> int:
        return self._scalar("SELECT count(*) FROM outbox WHERE parked = 1")

    def _scalar(self, sql: str) -> int:
        with self._lock:
            return int(self._conn().execute(sql).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                db.close()
