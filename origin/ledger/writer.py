"""The usage ledger: every usage row reaches Supabase once, even across outages and restarts.

`record()` is what the hot path calls after a response: it only appends to an in-memory
queue. A background task sends queued rows in batches. While Supabase keeps up, a batch goes
straight from memory (a thread hop and an fsync per batch were most of the ledger's cost);
a batch Supabase refuses, fails or is slow to take (`persist_after_s`) goes to the on-disk
outbox, and from then on rows pass through the outbox, oldest first, until it is empty
again, so an outage or a crash loses nothing that was sent or waiting. What a crash can lose
is what a kill -9 finds in memory: rows of the last linger (`flush_interval_s`) and a batch
in flight for less than `persist_after_s`. Failed deliveries are retried with capped
exponential backoff; a later process redelivers whatever an earlier one left behind.
Delivery is at-least-once, and the insert ignores request_ids it already has, so each row
lands exactly once. This module decides when work runs; `courier` does the sending and
`row_queue` holds the rows in memory.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

from origin.background import bounded, stop_task
from origin.ledger import slots
from origin.ledger.backoff import DEFAULT_MAX_BACKOFF_S, DEFAULT_MIN_BACKOFF_S, Backoff
from origin.ledger.courier import Courier, UsageSink
from origin.ledger.orphans import adopt_orphans, put_in_free_slot
from origin.ledger.outbox import Outbox
from origin.ledger.row_queue import RowQueue
from origin.ledger.usage_source import UsageSource
from origin.observability import context
from shared.usage import UsageRow

log = logging.getLogger("prism.ledger")

DEFAULT_MAX_QUEUED = 10_000
DEFAULT_CLOSE_TIMEOUT_S = 5.0
# A batch still unconfirmed after this long is written to the outbox while it waits.
DEFAULT_PERSIST_AFTER_S = 0.25
# How often a running ledger looks for outbox files a dead worker left behind.
ADOPT_INTERVAL_S = 10.0
_POLL_S = 0.02


class Ledger:
    """Batches usage rows through a durable outbox into `store.insert_usage`."""

    def __init__(
        self,
        store: UsageSink,
        outbox_path: Path,
        batch_size: int = 200,
        flush_interval_s: float = 0.05,
        *,
        min_backoff_s: float = DEFAULT_MIN_BACKOFF_S,
        max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
        max_queued: int = DEFAULT_MAX_QUEUED,
        close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S,
        adopt_interval_s: float = ADOPT_INTERVAL_S,
        persist_after_s: float = DEFAULT_PERSIST_AFTER_S,
    ) -> None:
        self._outbox_path = outbox_path  # slot 0; each process writes its own slot (see slots)
        self._batch_size = max(1, batch_size)
        self._flush_interval_s = flush_interval_s
        self._max_queued = max(1, max_queued)
        self._close_timeout_s = close_timeout_s
        self._adopt_interval_s = adopt_interval_s
        self._queue = RowQueue(self._batch_size)
        self._wake = asyncio.Event()
        self._slot: slots.Slot | None = None
        self._own_path = outbox_path
        self._outbox: Outbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._retry = Backoff(min_backoff_s, max_backoff_s)
        self._courier = Courier(store, self._queue, self._retry, self._batch_size, persist_after_s)
        self._at_close = (0, 0)  # (ready, parked) when the outbox was closed
        self._closing = False
        self._closed = False
        self.adopted = 0

    @property
    def pending(self) -> int:
        """Rows not yet confirmed by Supabase (queued in memory or waiting in this process's
        outbox), counted from the outbox file itself."""
        in_outbox = self._outbox.ready if self._outbox is not None else self._at_close[0]
        return self._queue.pending + in_outbox

    @property
    def delivered(self) -> int:
        """Rows Supabase confirmed, counted by this ledger."""
        return self._courier.delivered

    @property
    def last_error(self) -> str | None:
        """Why the last delivery or outbox write failed; None once one succeeded again."""
        return self._courier.last_error

    @property
    def queued(self) -> int:
        """Rows held in memory only; at most `max_queued` while the outbox is writable."""
        return len(self._queue)

    @property
    def outbox_path(self) -> Path:
        """The outbox file this process writes (its slot)."""
        return self._own_path

    @property
    def parked(self) -> int:
        """Rows Supabase refused on their own merits; kept in the outbox for a human to look at."""
        return self._outbox.parked if self._outbox is not None else self._at_close[1]

    def record(self, row: UsageRow) -> None:
        """Queue a row for delivery: never raises, never drops. Call on the loop thread.

        Doesn't block on I/O unless the queue is full (the background task is behind): then
        the queue goes to the outbox right here. Stalling this caller briefly is the
        back-pressure that keeps memory bounded, and the row is on disk, not lost.
        """
        context.note_row(row)
        if self._closed:
            self._record_late(row)
            return
        self._queue.append(row)
        if len(self._queue) >= self._max_queued:
            self._spill()
        self._wake.set()

    async def start(self) -> None:
        self._slot = await asyncio.to_thread(slots.claim, self._outbox_path)
        self._own_path = self._slot.path
        self._outbox = await asyncio.to_thread(Outbox, self._slot.path)
        await self._adopt_orphans()
        if self._outbox.ready:
            log.info("redelivering %d usage rows left in %s", self._outbox.ready, self._slot.path)
        self._task = asyncio.create_task(self._run(), name="prism-ledger")

    async def aclose(self) -> None:
        """Stop: persist everything queued, try one last delivery, keep what didn't go.

        Bounded: a Supabase that never answers costs at most about `close_timeout_s` twice
        (the delivery in flight, then the last one); undelivered rows stay in the outbox.
        """
        if self._task is None or self._closed:
            return
        self._closing = True
        self._wake.set()
        done, _ = await asyncio.wait({self._task}, timeout=self._close_timeout_s)
        if not done:
            await stop_task(self._task, "ledger delivery", self._close_timeout_s)
        try:
            await self._persist_queued()
            outbox = self._require_outbox()
            if outbox.ready:
                last = self._courier.send_outbox(outbox)
                await bounded(last, "last usage delivery", self._close_timeout_s)
        except (sqlite3.Error, OSError) as exc:
            log.error("ledger outbox failed while closing: %s", exc)
        finally:
            self._closed = True  # from here on, record() writes to an outbox itself
            await self._close_outbox()
        if self.pending:
            log.warning(
                "%d usage rows stay in %s for the next start", self.pending, self.outbox_path
            )

    async def _close_outbox(self) -> None:
        try:
            # Rows recorded while the last delivery was in flight.
            await self._persist_queued()
        except (sqlite3.Error, OSError) as exc:
            log.error(
                "%d usage rows lost: outbox unwritable while closing: %s", len(self._queue), exc
            )
        finally:
            outbox, self._outbox = self._outbox, None
            if outbox is not None:
                self._at_close = (outbox.ready, outbox.parked)
                await asyncio.to_thread(outbox.close)
            slot, self._slot = self._slot, None
            if slot is not None:
                slot.release()

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every recorded row is delivered (True) or `timeout_s` passes (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self._wake.set()
        while self.pending and loop.time() < deadline:
            await asyncio.sleep(_POLL_S)
        return not self.pending

    async def drain_queue(self, source: UsageSource) -> int:
        """Move rows another process queued (see UsageSource) into this ledger; returns how many.

        Not implemented yet: the edge still writes its rows to Supabase itself.
        """
        raise NotImplementedError("draining an external usage queue is not implemented yet")

    async def _run(self) -> None:
        while not self._closing:
            await self._wait_for_work()
            if self._closing:
                return
            try:
                await self._round()
            except Exception:  # the ledger must outlive any one bad round; rows stay persisted
                self._courier.last_error = "unexpected error (see log)"
                log.exception("ledger round failed")
                self._retry.failed("persist")
                self._retry.failed("deliver")

    async def _round(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._retry.due("adopt", now):
            self._retry.wait("adopt", now + self._adopt_interval_s)
            await self._adopt_orphans()
        if self._queue and not self._require_outbox().ready and self._retry.due("deliver", now):
            await self._courier.send_fresh(self._require_outbox())
            return
        if self._queue and self._retry.due("persist", now):
            try:
                await self._persist_queued()
            except (sqlite3.Error, OSError) as exc:
                self._courier.outbox_failed(exc)
                return
            self._retry.succeeded("persist")
        if self._require_outbox().ready and self._retry.due("deliver", now):
            try:
                delivered = await self._courier.send_outbox(self._require_outbox())
            except (sqlite3.Error, OSError) as exc:
                self._courier.outbox_failed(exc)
                return
            if delivered:
                self._retry.succeeded("deliver")
            else:
                self._retry.failed("deliver")

    async def _wait_for_work(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._queue and self._retry.due("persist", now):
            # Linger briefly so rows arriving together travel together.
            if len(self._queue) < self._batch_size:
                await asyncio.sleep(self._flush_interval_s)
            return
        due = [self._retry.at("adopt")]
        if self._queue:
            due.append(self._retry.at("persist"))
        if self._outbox is not None and self._outbox.ready:
            due.append(self._retry.at("deliver"))
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), max(0.0, min(due) - now))
        except TimeoutError:
            return

    async def _adopt_orphans(self) -> None:
        """Take over the outbox files of processes that died (see origin.ledger.slots)."""
        outbox = self._require_outbox()
        found = await asyncio.to_thread(adopt_orphans, self._outbox_path, self.outbox_path, outbox)
        self.adopted += found

    async def _persist_queued(self) -> None:
        await self._queue.persist(self._require_outbox())

    def _spill(self) -> None:
        """The whole queue to the outbox, synchronously (see `record`)."""
        outbox, now = self._outbox, asyncio.get_running_loop().time()
        if outbox is None or not self._retry.due("persist", now):
            return  # not started, or the outbox is failing: keep the rows rather than drop them
        try:
            self._queue.spill(outbox)
        except (sqlite3.Error, OSError) as exc:
            self._courier.outbox_failed(exc)

    def _require_outbox(self) -> Outbox:
        if self._outbox is None:
            raise RuntimeError("Ledger.start() was not called")
        return self._outbox

    def _record_late(self, row: UsageRow) -> None:
        # After shutdown there is no loop task left; blocking briefly beats losing a billed row.
        try:
            put_in_free_slot(self._outbox_path, row.to_json())
        except (sqlite3.Error, OSError, slots.NoFreeSlot) as exc:
            log.error(
                "usage row %s lost: ledger closed and outbox unwritable: %s", row.request_id, exc
            )
