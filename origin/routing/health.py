"""Provider health: the weights a rolling window of outcomes gives each provider and model.

Routing must steer around a failing or hung provider without waiting for it to time out,
and must notice when it recovers. Outcomes are counted in a `HealthWindow` (shared between
workers through Redis); this module turns them into weights and an attempt order.

Weights: a success rate at or above `healthy` keeps full weight, at or above `degraded` one
tenth, below that zero. A zero-weight model is still tried once per `probe_s` per worker (a
probe) so a recovered provider comes back. A model with an attempt that has waited longer
than its first-byte deadline, and no success since that attempt began, is treated as hung
(weight zero) at once, before any of those attempts has timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import count

from origin.routing.health_window import Counts, HealthWindow
from origin.settings import Settings


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

    @classmethod
    def of(cls, settings: Settings) -> HealthConfig:
        return cls(
            enabled=settings.health_routing,
            window_s=settings.health_window_s,
            slot_s=settings.health_window_s / 6,
            min_samples=settings.health_min_samples,
            probe_s=settings.health_probe_s,
            min_deadline_s=settings.min_first_byte_s,
            max_deadline_s=settings.first_byte_timeout_s,
        )


@dataclass
class _Attempts:
    inflight: dict[int, float] = field(default_factory=dict)  # attempt id -> start (monotonic)
    last_ok: float = 0.0
    next_probe: float = 0.0
    # Set when failures took the weight to zero, cleared by the next success: a model whose
    # failures aged out of the window while it was skipped has given no news, not good news.
    down: bool = False


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
        self._window = HealthWindow(config.window_s, config.slot_s, redis_url)
        self._attempts: dict[str, _Attempts] = {}
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
        if ok:
            state.last_ok, state.down = time.monotonic(), False
        self._window.add(key, ok, latency_s)
        if not ok and self._rated(self.stats(key)) == 0.0:
            state.down = True

    # ---- reading --------------------------------------------------------------------------

    def stats(self, key: str) -> Counts:
        """The key's totals over the window (shared by every caller: read, never change)."""
        return self._window.totals(key)

    def weight(self, key: str) -> float:
        if not self.config.enabled:
            return 1.0
        if self.hung(key):
            return 0.0
        rated = self._rated(self.stats(key))
        if rated is None:
            state = self._attempts.get(key)
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
        state = self._attempts.get(key)
        if state is None or not state.inflight:
            return False
        oldest = next(iter(state.inflight.values()))  # dicts keep insertion order
        waited = time.monotonic() - oldest
        # No deadline is shorter than its bounds allow, and most attempts in flight are younger
        # than that: they need no percentile of the window.
        if waited <= min(self.config.min_deadline_s, self.config.max_deadline_s):
            return False
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
        for key in sorted(self._keys()):
            stats = self.stats(key)
            out[key] = {
                "weight": self.weight(key),
                "samples": stats.samples,
                "success_rate": round(stats.ok / stats.samples, 4) if stats.samples else None,
                "p90_ms": stats.percentile_ms(0.9),
                "hung": self.hung(key),
                "inflight": len(self._attempts[key].inflight) if key in self._attempts else 0,
            }
        return out

    def reset(self) -> None:
        self._attempts.clear()
        self._window.reset()

    # ---- the shared window ----------------------------------------------------------------

    async def start(self) -> None:
        if self._window.uses_redis or self._on_sync is not None:
            self._task = asyncio.create_task(self._sync_forever(), name="health-sync")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._window.aclose()

    async def clear_shared(self) -> None:
        """Forget every worker's history (after maintenance, or between test scenarios)."""
        self.reset()
        await self._window.delete_shared()

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sync_s)
            await self._window.refresh()
            if self._on_sync is not None:
                self._on_sync({_split(k): self.weight(k) for k in self._keys()})

    async def sync(self) -> None:
        await self._window.sync()

    def _keys(self) -> set[str]:
        return set(self._attempts) | self._window.keys()

    def _state(self, key: str) -> _Attempts:
        state = self._attempts.get(key)
        if state is None:
            state = self._attempts[key] = _Attempts()
        return state


def _split(key: str) -> tuple[str, str]:
    provider, _, model = key.partition(":")
    return provider, model
