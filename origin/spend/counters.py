"""The spend counters in Redis: the three scripts of shared.spend_scripts, run with redis-py.

Admits and settles go through `send`, many per round trip (origin.spend.batcher gathers
them): EVALSHA by the digest computed at import, the script loaded only when Redis answers
NOSCRIPT (once after a restart), one command without a pipeline object when it is alone.
Every failure surfaces as `CountersDown`; what a sick Redis means is decided by the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import hiredis
from redis.asyncio import Connection, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from shared.spend_scripts import ADMIT, RECONCILE, SETTLE, SETTLE_SHA

Arg = str | int
# One project's settles: all their keys, then all their arguments (see SETTLE).
Batch = tuple[list[str], list[Arg]]
# An EVALSHA's arguments: the digest, the number of keys, then the keys and the arguments.
Command = tuple[str, int, tuple[Arg, ...]]


class PackedConnection(Connection):
    """redis-py's asyncio connection, packing commands with hiredis's C packer (as its
    synchronous client already does): the admit command has some thirty arguments, and
    packing them in Python was about 65 us of the check's CPU, in C about 10."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:
            args = (*args[0].split(), *args[1:])  # "SCRIPT LOAD": two words, two arguments
        return [hiredis.pack_command(args)]


class CountersDown(Exception):
    """Redis did not answer in time or at all."""


@asynccontextmanager
async def _bounded(seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except (RedisError, OSError, TimeoutError) as exc:
        raise CountersDown(f"redis: {type(exc).__name__}: {exc}") from exc


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


class Counters:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.round_trips = 0  # admit and settle round trips so far (what bench.spend_checks counts)
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=0,
            max_connections=256,
            connection_class=PackedConnection,
        )
        self._reconcile = self._redis.register_script(RECONCILE)

    async def aclose(self) -> None:
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
        async with _bounded(timeout_s):
            replies = await self._evalsha(commands)
            failed = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if failed:
                await self._redis.script_load(ADMIT)
                await self._redis.script_load(SETTLE)
                again = await self._evalsha([commands[i] for i in failed])
                for i, reply in zip(failed, again, strict=True):
                    replies[i] = reply
        return [_text(r) if not isinstance(r, Exception) else r for r in replies]

    async def _evalsha(self, commands: Sequence[Command]) -> list[Any]:
        self.round_trips += 1
        if len(commands) == 1:  # alone: no pipeline object to build
            try:
                sha, count, rest = commands[0]
                return [await self._redis.evalsha(sha, count, *rest)]
            except NoScriptError as exc:
                return [exc]
        pipe = self._redis.pipeline(transaction=False)
        for sha, count, rest in commands:
            pipe.evalsha(sha, count, *rest)
        return list(await pipe.execute(raise_on_error=False))

    async def reconcile(self, keys: Sequence[str], args: Sequence[Arg]) -> int:
        async with _bounded(self.timeout_s * 4):
            return int(_text(await self._reconcile(keys=list(keys), args=list(args))))

    async def publish(self, key: str, value: str) -> None:
        async with _bounded(self.timeout_s * 4):
            await self._redis.set(key, value)
