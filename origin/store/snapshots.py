"""Signed copies in Redis of the few store answers a request needs, for a worker that starts
while the store is down.

A running worker keeps what it read (origin.revalidating, origin.tenancy.auth) and rides out
an outage of Supabase on it. A worker started during one (a deploy, a crash, a scale-up) has
nothing, and would refuse every request. So each answer a request depends on (a key's owner,
a project's sealed provider keys, its budgets and limits) is copied to Redis when the store
gives it, and read back only when the store cannot answer.

Each copy is signed with a key derived from the master key and carries its own expiry, so
whoever can write to Redis can neither forge an answer nor make an old one live longer than
its owner allowed. Provider keys are copied sealed, as the database holds them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger("prism.origin.snapshots")

PREFIX: Final = "prism:snapshot:"
TIMEOUT_S: Final = 1.0
# Copies being written at once: a hung Redis must not hold a task open per store read.
MAX_WRITES: Final = 64
_PURPOSE: Final = b"prism store snapshots v1"


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def snapshot_key(name: str) -> str:
    return f"{PREFIX}{name}"


class Snapshots:
    def __init__(
        self,
        redis_url: str,
        master_key: bytes,
        *,
        timeout_s: float = TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            redis_url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # Once on a new connection: a pooled one may have died with a Redis restart.
            retry=Retry(NoBackoff(), 1),
        )
        self._signing_key = hmac.new(master_key, _PURPOSE, hashlib.sha256).digest()
        self._clock = clock
        self._writes: set[asyncio.Task[None]] = set()

    async def save(self, name: str, value: Any, ttl_s: float) -> None:
        """Keep `value` (JSON) under `name` for `ttl_s`; a failure is logged, never raised."""
        expires = int(self._clock() + ttl_s)
        copy = {"value": value, "expires": expires, "mac": self._mac(name, value, expires)}
        try:
            await self._client.set(snapshot_key(name), json.dumps(copy), ex=max(1, int(ttl_s)))
        except (RedisError, OSError) as exc:
            log.warning("snapshot %s not kept (needed only by a restart mid-outage): %s", name, exc)

    def save_later(self, name: str, value: Any, ttl_s: float) -> None:
        """`save` without waiting for it: the store's answer goes back to its caller now."""
        if len(self._writes) >= MAX_WRITES:
            return  # the next read of the same answer writes it
        task = asyncio.get_running_loop().create_task(self.save(name, value, ttl_s))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def load(
        self, name: str, unless: tuple[str, str] | None = None
    ) -> tuple[Any, float] | None:
        """The value kept under `name` and the seconds it has left; None when there is none,
        it expired, its signature is wrong, Redis cannot say, or the Redis key `unless[0]`
        holds `unless[1]` (read in the same round trip)."""
        keys = [snapshot_key(name), *([unless[0]] if unless else [])]
        try:
            found = await self._client.mget(keys)
        except (RedisError, OSError) as exc:
            log.warning("snapshot %s unreadable: %s", name, exc)
            return None
        raw = found[0]
        if unless is not None and _text(found[1]) == unless[1]:
            return None
        try:
            copy = json.loads(raw) if raw is not None else {}
            value, expires, mac = copy["value"], int(copy["expires"]), str(copy["mac"])
        except (ValueError, TypeError, KeyError):
            return None
        left = expires - self._clock()
        if left <= 0 or not hmac.compare_digest(mac, self._mac(name, value, expires)):
            return None
        return value, left

    def _mac(self, name: str, value: Any, expires: int) -> str:
        signed = json.dumps([name, value, expires], separators=(",", ":"), sort_keys=True)
        return hmac.new(self._signing_key, signed.encode(), hashlib.sha256).hexdigest()

    async def aclose(self) -> None:
        for task in list(self._writes):
            task.cancel()
        await asyncio.gather(*self._writes, return_exceptions=True)
        await self._client.aclose()
