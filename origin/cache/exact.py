"""The exact layer: cached responses in Redis under the shared key layout (shared.cache_entry).

Lookups and stores, once or twice per request, go over the worker's pipelined connection
(origin.redis_wire); admin work (purges, the inspector) over a redis-py pool with a single
immediate retry (a pooled connection left over from before a Redis restart fails once, the
retry opens a fresh one). A lookup waits `timeout_s` (tens of milliseconds) for its reply,
and a reply already received when a late loop checks the deadline counts (RedisWire
.call_within); writes and purges are bounded by the longer `store_timeout_s`, which is also
the socket timeout. Every failure surfaces as `LayerDown`: the caller decides what a sick Redis
means (a bypass), nothing here decides it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from origin.redis_wire import RedisWire, wrong_type
from shared.cache_entry import CacheEntry, exact_key, project_index_key, tag_key

_SCAN_BATCH = 500

log = logging.getLogger("prism.cache")


class LayerDown(Exception):
    """A cache backend did not answer in time or at all."""


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except (RedisError, OSError, TimeoutError) as exc:
        raise LayerDown(f"redis: {type(exc).__name__}: {exc}") from exc


@asynccontextmanager
async def _bounded(seconds: float) -> AsyncIterator[None]:
    async with _translated(), asyncio.timeout(seconds):
        yield


def _unreadable(key: str) -> CacheEntry | None:
    log.warning("unreadable cache entry %s read as a miss", key)
    return None


class ExactStore:
    def __init__(self, url: str, timeout_s: float, store_timeout_s: float) -> None:
        self._timeout_s, self._store_timeout_s = timeout_s, store_timeout_s
        self._redis = Redis.from_url(
            url,
            socket_timeout=store_timeout_s,
            socket_connect_timeout=store_timeout_s,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=0,
            max_connections=256,
        )
        self._wire = RedisWire(url, store_timeout_s)

    async def aclose(self) -> None:
        await self._wire.aclose()
        await self._redis.aclose()

    async def get(self, project_id: str, fingerprint: str) -> CacheEntry | None:
        """The entry, None for a miss; an entry Prism cannot read is a miss, with a warning
        (the answer then stored replaces it), not a sick Redis to skip for a while."""
        key = exact_key(project_id, fingerprint)
        async with _translated():
            try:
                raw = await self._wire.call_within(self._timeout_s, "GET", key)
            except ResponseError as exc:
                if not wrong_type(exc):
                    raise
                return _unreadable(key)
        entry = CacheEntry.loads(raw, orjson.loads)
        return entry if entry is not None or raw is None else _unreadable(key)

    async def get_many(self, project_id: str, fingerprints: list[str]) -> list[CacheEntry | None]:
        if not fingerprints:
            return []
        async with _bounded(self._timeout_s):
            raws = await self._redis.mget([exact_key(project_id, f) for f in fingerprints])
        return [CacheEntry.loads(raw) for raw in raws]

    async def put(self, project_id: str, fingerprint: str, entry: CacheEntry, ttl_s: int) -> None:
        """Store the entry and index it by project and by each tag, for purges."""
        indexes = [project_index_key(project_id)]
        indexes += [tag_key(project_id, k, v) for k, v in (entry.tags or {}).items()]
        commands: list[tuple[str | bytes | int, ...]] = [
            ("SET", exact_key(project_id, fingerprint), entry.dumps(orjson.dumps), "EX", ttl_s)
        ]
        for index in indexes:
            commands.append(("SADD", index, fingerprint))
            # An index lives as long as its longest-lived entry, so it cannot outgrow them.
            commands.append(("EXPIRE", index, ttl_s, "NX"))
            commands.append(("EXPIRE", index, ttl_s, "GT"))
        async with _bounded(self._store_timeout_s):
            # Nobody waits on a store: it travels with the next lookup (origin.redis_wire).
            await self._wire.pipeline(commands, later=True)

    async def entries(
        self, project_id: str, fingerprints: Iterable[str]
    ) -> list[CacheEntry | None]:
        """Like get_many, with the longer timeout that admin work may take."""
        keys = [exact_key(project_id, f) for f in fingerprints]
        if not keys:
            return []
        async with _bounded(self._store_timeout_s):
            return [CacheEntry.loads(raw) for raw in await self._redis.mget(keys)]

    async def members(self, key: str) -> set[str]:
        async with _bounded(self._store_timeout_s):
            found = await self._redis.smembers(key)
        return {m.decode() if isinstance(m, bytes) else str(m) for m in found}

    async def keys_matching(self, pattern: str) -> list[str]:
        async with _bounded(self._store_timeout_s * 5):
            found = [k async for k in self._redis.scan_iter(match=pattern, count=_SCAN_BATCH)]
        return [k.decode() if isinstance(k, bytes) else str(k) for k in found]

    async def delete(self, keys: list[str]) -> int:
        """Delete keys; returns how many existed."""
        deleted = 0
        async with _bounded(self._store_timeout_s * 5):
            for start in range(0, len(keys), _SCAN_BATCH):
                deleted += int(await self._redis.delete(*keys[start : start + _SCAN_BATCH]))
        return deleted

    async def forget(self, index_keys: list[str], fingerprints: list[str]) -> None:
        """Remove fingerprints from index sets (after their entries were purged)."""
        if not index_keys or not fingerprints:
            return
        async with _bounded(self._store_timeout_s):
            pipe = self._redis.pipeline(transaction=False)
            for key in index_keys:
                pipe.srem(key, *fingerprints)
            await pipe.execute()

    async def ttls(self, project_id: str, fingerprints: list[str]) -> list[int]:
        """Seconds each entry has left (-2 when gone), for the cache inspector."""
        if not fingerprints:
            return []
        async with _bounded(self._store_timeout_s):
            pipe = self._redis.pipeline(transaction=False)
            for f in fingerprints:
                pipe.ttl(exact_key(project_id, f))
            return [int(t) for t in await pipe.execute()]
