"""Settling reservations after the response, many requests per round trip.

A settle never delays a response: the gateway hands it over and returns. While one batch is
on its way to Redis, the settles of every request that finishes meanwhile gather, and go
together as the next batch (one pipeline, one script call per project), so under load the
round trips per request fall towards zero, and alone a settle still leaves on the next turn
of the event loop. What waits is bounded: past MAX_PENDING a settle is dropped with a
warning, exactly as if the worker had died holding it: the reservation lapses at its TTL
and reconciliation restores the spend from Postgres.
"""

from __future__ import annotations

import asyncio
import logging

from origin.spend.counters import Arg, Batch, Counters, CountersDown

log = logging.getLogger("prism.spend")

MAX_PENDING = 10_000


class Settler:
    def __init__(self, counters: Counters, max_pending: int = MAX_PENDING) -> None:
        self._counters, self._max_pending = counters, max_pending
        self._pending: dict[str, Batch] = {}
        self._count = 0
        self._flushing: asyncio.Task[None] | None = None

    def submit(self, project_id: str, keys: list[str], args: list[Arg]) -> None:
        """Queue one request's settle (SETTLE's keys and arguments; the lists become ours)."""
        if self._count >= self._max_pending:
            log.warning("settle dropped (%d waiting); the reservation will expire", self._count)
            return
        batch = self._pending.get(project_id)
        if batch is None:
            self._pending[project_id] = (keys, args)
        else:
            batch[0].extend(keys)
            batch[1].extend(args)
        self._count += 1
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._pending:
                batches, self._pending, self._count = self._pending, {}, 0
                try:
                    await self._counters.settle(batches)
                except CountersDown as exc:
                    # Reservations lapse at their TTL; reconciliation restores the spend.
                    log.warning("could not settle %d projects' requests: %s", len(batches), exc)
        finally:
            self._flushing = None

    async def aclose(self) -> None:
        """Send what is waiting (at shutdown: requests that ended must still settle)."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
