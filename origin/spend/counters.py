"""The spend counters in Redis: the three scripts of shared.spend_scripts.

Admits and settles go through `send`, many per round trip (origin.spend.batcher gathers
them), over the worker's one pipelined connection (origin.redis_wire: no pool, hiredis
parsing): EVALSHA by the digest computed at import, the script loaded only when Redis answers
NOSCRIPT (once after a restart). Reconciling and publishing, off the request path, use
redis-py. Every failure surfaces as `CountersDown`; what a sick Redis means is decided by the
caller. After an admit or settle round trip fails, the request path skips Redis for
`cooldown_s` (one request then tries it again): a Redis that hangs would otherwise hold every
request for the full timeout before it is admitted as if the counters were down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from origin.redis_wire import RedisWire
from origin.spend.allowance_script import ALLOW, ALLOW_SHA
from shared.breaker import Breaker
from shared.spend_scripts import ADMIT, RECONCILE, SETTLE, SETTLE_SHA

log = logging.getLogger("prism.spend")

Arg = str | int
# One project's settles: all their keys, then all their arguments (see SETTLE).
Batch = tuple[list[str], list[Arg]]
# An EVALSHA's arguments: the digest, the number of keys, then the keys and the arguments.
Command = tuple[str, int, tuple[Arg, ...]]


class CountersDown(Exception):
    """Redis did not answer in time or at all."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@asynccontextmanager
async def _bounded(seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except (RedisError, OSError, TimeoutError) as exc:
        hung = isinstance(exc, (TimeoutError, RedisTimeout))  # redis-py's is a RedisError
        raise CountersDown(f"redis: {type(exc).__name__}: {exc}", timed_out=hung) from exc


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


class Counters:
    def __init__(self, url: str, timeout_s: float, cooldown_s: float = 1.0) -> None:
        self.timeout_s = timeout_s
        # Trips on the first failure: each one already cost a request the whole timeout.
        self._breaker = Breaker(cooldown_s, trip_after_s=0.0)
        self.round_trips = 0  # admit and settle round trips so far (what bench.spend_checks counts)
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=0,
            max_connections=256,
        )
        # The request path's admits and settles: one pipelined connection, hiredis parsing.
        self._wire = RedisWire(url, timeout_s, encoding="utf-8")
        self._reconcile = self._redis.register_script(RECONCILE)

    async def load_scripts(self) -> None:
        """Load the request path's scripts before the first request. A settle sent with an
        admit must run before it; were SETTLE missing while ADMIT was cached (the edge loads
        ADMIT on its own), the admit would run first and its answer count the settled request
        as still reserved. Best effort: NOSCRIPT still loads them when this could not."""
        try:
            async with _bounded(self.timeout_s):
                for script in (ADMIT, SETTLE, ALLOW):
                    await self._wire.call("SCRIPT", "LOAD", script)
        except CountersDown as exc:
            log.warning("spend scripts not loaded at start (loaded on first use): %s", exc)

    async def aclose(self) -> None:
        await self._wire.aclose()
        await self._redis.aclose()

    async def send(
        self, settles: Sequence[Batch], admits: Sequence[Command], timeout_s: float
    ) -> list[Any]:
        """One round trip: the settle batches, then the admit commands; returns the replies in
        that order (a script error as its exception). Redis that forgot the scripts (a restart
        empties its script cache) answers NOSCRIPT without running them: they are loaded and
        only those commands sent again."""
        commands = [(SETTLE_SHA, len(keys), (*keys, *args)) for keys, args in settles]
        commands += admits
        async with self._guarded(timeout_s):
            replies = await self._evalsha(commands)
            failed = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if failed:
                await self._wire.call("SCRIPT", "LOAD", ADMIT)
                await self._wire.call("SCRIPT", "LOAD", SETTLE)
                again = await self._evalsha([commands[i] for i in failed])
                for i, reply in zip(failed, again, strict=True):
                    replies[i] = reply
        return replies

    @asynccontextmanager
    async def _guarded(self, seconds: float) -> AsyncIterator[None]:
        """`_bounded`, skipped at once while the breaker cools down after a timeout. Only a
        timeout trips it: a refused connection fails at once, and trying again costs nothing,
        so the request after Redis comes back finds it rather than a cooldown."""
        if self._breaker.skip():
            raise CountersDown("redis: skipped for a moment after it timed out")
        try:
            async with _bounded(seconds):
                yield
        except CountersDown as exc:
            if exc.timed_out:
                self._breaker.failed()
            raise
        self._breaker.succeeded()

    async def _evalsha(self, commands: Sequence[Command]) -> list[Any]:
        """Every command's reply, or its error in its place; all sent in one write."""
        self.round_trips += 1
        replies = await self._wire.pipeline(
            [("EVALSHA", sha, count, *rest) for sha, count, rest in commands],
            return_exceptions=True,
        )
        for reply in replies:
            if isinstance(reply, BaseException) and not isinstance(reply, ResponseError):
                raise reply  # the connection, not a script: nothing can be trusted
        return replies

    async def allow(self, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        """One ALLOW call (origin.spend.allowance_script), loading the script if Redis lost it."""
        command = ("EVALSHA", ALLOW_SHA, len(keys), *keys, *args)
        async with self._guarded(self.timeout_s):
            try:
                return list(await self._wire.call(*command))
            except NoScriptError:
                await self._wire.call("SCRIPT", "LOAD", ALLOW)
                return list(await self._wire.call(*command))

    async def reconcile(self, keys: Sequence[str], args: Sequence[Arg]) -> int:
        async with _bounded(self.timeout_s * 4):
            return int(_text(await self._reconcile(keys=list(keys), args=list(args))))

    async def publish(self, key: str, value: str) -> None:
        async with _bounded(self.timeout_s * 4):
            await self._redis.set(key, value)
