"""The rolling window of outcomes behind provider health, counted per worker and shared via Redis.

The hot path never waits for Redis. Each worker counts outcomes locally; a background task
adds them to Redis once per sync (one time slot per hash, expiring after the window) and
reads back every worker's totals into a snapshot. Totals are that snapshot plus what is not
flushed yet; without Redis the worker's own window is used.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from dataclasses import dataclass, field
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("prism.health")

# Upper bounds (ms) of the latency histogram's bins; the last bin is everything slower.
BOUNDS_MS: Final = (50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 60000)
PREFIX: Final = "prism:health:"


@dataclass
class Counts:
    ok: int = 0
    fail: int = 0
    bins: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS_MS) + 1))

    def add(self, other: Counts) -> None:
        self.ok += other.ok
        self.fail += other.fail
        self.bins = [a + b for a, b in zip(self.bins, other.bins, strict=True)]

    @property
    def samples(self) -> int:
        return self.ok + self.fail

    def percentile_ms(self, q: float) -> float | None:
        """The upper bound of the bin holding the q-th quantile of successful latencies."""
        total = sum(self.bins)
        if not total:
            return None
        seen, rank = 0, q * total
        for index, n in enumerate(self.bins):
            seen += n
            if seen >= rank:
                return float(BOUNDS_MS[min(index, len(BOUNDS_MS) - 1)])
        return float(BOUNDS_MS[-1])


@dataclass
class _Local:
    slots: dict[int, Counts] = field(default_factory=dict)  # this worker's whole window
    unsynced: Counts = field(default_factory=Counts)


class SharedStateDown(Exception):
    """Redis did not answer, so the shared window could not be changed."""


class HealthWindow:
    """Outcome totals per key over the last `window_s`, in `slot_s` time slots."""

    def __init__(self, window_s: float, slot_s: float, redis_url: str | None) -> None:
        self._window_s = window_s
        self._slot_s = slot_s
        self._redis = Redis.from_url(redis_url, socket_timeout=0.5) if redis_url else None
        self._local: dict[str, _Local] = {}
        self._shared: dict[str, Counts] | None = None  # every worker's window, from Redis
        # key -> (window slot, its totals): routing reads a model's totals several times per
        # request; they change only with an outcome, a sync or the window moving on.
        self._totals: dict[str, tuple[int, Counts]] = {}

    @property
    def uses_redis(self) -> bool:
        return self._redis is not None

    def keys(self) -> set[str]:
        """Every key with an outcome or a read here, or an outcome in the shared window."""
        return set(self._local) | set(self._shared or {})

    def add(self, key: str, ok: bool, latency_s: float) -> None:
        counts = Counts()
        if ok:
            counts.ok = 1
            counts.bins[bisect.bisect_left(BOUNDS_MS, latency_s * 1000)] += 1
        else:
            counts.fail = 1
        self._totals.pop(key, None)
        state = self._state(key)
        state.unsynced.add(counts)
        now = time.time()
        slot = state.slots.get(self._slot(now))
        if slot is None:
            slot = state.slots[self._slot(now)] = Counts()
            # Slots that left the window are never read again; a worker running for days
            # would otherwise keep one per key every slot_s.
            oldest = self._slot(now - self._window_s)
            for old in [s for s in state.slots if s <= oldest]:
                del state.slots[old]
        slot.add(counts)

    def totals(self, key: str) -> Counts:
        """The key's totals over the window (shared by every caller: read, never change)."""
        slot = self._slot(time.time())
        cached = self._totals.get(key)
        if cached is not None and cached[0] == slot:
            return cached[1]
        total = self._window_totals(key)
        self._totals[key] = (slot, total)
        return total

    def _window_totals(self, key: str) -> Counts:
        state = self._state(key)
        total = Counts()
        if self._shared is not None:
            total.add(self._shared.get(key, Counts()))
            total.add(state.unsynced)
        else:
            oldest = self._slot(time.time() - self._window_s)
            for slot, counts in state.slots.items():
                if slot > oldest:
                    total.add(counts)
        return total

    def reset(self) -> None:
        self._local.clear()
        self._totals.clear()
        self._shared = {} if self._shared is not None else None

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def delete_shared(self) -> None:
        """Delete every worker's history from Redis; SharedStateDown if Redis does not answer."""
        if self._redis is None:
            return
        try:
            keys = [k async for k in self._redis.scan_iter(match=PREFIX + "*")]
            if keys:
                await self._redis.delete(*keys)
        except (RedisError, OSError) as exc:
            raise SharedStateDown(str(exc)) from exc

    async def refresh(self) -> None:
        """`sync`, bounded; if Redis fails, fall back to this worker's own window until it
        answers again."""
        try:
            async with asyncio.timeout(2.0):
                await self.sync()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("health sync failed, using local health only: %s", exc)
            self._shared = None
            self._totals.clear()

    async def sync(self) -> None:
        if self._redis is None:
            return
        now = time.time()
        slot = self._slot(now)
        pending = {k: s.unsynced for k, s in self._local.items() if s.unsynced.samples}
        for state in self._local.values():
            state.unsynced = Counts()
        pipe = self._redis.pipeline(transaction=False)
        if pending:
            name = f"{PREFIX}{slot}"
            for key, counts in pending.items():
                for fieldname, n in _fields(key, counts):
                    pipe.hincrby(name, fieldname, n)
            pipe.expire(name, int(self._window_s + 2 * self._slot_s))
        slots = range(slot - int(self._window_s // self._slot_s) + 1, slot + 1)
        for s in slots:
            pipe.hgetall(f"{PREFIX}{s}")
        results = await pipe.execute()
        shared: dict[str, Counts] = {}
        for raw in results[-len(slots) :]:
            _merge(shared, raw)
        self._shared = shared
        self._totals.clear()

    def _slot(self, at: float) -> int:
        return int(at // self._slot_s)

    def _state(self, key: str) -> _Local:
        state = self._local.get(key)
        if state is None:
            state = self._local[key] = _Local()
        return state


def _fields(key: str, counts: Counts) -> list[tuple[str, int]]:
    out = [(f"{key}|ok", counts.ok), (f"{key}|fail", counts.fail)]
    out += [(f"{key}|b{i}", n) for i, n in enumerate(counts.bins) if n]
    return [(f, n) for f, n in out if n]


def _merge(into: dict[str, Counts], raw: dict[bytes, bytes]) -> None:
    for fieldname, value in raw.items():
        key, _, part = fieldname.decode().rpartition("|")
        counts = into.setdefault(key, Counts())
        n = int(value)
        if part == "ok":
            counts.ok += n
        elif part == "fail":
            counts.fail += n
        elif part.startswith("b") and part[1:].isdigit() and int(part[1:]) < len(counts.bins):
            counts.bins[int(part[1:])] += n
