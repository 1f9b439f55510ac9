"""The usage ledger: every usage row reaches Supabase once, even across outages and restarts.

`record()` is what the hot path calls after a response: it only appends to an in-memory
queue. A background task moves queued rows into the on-disk outbox (so a crash or an
outage loses nothing), sends them in batches, and deletes them once Supabase has them.
If Supabase is down it keeps them and retries with capped exponential backoff; a later
process redelivers whatever an earlier one left behind. Delivery is at-least-once, and the
insert ignores request_ids it already has, so each row lands exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections import deque
from pathlib import Path
from typing import Any, Protocol

from origin.ledger.outbox import Outbox
from origin.observability import context
from origin.store import StoreError, StoreUnavailable
from shared.usage import UsageRow

log = logging.getLogger("prism.ledger")

DEFAULT_MIN_BACKOFF_S = 0.1
DEFAULT_MAX_BACKOFF_S = 5.0
_POLL_S = 0.02


class UsageSink(Protocol):
    async def insert_usage(self, rows: list[dict[str, Any]]) -> None: ...


class UsageSource(Protocol):
    """A queue other processes leave rows in (the edge: an Upstash Redis list), for `drain_queue`.

    `take` hands out up to `max_rows` rows without forgetting them; `ack` forgets them. The
    ledger acks only after the rows are in its outbox, so a crash between the two re-delivers
    rows (harmless: request_id dedupes) instead of losing them.
    """

    async def take(self, max_rows: int) -> list[dict[str, Any]]: ...

    async def ack(self, rows: list[dict[str, Any]]) -> None: ...


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
    ) -> None:
        self._store = store
        self._outbox_path = outbox_path
        self._batch_size = max(1, batch_size)
        self._flush_interval_s = flush_interval_s
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max(min_backoff_s, max_backoff_s)
        self._queue: deque[UsageRow | dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._outbox: Outbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._stored = 0  # deliverable rows in the outbox
        self._parked = 0
        self._closing = False
        self._closed = False
        self.delivered = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Rows not yet confirmed by Supabase (queued in memory or waiting in the outbox)."""
        return len(self._queue) + self._stored

    @property
    def parked(self) -> int:
        """Rows Supabase refused on their own merits; kept in the outbox for a human to look at."""
        return self._parked

    def record(self, row: UsageRow) -> None:
        """Queue a row for delivery: never blocks on I/O, never raises. Call on the loop thread."""
        context.note_row(row)
        if self._closed:
            self._record_late(row)
            return
        self._queue.append(row)
        self._wake.set()

    async def start(self) -> None:
        self._outbox = await asyncio.to_thread(Outbox, self._outbox_path)
        self._stored = await asyncio.to_thread(self._outbox.count)
        self._parked = await asyncio.to_thread(self._outbox.parked_count)
        if self._stored:
            log.info("redelivering %d usage rows left in %s", self._stored, self._outbox_path)
        self._task = asyncio.create_task(self._run(), name="prism-ledger")

    async def aclose(self) -> None:
        """Stop: persist everything queued, try one last delivery, keep what didn't go."""
        if self._task is None or self._closed:
            return
        self._closing = True
        self._wake.set()
        await self._task
        try:
            await self._persist_queued()
            if self._stored:
                await self._deliver()
        except (sqlite3.Error, OSError) as exc:
            log.error("ledger outbox failed while closing: %s", exc)
        finally:
            self._closed = True  # from here on, record() writes to the outbox itself
            await self._close_outbox()
        if self.pending:
            log.warning(
                "%d usage rows stay in %s for the next start", self.pending, self._outbox_path
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
                await asyncio.to_thread(outbox.close)

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
        loop = asyncio.get_running_loop()
        retry_at, failures = 0.0, 0
        while not self._closing:
            await self._wait_for_work(retry_at)
            try:
                await self._persist_queued()
                if self._closing or not self._stored or loop.time() < retry_at:
                    continue
                delivered = await self._deliver()
            except (sqlite3.Error, OSError) as exc:
                self.last_error = f"outbox: {exc}"
                log.error("ledger outbox failed: %s", exc)
                delivered = False
            except Exception:  # the ledger must outlive any one bad round; rows stay persisted
                self.last_error = "unexpected error (see log)"
                log.exception("ledger delivery round failed")
                delivered = False
            failures = 0 if delivered else failures + 1
            retry_at = loop.time() + self._backoff(failures) if failures else 0.0

    async def _wait_for_work(self, retry_at: float) -> None:
        if self._queue:
            # Linger briefly so rows arriving together travel together.
            if len(self._queue) < self._batch_size:
                await asyncio.sleep(self._flush_interval_s)
            return
        timeout = max(0.0, retry_at - asyncio.get_running_loop().time()) if self._stored else None
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return

    def _backoff(self, failures: int) -> float:
        delay = min(self._max_backoff_s, self._min_backoff_s * 2.0 ** (failures - 1))
        # Jitter so many origins coming back from one outage don't retry in lockstep.
        return delay * random.uniform(0.75, 1.0)

    async def _persist_queued(self) -> None:
        outbox = self._require_outbox()
        while self._queue:
            chunk = [self._queue.popleft() for _ in range(min(len(self._queue), self._batch_size))]
            rows = [row.to_json() if isinstance(row, UsageRow) else row for row in chunk]
            try:
                added = await asyncio.to_thread(outbox.put, rows)
            except BaseException:
                self._queue.extendleft(reversed(chunk))
                raise
            self._stored += added

    async def _deliver(self) -> bool:
        """Send the outbox oldest first until it is empty (True) or Supabase fails (False)."""
        outbox = self._require_outbox()
        while True:
            batch = await asyncio.to_thread(outbox.take, self._batch_size)
            if not batch:
                return True
            if not await self._send(outbox, batch):
                return False
            await self._persist_queued()

    async def _send(self, outbox: Outbox, batch: list[tuple[int, dict[str, Any]]]) -> bool:
        try:
            await self._store.insert_usage([row for _, row in batch])
        except StoreUnavailable as exc:
            return self._failed(exc)
        except StoreError as exc:
            if not exc.row_specific:
                return self._failed(exc)
            if len(batch) > 1:
                # Some row in the batch is bad: send them one by one to find it.
                for item in batch:
                    if not await self._send(outbox, [item]):
                        return False
                return True
            await asyncio.to_thread(outbox.park, [batch[0][0]], f"{exc.code}: {exc.message}")
            self._stored -= 1
            self._parked += 1
            log.error(
                "usage row %s refused by Supabase and parked: %s",
                batch[0][1].get("request_id"),
                exc.message,
            )
            return True
        await asyncio.to_thread(outbox.delete, [row_id for row_id, _ in batch])
        self._stored -= len(batch)
        self.delivered += len(batch)
        self.last_error = None
        return True

    def _failed(self, exc: Exception) -> bool:
        self.last_error = str(exc)
        log.warning("usage delivery failed, will retry (%d pending): %s", self.pending, exc)
        return False

    def _require_outbox(self) -> Outbox:
        if self._outbox is None:
            raise RuntimeError("Ledger.start() was not called")
        return self._outbox

    def _record_late(self, row: UsageRow) -> None:
        # After shutdown there is no loop task left; blocking briefly beats losing a billed row.
        try:
            outbox = Outbox(self._outbox_path)
            try:
                outbox.put([row.to_json()])
            finally:
                outbox.close()
        except (sqlite3.Error, OSError) as exc:
            log.error(
                "usage row %s lost: ledger closed and outbox unwritable: %s", row.request_id, exc
            )
