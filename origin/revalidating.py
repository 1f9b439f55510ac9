"""Per-key values read from the database, kept in-process and refreshed without making anyone wait.

A value is fresh for `ttl_s`. Past that, the request that finds it gets the stale value at once
and one background task per key reloads it: a database that hangs (rather than refusing) would
otherwise hold every request that finds an expired value for the full store timeout. Only a key
with no value at all waits for the database. While the database is unavailable the last value
read keeps applying, and the reload is tried again `ttl_s` later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from origin.store import StoreUnavailable
from shared.errors import UpstreamUnavailable

log = logging.getLogger("prism.origin")

# Background reloads in flight at once: a dead database must not turn every project's expiry
# into a task held open for the store timeout. Past this, stale values are served un-refreshed
# and the next request after a slot frees starts the reload.
MAX_REFRESHES = 64

V = TypeVar("V")


class Revalidating(Generic[V]):
    def __init__(
        self,
        what: str,
        load: Callable[[str], Awaitable[V]],
        ttl_s: float,
        *,
        max_refreshes: int = MAX_REFRESHES,
    ) -> None:
        self._what, self._load, self._ttl_s = what, load, ttl_s
        self._max_refreshes = max(1, max_refreshes)
        self._cache: dict[str, tuple[float, V]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        # Bumped by `forget`: a reload begun before an admin change must not put back what it
        # read before the change.
        self._generation: dict[str, int] = {}

    async def get(self, key: str) -> V:
        cached = self._cache.get(key)
        if cached is not None:
            if cached[0] <= time.monotonic():
                self._refresh(key)
            return cached[1]
        async with self._locks.setdefault(key, asyncio.Lock()):  # one load per key at a time
            cached = self._cache.get(key)
            if cached is not None:
                return cached[1]
            try:
                value = await self._load(key)
            except StoreUnavailable as exc:
                raise UpstreamUnavailable(
                    f"This project's {self._what} can't be read right now; retry shortly.",
                    retry_after=1,
                ) from exc
            self._cache[key] = (time.monotonic() + self._ttl_s, value)
            return value

    def forget(self, key: str) -> None:
        """Drop a value, so the next request reads it afresh (and waits for it)."""
        self._cache.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1

    def known(self) -> dict[str, V]:
        return {key: entry[1] for key, entry in self._cache.items()}

    def _refresh(self, key: str) -> None:
        if key in self._refreshing or len(self._refreshing) >= self._max_refreshes:
            return
        task = asyncio.get_running_loop().create_task(self._reload(key))
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))

    async def _reload(self, key: str) -> None:
        generation = self._generation.get(key, 0)
        try:
            value = await self._load(key)
        except StoreUnavailable as exc:
            log.warning("%s of project %s not refreshed, the last kept: %s", self._what, key, exc)
            self._keep(key, generation)
            return
        except Exception:
            log.exception("%s of project %s not refreshed, the last kept", self._what, key)
            self._keep(key, generation)
            return
        if self._generation.get(key, 0) == generation:
            self._cache[key] = (time.monotonic() + self._ttl_s, value)

    def _keep(self, key: str, generation: int) -> None:
        """The stale value stays another `ttl_s`: retried on every request, a dead database
        would get a reload per request."""
        stale = self._cache.get(key)
        if stale is not None and self._generation.get(key, 0) == generation:
            self._cache[key] = (time.monotonic() + self._ttl_s, stale[1])

    async def aclose(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
