"""Admits and settles of concurrent requests, sent to Redis together: one round trip per batch.

Each round trip costs the origin a socket write and a read, and Redis a wake-up, whatever it
carries: under load that, not the scripts, is most of what spend control costs. So one batch
is on its way at a time, and everything that arrives meanwhile (the admits of requests about
to call a provider, the settles of requests that ended) goes together in the next, as one
pipeline. Alone, a request waits for nothing: its admit leaves on the next turn of the event
loop. A settle never delays a response: it waits up to SETTLE_LINGER_S for the next admit to
ride along with (so one request after another costs one round trip each, not two), and goes
before any admit sent after it, so a client sending one request after another sees its
previous request settled. Other workers see a reservation that long after its answer.

What waits is bounded: past MAX_PENDING settles one is dropped with a warning, exactly as if
the worker had died holding it (the reservation lapses at its TTL and reconciliation restores
the spend from Postgres).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from origin.spend.counters import Arg, Batch, Command, Counters, CountersDown
from shared.spend_scripts import ADMIT_SHA

log = logging.getLogger("prism.spend")

MAX_PENDING = 10_000
SETTLE_LINGER_S = 0.010


class Batcher:
    def __init__(self, counters: Counters, timeout_s: float, max_pending: int = MAX_PENDING):
        self._counters, self._timeout_s, self._max_pending = counters, timeout_s, max_pending
        self._settles: dict[str, Batch] = {}
        self._settle_count = 0
        self._admits: list[tuple[Command, asyncio.Future[list[Any]]]] = []
        self._sending: asyncio.Task[None] | None = None
        self._linger: asyncio.TimerHandle | None = None

    async def admit(self, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        """The admit script's reply (shared.spend_scripts); CountersDown if Redis fails."""
        reply: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._admits.append(((ADMIT_SHA, len(keys), (*keys, *args)), reply))
        self._wake()
        try:
            # The batch before this one, then this one: each is bounded by the timeout.
            async with asyncio.timeout(self._timeout_s * 2):
                return await reply
        except TimeoutError as exc:
            raise CountersDown("redis: the admit timed out") from exc

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
        try:
            while self._admits or self._settles:
                admits, self._admits = self._admits, []
                settles, self._settles, self._settle_count = self._settles, {}, 0
                await self._send_one(list(settles.values()), admits)
        finally:
            self._sending = None

    async def _send_one(
        self, settles: list[Batch], admits: list[tuple[Command, asyncio.Future[list[Any]]]]
    ) -> None:
        # Settles alone get no longer than admits: the admits arriving meanwhile wait behind them.
        try:
            replies = await self._counters.send(settles, [c for c, _ in admits], self._timeout_s)
        except CountersDown as exc:
            if settles:
                # Reservations lapse at their TTL; reconciliation restores the spend.
                log.warning("could not settle %d projects' requests: %s", len(settles), exc)
            for _, waiting in admits:
                if not waiting.done():
                    waiting.set_exception(CountersDown(str(exc)))
            return
        for reply in replies[: len(settles)]:
            if isinstance(reply, Exception):
                log.warning("a settle failed (its reservations will expire): %s", reply)
        for (_, waiting), reply in zip(admits, replies[len(settles) :], strict=True):
            if waiting.done():
                continue  # its request gave up waiting
            if isinstance(reply, Exception):
                waiting.set_exception(CountersDown(f"redis: {type(reply).__name__}: {reply}"))
            else:
                waiting.set_result(list(reply))

    async def aclose(self) -> None:
        """Send what is waiting (at shutdown: requests that ended must still settle)."""
        if self._settles:
            self._wake()
        if self._sending is not None:
            await asyncio.gather(self._sending, return_exceptions=True)
