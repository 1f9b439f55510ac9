"""Provider health: a rolling window of outcomes per provider and model, and the weights it gives.

The hot path never waits for Redis. Each worker counts outcomes locally; a background task
adds them to Redis once per `sync_s` (one time slot per hash, expiring after the window) and
reads back every worker's totals into a snapshot. `weight()` reads that snapshot plus what
is not flushed yet. Without Redis the worker's own window is used.

Weights: a success rate at or above `healthy` keeps full weight, at or above `degraded` one
tenth, below that zero. A zero-weight model is still tried once per `probe_s` per worker (a
probe) so a recovered provider comes back. A model with an attempt that has waited longer
than its first-byte deadline, and no success since that attempt began, is treated as hung
(weight zero) at once, before any of those attempts has timed out.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import count
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("prism.health")

# Upper bounds (ms) of the latency histogram's bins; the last bin is everything slower.
BOUNDS_MS: Final = (50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 60000)
PREFIX: Final = "prism:health:"


@dataclass(frozen=True)
class HealthConfig:
    # Off: every model keeps full weight and its transport deadline (for comparisons).
    enabled: bool = True
    window_s: float = 60.0
    slot_s: float = 10.0
    sync_s: float = 1.0
    min_samples: int = 3
    healthy: float = 0.95
    degraded: float = 0.50
    probe_s: float = 15.0
    # A first-byte deadline is never shorter than this, nor longer than the transport's.
    min_deadline_s: float = 1.0
    max_deadline_s: float = 60.0


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
    inflight: dict[int, float] = field(default_factory=dict)  # attempt id -> start (monotonic)
    last_ok: float = 0.0
    next_probe: float = 0.0
    # Set when failures took the weight to zero, cleared by the next success: a model whose
    # failures aged out of the window while it was skipped has given no news, not good news.
    down: bool = False


class SharedStateDown(Exception):
    """Redis did not answer, so the shared window could not be changed."""


class HealthBoard:
    """One per worker; `start()` runs the Redis sync, `aclose()` stops it."""

    def __init__(
        self,
        config: HealthConfig,
        redis_url: str | None = None,
        on_sync: Callable[[dict[tuple[str, str], float]], None] | None = None,
    ) -> None:
        """`on_sync` gets every (provider, model)'s weight after each sync (for /metrics)."""
        self.config = config
        self._on_sync = on_sync
        self._redis = Redis.from_url(redis_url, socket_timeout=0.5) if redis_url else None
        self._local: dict[str, _Local] = {}
        self._shared: dict[str, Counts] | None = None  # every worker's window, from Redis
        # key -> (window slot, its totals): routing reads a model's totals several times per
        # request; they change only with an outcome, a sync or the window moving on.
        self._totals: dict[str, tuple[int, Counts]] = {}
        self._ids = count()
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random()

    # ---- recording ------------------------------------------------------------------------

    def begin(self, key: str) -> int:
        attempt = next(self._ids)
        self._state(key).inflight[attempt] = time.monotonic()
        return attempt

    def end(self, key: str, attempt: int, ok: bool | None, latency_s: float = 0.0) -> None:
        """ok=None: the attempt was abandoned (a hedge loser), which says nothing either way."""
        state = self._state(key)
        state.inflight.pop(attempt, None)
        if ok is None:
            return
        now = time.monotonic()
        counts = Counts()
        if ok:
            state.last_ok, state.down = now, False
            counts.ok = 1
            counts.bins[bisect.bisect_left(BOUNDS_MS, latency_s * 1000)] += 1
        else:
            counts.fail = 1
        self._totals.pop(key, None)
        state.unsynced.add(counts)
        state.slots.setdefault(self._slot(time.time()), Counts()).add(counts)
        if not ok and self._rated(self.stats(key)) == 0.0:
            state.down = True

    # ---- reading --------------------------------------------------------------------------

    def stats(self, key: str) -> Counts:
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
            oldest = self._slot(time.time() - self.config.window_s)
            for slot, counts in state.slots.items():
                if slot > oldest:
                    total.add(counts)
        return total

    def weight(self, key: str) -> float:
        if not self.config.enabled:
            return 1.0
        if self.hung(key):
            return 0.0
        rated = self._rated(self.stats(key))
        if rated is None:
            state = self._local.get(key)
            return 0.0 if state is not None and state.down else 1.0
        return rated

    def _rated(self, stats: Counts) -> float | None:
        """The weight the window's success rate gives; None with too few outcomes to judge."""
        if stats.samples < self.config.min_samples:
            return None
        rate = stats.ok / stats.samples
        if rate >= self.config.healthy:
            return 1.0
        return 0.1 if rate >= self.config.degraded else 0.0

    def hung(self, key: str) -> bool:
        state = self._local.get(key)
        if state is None or not state.inflight:
            return False
        oldest = next(iter(state.inflight.values()))  # dicts keep insertion order
        waited = time.monotonic() - oldest
        return waited > self.deadline_s(key) and state.last_ok < oldest

    def deadline_s(self, key: str) -> float:
        """How long a first byte may take before the attempt counts as hung: three times the
        observed p99 once there is enough history, within the configured bounds."""
        cfg = self.config
        p99 = self.stats(key).percentile_ms(0.99) if cfg.enabled else None
        if p99 is None:
            return cfg.max_deadline_s
        return min(cfg.max_deadline_s, max(cfg.min_deadline_s, 3 * p99 / 1000))

    def p90_s(self, key: str) -> float | None:
        p90 = self.stats(key).percentile_ms(0.90)
        return None if p90 is None else p90 / 1000

    def order(self, keys: Iterable[str]) -> list[str]:
        """Attempt order for candidates given best first: full-weight ones keep their place,
        a tenth-weight one keeps it one time in ten, zero-weight ones go last unless a probe
        is due."""
        front: list[str] = []
        back: list[tuple[float, int, str]] = []
        now = time.monotonic()
        for index, key in enumerate(keys):
            w = self.weight(key)
            if w >= 1.0 or (w > 0 and self._rng.random() < w) or (w == 0 and self._probe(key, now)):
                front.append(key)
            else:
                back.append((-w, index, key))
        return front + [key for _, _, key in sorted(back)]

    def _probe(self, key: str, now: float) -> bool:
        state = self._state(key)
        if now < state.next_probe or self.hung(key):
            return False
        state.next_probe = now + self.config.probe_s
        return True

    def report(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for key in sorted(set(self._local) | set(self._shared or {})):
            stats = self.stats(key)
            out[key] = {
                "weight": self.weight(key),
                "samples": stats.samples,
                "success_rate": round(stats.ok / stats.samples, 4) if stats.samples else None,
                "p90_ms": stats.percentile_ms(0.9),
                "hung": self.hung(key),
                "inflight": len(self._local[key].inflight) if key in self._local else 0,
            }
        return out

    def reset(self) -> None:
        self._local.clear()
        self._totals.clear()
        self._shared = {} if self._shared is not None else None

    # ---- the shared window ----------------------------------------------------------------

    async def start(self) -> None:
        if self._redis is not None or self._on_sync is not None:
            self._task = asyncio.create_task(self._sync_forever(), name="health-sync")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._redis is not None:
            await self._redis.aclose()

    async def clear_shared(self) -> None:
        """Forget every worker's history (after maintenance, or between test scenarios)."""
        self.reset()
        if self._redis is None:
            return
        try:
            keys = [k async for k in self._redis.scan_iter(match=PREFIX + "*")]
            if keys:
                await self._redis.delete(*keys)
        except (RedisError, OSError) as exc:
            raise SharedStateDown(str(exc)) from exc

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sync_s)
            try:
                async with asyncio.timeout(2.0):
                    await self.sync()
            except (RedisError, OSError, TimeoutError) as exc:
                # Fall back to this worker's own window until Redis answers again.
                log.warning("health sync failed, using local health only: %s", exc)
                self._shared = None
                self._totals.clear()
            if self._on_sync is not None:
                keys = set(self._local) | set(self._shared or {})
                self._on_sync({_split(k): self.weight(k) for k in keys})

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
            pipe.expire(name, int(self.config.window_s + 2 * self.config.slot_s))
        slots = range(slot - int(self.config.window_s // self.config.slot_s) + 1, slot + 1)
        for s in slots:
            pipe.hgetall(f"{PREFIX}{s}")
        results = await pipe.execute()
        shared: dict[str, Counts] = {}
        for raw in results[-len(slots) :]:
            _merge(shared, raw)
        self._shared = shared
        self._totals.clear()

    def _slot(self, at: float) -> int:
        return int(at // self.config.slot_s)

    def _state(self, key: str) -> _Local:
        state = self._local.get(key)
        if state is None:
            state = self._local[key] = _Local()
        return state


def _split(key: str) -> tuple[str, str]:
    provider, _, model = key.partition(":")
    return provider, model


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
