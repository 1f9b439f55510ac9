"""Getting usage rows into Supabase: what a send does when the database is slow, down or says no.

Kept apart from the ledger's scheduling so the failure handling reads in one place: a fresh
batch that is slow or refused falls back to the outbox, an outbox batch Supabase refuses is
bisected until the one bad row is found and parked, and nothing leaves the outbox before
Supabase confirmed it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any, Protocol

from origin.ledger.backoff import Backoff
from origin.ledger.outbox import Outbox
from origin.ledger.row_queue import RowQueue, as_json
from origin.store import StoreError, StoreUnavailable

log = logging.getLogger("prism.ledger")


class UsageSink(Protocol):
    async def insert_usage(self, rows: list[dict[str, Any]]) -> None: ...


class Courier:
    """Sends batches to `store.insert_usage`, from memory or from the outbox, and keeps score."""

    def __init__(
        self,
        store: UsageSink,
        rows: RowQueue,
        retry: Backoff,
        batch_size: int,
        persist_after_s: float,
    ) -> None:
        self._store = store
        self._rows = rows
        self._retry = retry  # shared with the ledger, which schedules by it
        self._batch_size = batch_size
        self._persist_after_s = persist_after_s
        self.delivered = 0
        self.last_error: str | None = None

    async def send_fresh(self, outbox: Outbox) -> None:
        """One batch from memory to Supabase; into the outbox if that fails or takes long (the
        outbox path then retries, bisects a refused batch and parks the bad row)."""
        taken = self._rows.take()
        with self._rows.moving(len(taken)):
            chunk = _unique(as_json(taken))  # as the outbox keeps one row per request_id
            sending = asyncio.ensure_future(self._store.insert_usage(chunk))
            persisted = False
            try:
                done, _ = await asyncio.wait({sending}, timeout=self._persist_after_s)
                if not done:
                    persisted = await self._persist_chunk(outbox, chunk)
                await sending
            except (StoreUnavailable, StoreError) as exc:
                if not persisted and not await self._persist_chunk(outbox, chunk):
                    self._rows.put_back(taken)
                if not (isinstance(exc, StoreError) and exc.row_specific):
                    self._retry.failed("deliver")
                    self._failed(outbox, exc)
                return
            except BaseException:  # cancelled while closing: the close persists what is queued
                if not persisted:
                    self._rows.put_back(taken)
                raise
        if persisted:  # Supabase has them: the outbox copies are redelivered, then ignored
            log.info("a slow usage delivery went through; its %d rows are resent", len(chunk))
        self._retry.succeeded("deliver")
        self.delivered += len(chunk)
        self.last_error = None

    async def _persist_chunk(self, outbox: Outbox, chunk: list[dict[str, Any]]) -> bool:
        try:
            await asyncio.to_thread(outbox.put, chunk)
        except (sqlite3.Error, OSError) as exc:
            self.outbox_failed(exc)
            return False
        return True

    def outbox_failed(self, exc: BaseException) -> None:
        # Retried on the same backoff as delivery: a failing disk is not hammered in a loop.
        self.last_error = f"outbox: {exc}"
        log.error("ledger outbox failed: %s", exc)
        self._retry.failed("persist")

    async def send_outbox(self, outbox: Outbox) -> bool:
        """Send the outbox oldest first until it is empty (True) or Supabase fails (False)."""
        while True:
            batch = await asyncio.to_thread(outbox.take, self._batch_size)
            if not batch:
                return True
            if not await self._send(outbox, batch):
                return False
            await self._rows.persist(outbox)

    async def _send(self, outbox: Outbox, batch: list[tuple[int, dict[str, Any]]]) -> bool:
        try:
            await self._store.insert_usage([row for _, row in batch])
        except StoreUnavailable as exc:
            return self._failed(outbox, exc)
        except StoreError as exc:
            if not exc.row_specific:
                return self._failed(outbox, exc)
            if len(batch) > 1:
                # Some row in the batch is bad: send them one by one to find it.
                for item in batch:
                    if not await self._send(outbox, [item]):
                        return False
                return True
            await asyncio.to_thread(outbox.park, [batch[0][0]], f"{exc.code}: {exc.message}")
            log.error(
                "usage row %s refused by Supabase and parked: %s",
                batch[0][1].get("request_id"),
                exc.message,
            )
            return True
        await asyncio.to_thread(outbox.delete, [row_id for row_id, _ in batch])
        self.delivered += len(batch)
        self.last_error = None
        return True

    def _failed(self, outbox: Outbox, exc: Exception) -> bool:
        self.last_error = str(exc)
        pending = self._rows.pending + outbox.ready
        log.warning("usage delivery failed, will retry (%d pending): %s", pending, exc)
        return False


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first row of each request_id, in order."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row["request_id"], row)
    return list(seen.values()) if len(seen) != len(rows) else rows
