"""Draining the edge's fallback queue of usage rows into usage_logs, losing none on a crash.

When the edge cannot write a hit's row to Supabase it LPUSHes the row's JSON onto the Redis
list `prism:usage-queue` (through Upstash's REST API; the origin reaches the same Redis with
redis-py). Rows are taken with LMOVE onto a processing list, handed to a Ledger (durable
outbox, batched idempotent insert), and removed from the processing list only once the
ledger reports them delivered. A process dying in between leaves them on the processing list,
and the next start moves them back onto the queue. Delivery is at-least-once; the insert
ignores request_ids already stored, so each row lands once.

The drain has a Ledger of its own (its own outbox file): waiting for "these rows are
delivered" must not depend on the traffic the origin's main ledger is carrying.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from redis.exceptions import RedisError

from origin.background import bounded, stop_task
from origin.ledger import slots
from origin.ledger.courier import UsageSink
from origin.ledger.redis_queue import RedisUsageQueue
from origin.ledger.writer import Ledger
from origin.settings import Settings
from shared.usage import CACHE_PROVIDER, COLUMNS, UsageRow

log = logging.getLogger("prism.edge_queue")

DECIMAL_COLUMNS: Final = frozenset(
    {
        "cost_provider_cents",
        "cost_total_cents",
        "cache_saved_cents",
        "native_cache_saved_cents",
        "routing_saved_cents",
    }
)
# Columns added after edges were deployed: a row queued by an older edge still goes through.
ADDED_COLUMN_DEFAULTS: Final = {
    "reference_model": None,
    "routing_saved_cents": "0",
    "cache_key": None,
    "parent_request_id": None,
}
EDGE_HIT_STATUSES: Final = frozenset({"hit-exact-edge", "hit-semantic-edge"})
DEFAULT_POLL_S = 1.0
DEFAULT_FLUSH_TIMEOUT_S = 10.0
DEFAULT_CLOSE_TIMEOUT_S = 5.0
MAX_BACKOFF_S = 30.0


class NotAUsageRow(ValueError):
    """A queue entry that cannot be a usage_logs row."""


class NotAnEdgeRow(NotAUsageRow):
    """A usage row the edge never queues: one it could not insert as its own database role."""


def row_from_json(text: str) -> UsageRow:
    """The UsageRow a queue entry holds (as UsageRow.to_json wrote it); NotAUsageRow otherwise."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotAUsageRow(f"not JSON: {exc}") from exc
    if isinstance(data, dict):
        data = {**ADDED_COLUMN_DEFAULTS, **data}
    if not isinstance(data, dict) or set(data) != set(COLUMNS):
        raise NotAUsageRow("not an object with exactly the usage_logs columns")
    if not isinstance(data["request_id"], str) or not data["request_id"]:
        raise NotAUsageRow("no request_id")
    try:
        values: dict[str, Any] = {
            k: Decimal(str(v)) if k in DECIMAL_COLUMNS else v for k, v in data.items()
        }
    except InvalidOperation as exc:
        raise NotAUsageRow("a money column is not a decimal") from exc
    return UsageRow(**values)


def check_edge_row(row: UsageRow) -> UsageRow:
    """The row, if it is one the edge writes; NotAnEdgeRow otherwise.

    Only the edge queues rows here, and the queue's Redis token is one of its bindings. The
    drain writes as service_role, so without this a leaked edge binding could queue a paid
    call, or a costly "hit", into any project and spend its budget: exactly what the edge's own
    role may not insert (infra/migrations/0027_edge_hits_cost_nothing.sql, the same rules)."""
    free = row.cost_total_cents == 0 and row.cost_provider_cents == 0
    paid_savings = row.native_cache_saved_cents != 0 or row.routing_saved_cents != 0
    if row.cache_status in EDGE_HIT_STATUSES and row.provider == CACHE_PROVIDER:
        if free and not paid_savings:
            return row
    elif (
        free
        and not paid_savings
        and row.cache_saved_cents == 0
        and row.error_code == "rate_limited"
        and not row.success
        and row.provider == "none"
        and row.tokens_in == 0
        and row.tokens_out == 0
    ):
        return row  # a hit the edge refused over a rate limit (edge/answer.py)
    raise NotAnEdgeRow("not the free row of an edge cache hit or of its rate-limit refusal")


class EdgeQueueDrain:
    """A background task moving the edge's queued rows into usage_logs through a Ledger.

    With `leader_lock`, one drain per data directory: workers sharing one take turns by a
    file lock (held until the holder stops or dies), so only one takes rows and `recover()`
    only ever requeues the rows of a drain that is gone, never those another is delivering.
    """

    def __init__(
        self,
        queue: RedisUsageQueue,
        ledger: Ledger,
        *,
        batch_size: int = 200,
        poll_s: float = DEFAULT_POLL_S,
        flush_timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S,
        close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S,
        leader_lock: Path | None = None,
    ) -> None:
        self._leader_lock = leader_lock
        self._leadership: slots.Slot | None = None
        self._queue = queue
        self._ledger = ledger
        self._batch_size = max(1, batch_size)
        self._poll_s = poll_s
        self._flush_timeout_s = flush_timeout_s
        self._close_timeout_s = close_timeout_s
        self._unacked: list[str] = []  # taken and recorded, not yet known to be delivered
        self._task: asyncio.Task[None] | None = None
        self.drained = 0
        self.buried = 0
        self.last_error: str | None = None

    @classmethod
    def for_settings(
        cls, settings: Settings, store: UsageSink, outbox_path: Path | None = None
    ) -> EdgeQueueDrain:
        path = outbox_path or settings.data_dir / "edge-queue-outbox.sqlite3"
        ledger = Ledger(store, path, settings.ledger_batch_size, settings.ledger_flush_interval_s)
        return cls(
            RedisUsageQueue.from_url(settings.redis_url),
            ledger,
            batch_size=settings.ledger_batch_size,
            leader_lock=settings.data_dir / "edge-queue-drain",
        )

    async def start(self) -> None:
        await self._ledger.start()
        self._task = asyncio.create_task(self._run(), name="prism-edge-queue")

    async def aclose(self) -> None:
        """Stop taking rows. Rows taken but not delivered stay on the processing list and in the
        ledger's outbox; the next start picks them up from either.

        Bounded even when Redis or Supabase accepted a connection and never answers: each
        step gets `close_timeout_s`, then is abandoned (and logged), losing nothing.
        """
        task, self._task = self._task, None
        await stop_task(task, "edge usage queue drain", self._close_timeout_s)
        leadership, self._leadership = self._leadership, None
        if leadership is not None:
            leadership.release()
        # The ledger bounds its own shutdown by its close_timeout_s; this is the backstop.
        await bounded(self._ledger.aclose(), "edge queue ledger close", 3 * self._close_timeout_s)
        await bounded(self._queue.aclose(), "edge queue redis close", self._close_timeout_s)

    async def drain_once(self) -> int:
        """One round: take a batch (unless one is still unconfirmed), deliver it, ack it.

        Returns how many rows were acked. Raises RedisError when Redis fails; nothing is lost.
        """
        if not self._unacked:
            entries = await self._queue.take(self._batch_size)
            self._unacked = await self._record(entries)
        if not self._unacked or not await self._ledger.flush(self._flush_timeout_s):
            return 0
        await self._queue.ack(self._unacked)
        acked, self._unacked = len(self._unacked), []
        self.drained += acked
        return acked

    async def _record(self, entries: list[str]) -> list[str]:
        recorded, dead = [], []
        for entry in entries:
            try:
                self._ledger.record(check_edge_row(row_from_json(entry)))
            except (NotAUsageRow, TypeError) as exc:
                log.error(
                    "edge usage queue entry is not a usage row (%s); moved to %s: %.300s",
                    exc,
                    self._queue.dead_key,
                    entry,
                )
                dead.append(entry)
            else:
                recorded.append(entry)
        await self._queue.bury(dead)
        self.buried += len(dead)
        return recorded

    @property
    def leading(self) -> bool:
        """Whether this drain is the one taking rows (always, without a leader lock)."""
        return self._leader_lock is None or self._leadership is not None

    async def _lead(self) -> None:
        lock = self._leader_lock
        while lock is not None and self._leadership is None:
            self._leadership = await asyncio.to_thread(slots.try_claim, lock)
            if self._leadership is None:
                await asyncio.sleep(self._poll_s)

    async def _run(self) -> None:
        await self._lead()
        recovered, failures = False, 0
        while True:
            try:
                if not recovered:
                    if moved := await self._queue.recover():
                        log.info("requeued %d edge usage rows left by an earlier process", moved)
                    recovered = True
                acked = await self.drain_once()
            except RedisError as exc:
                failures += 1
                self.last_error = f"redis: {exc}"
                delay = min(MAX_BACKOFF_S, self._poll_s * 2.0**failures)
                log.warning("edge usage queue unreachable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                continue
            failures, self.last_error = 0, None
            if acked < self._batch_size and not self._unacked:
                await asyncio.sleep(self._poll_s)

    async def backlog(self) -> dict[str, int]:
        """Rows on the edge's lists (queued, processing, dead). Raises RedisError."""
        return await self._queue.lengths()

    def stats(self) -> dict[str, Any]:
        return {
            "drained": self.drained,
            "buried": self.buried,
            "unacked": len(self._unacked),
            "ledger_pending": self._ledger.pending,
            "last_error": self.last_error,
        }
