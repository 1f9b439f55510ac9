"""The spend counters in Redis: the three scripts of shared.spend_scripts, run with redis-py.

Each call is one round trip (EVALSHA, loading the script on first use after a Redis restart).
Every failure surfaces as `CountersDown`; what a sick Redis means is decided by the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from shared.spend_scripts import ADMIT, RECONCILE, SETTLE

Arg = str | int


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
        )
        self._admit = self._redis.register_script(ADMIT)
        self._settle = self._redis.register_script(SETTLE)
        self._reconcile = self._redis.register_script(RECONCILE)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def admit(self, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        async with _bounded(self._timeout_s):
            return list(_text(await self._admit(keys=list(keys), args=list(args))))

    async def settle(self, keys: Sequence[str], args: Sequence[Arg]) -> None:
        async with _bounded(self._timeout_s * 4):
            await self._settle(keys=list(keys), args=list(args))

    async def reconcile(self, keys: Sequence[str], args: Sequence[Arg]) -> int:
        async with _bounded(self._timeout_s * 4):
            return int(_text(await self._reconcile(keys=list(keys), args=list(args))))

    async def publish(self, key: str, value: str) -> None:
        async with _bounded(self._timeout_s * 4):
            await self._redis.set(key, value)
