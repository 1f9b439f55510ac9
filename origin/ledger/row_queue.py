"""Usage rows between `Ledger.record()` and the outbox: kept in memory, counted while in flight.

Appending must cost the hot path nothing, so rows wait here and reach disk in batches. A row
taken off the queue is still counted until it lands in the outbox or in Supabase: a `flush()`
that saw zero while a write was in flight would let the edge queue ack rows never written.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from origin.ledger.outbox import Outbox
from shared.usage import UsageRow

Row = UsageRow | dict[str, Any]


class RowQueue:
    """Rows recorded but not yet persisted or delivered, oldest first, in batches."""

    def __init__(self, batch_size: int) -> None:
        self._rows: deque[Row] = deque()
        self._batch_size = batch_size
        self._moving = 0  # rows taken off the queue and not yet in the outbox or Supabase

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def pending(self) -> int:
        """Rows held here or on their way out of here."""
        return len(self._rows) + self._moving

    def append(self, row: Row) -> None:
        self._rows.append(row)

    def take(self) -> list[Row]:
        """Up to one batch of the oldest rows."""
        return [self._rows.popleft() for _ in range(min(len(self._rows), self._batch_size))]

    def put_back(self, chunk: list[Row]) -> None:
        """Return rows taken by `take` to the front, in their order."""
        self._rows.extendleft(reversed(chunk))

    @contextmanager
    def moving(self, count: int) -> Iterator[None]:
        """Count `count` taken rows as pending while the block runs."""
        self._moving += count
        try:
            yield
        finally:
            self._moving -= count

    async def persist(self, outbox: Outbox) -> None:
        """Every queued row into `outbox`, a batch per write; a failed batch stays queued."""
        while self._rows:
            chunk = self.take()
            with self.moving(len(chunk)):
                try:
                    await asyncio.to_thread(outbox.put, as_json(chunk))
                except BaseException:
                    self.put_back(chunk)
                    raise

    def spill(self, outbox: Outbox) -> None:
        """The whole queue into `outbox` in one blocking write; kept queued if it fails."""
        chunk = list(self._rows)
        self._rows.clear()
        try:
            outbox.put(as_json(chunk))
        except (sqlite3.Error, OSError):
            self.put_back(chunk)
            raise


def as_json(chunk: list[Row]) -> list[dict[str, Any]]:
    return [row.to_json() if isinstance(row, UsageRow) else row for row in chunk]
