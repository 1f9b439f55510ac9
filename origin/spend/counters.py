"""The spend counters in Redis: the three scripts of shared.spend_scripts, run with redis-py.

Admit is one round trip: EVALSHA by the digest computed at import (the script is loaded only
when Redis answers NOSCRIPT, i.e. once after a restart), so no per-call Script
machinery runs. Settles of many requests go out together: one EVALSHA per
project (its keys share one cluster slot), all in one pipeline. Every failure surfaces as
`CountersDown`; what a sick Redis means is decided by the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import hiredis
from redis.asyncio import Connection, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from shared.spend_scripts import ADMIT, ADMIT_SHA, RECONCILE, SETTLE, SETTLE_SHA

Arg = str | int
# One project's settles: all their keys, then all their arguments (see SETTLE).
Batch = tuple[list[str], list[Arg]]


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
        self._timeout_s = timeout_s
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

    async def admit(self, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        async with _bounded(self._timeout_s):
            try:
                reply = await self._redis.evalsha(ADMIT_SHA, len(keys), *keys, *args)
            except NoScriptError:
                await self._redis.script_load(ADMIT)
                reply = await self._redis.evalsha(ADMIT_SHA, len(keys), *keys, *args)
            return list(_text(reply))

    async def settle(self, batches: Mapping[str, Batch]) -> None:
        """Settle every project's batch in one round trip (twice after a Redis restart)."""
        async with _bounded(self._timeout_s * 4):
            pending = list(batches.values())
            for _attempt in range(2):
                failed = await self._settle_once(pending)
                if not failed:
                    return
                await self._redis.script_load(SETTLE)
                pending = failed
            raise CountersDown("redis: the settle script could not be loaded")

    async def _settle_once(self, batches: list[Batch]) -> list[Batch]:
        """Send the batches; return those Redis did not know the script for (nothing ran)."""
        pipe = self._redis.pipeline(transaction=False)
        for keys, args in batches:
            pipe.evalsha(SETTLE_SHA, len(keys), *keys, *args)
        replies = await pipe.execute(raise_on_error=False)
        failed = []
        for batch, reply in zip(batches, replies, strict=True):
            if isinstance(reply, NoScriptError):
                failed.append(batch)
            elif isinstance(reply, Exception):
                raise reply
        return failed

    async def reconcile(self, keys: Sequence[str], args: Sequence[Arg]) -> int:
        async with _bounded(self._timeout_s * 4):
            return int(_text(await self._reconcile(keys=list(keys), args=list(args))))

    async def publish(self, key: str, value: str) -> None:
        async with _bounded(self._timeout_s * 4):
            await self._redis.set(key, value)
