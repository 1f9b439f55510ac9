"""Settles that wait for an admit to ride along with, and admits sent with them.

Each round trip costs the origin a socket write and a read, and Redis a wake-up, whatever it
carries. An admit goes to Redis from its request's own task (no batch task between them: each
extra hop cost a loaded worker several turns of its event loop, 15-35 ms per admit at
concurrency 32), carrying every settle waiting at that moment ahead of it, in one write. A settle
never delays a response: it waits up to SETTLE_LINGER_S for the next admit to ride along with
(so one request after another costs one round trip each, not two), and goes before any admit
sent after it, so a client sending one request after another sees its previous request
settled. Other workers see a reservation that long after its answer.

What waits is bounded: past MAX_PENDING settles one is dropped with a warning, exactly as if
the worker had died holding it (the reservation lapses at its TTL and reconciliation restores
the spend from Postgres).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from origin.spend.counters import Arg, Batch, Counters, CountersDown
from shared.spend_scripts import ADMIT_SHA

log = logging.getLogger("prism.spend")

MAX_PENDING = 10_000
SETTLE_LINGER_S = 0.010


class Batcher:
    def __init__(self, counters: Counters, timeout_s: float, max_pending: int = MAX_PENDING):
        self._counters, self._timeout_s, self._max_pending = counters, timeout_s, max_pending
        self._settles: dict[str, Batch] = {}
        self._settle_count = 0
        self._sending: asyncio.Task[None] | None = None
        self._linger: asyncio.TimerHandle | None = None

    async def admit(self, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        """The admit script's reply (shared.spend_scripts); CountersDown if Redis fails.

        Sent from the request's own task, with every settle waiting to ride along ahead of it:
        handing it to a batch task instead cost each admit several more turns of the event
        loop, 15-35 ms per admit on a worker busy at concurrency 32."""
        settles = list(self._settles.values())
        self._settles, self._settle_count = {}, 0
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        command = (ADMIT_SHA, len(keys), (*keys, *args))
        try:
            replies = await self._counters.send(settles, [command], self._timeout_s)
        except CountersDown as exc:
            if settles:
                log.warning("could not settle %d projects' requests: %s", len(settles), exc)
            raise
        _log_settle_failures(replies[: len(settles)])
        reply = replies[-1]
        if isinstance(reply, Exception):
            raise CountersDown(f"redis: {type(reply).__name__}: {reply}")
        return list(reply)

    def settle(self, project_id: str, keys: list[str], args: list[Arg]) -> None:
        """Queue one request's settle (SETTLE's keys and arguments; the lists become ours)."""
        if self._settle_count >= self._max_pending:
            log.warning(
                "settle dropped (%d waiting); the reservation will expire", self._max_pending
            )
            return
        batch = self._settles.get(project_id)
        if batch is None:
            self._settles[project_id] = (keys, args)
        else:
            batch[0].extend(keys)
            batch[1].extend(args)
        self._settle_count += 1
        if self._sending is None and self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(SETTLE_LINGER_S, self._wake)

    def _wake(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._sending is None:
            self._sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        """Settles nobody's admit took along (SETTLE_LINGER_S passed without one)."""
        try:
            while self._settles:
                settles, self._settles, self._settle_count = self._settles, {}, 0
                await self._send_settles(list(settles.values()))
        finally:
            self._sending = None

    async def _send_settles(self, settles: list[Batch]) -> None:
        try:
            replies = await self._counters.send(settles, [], self._timeout_s)
        except CountersDown as exc:
            # Reservations lapse at their TTL; reconciliation restores the spend.
            log.warning("could not settle %d projects' requests: %s", len(settles), exc)
            return
        _log_settle_failures(replies)

    async def aclose(self) -> None:
        """Send what is waiting (at shutdown: requests that ended must still settle)."""
        if self._settles:
            self._wake()
        if self._sending is not None:
            await asyncio.gather(self._sending, return_exceptions=True)


def _log_settle_failures(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            log.warning("a settle failed (its reservations will expire): %s", reply)
