"""Counters of what the cache did, and a breaker per backend so an outage costs no latency."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass


class Breaker:
    """Once a backend has been failing for `trip_after_s` (no success in between), lookups skip
    it for `cooldown_s` instead of each waiting for it.

    A burst of failures doesn't trip it: when the origin is saturated (or descheduled), every
    lookup in flight can miss its deadline at once while the backend is fine, and skipping the
    cache then would send all those requests to providers exactly when the origin is busiest.
    """

    def __init__(self, cooldown_s: float, trip_after_s: float = 0.2) -> None:
        self._cooldown_s, self._trip_after_s = cooldown_s, trip_after_s
        self._until = 0.0
        self._failing_since: float | None = None
        self.failures = 0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._until

    def failed(self) -> None:
        self.failures += 1
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since >= self._trip_after_s:
            self._until = now + self._cooldown_s

    def succeeded(self) -> None:
        self._failing_since = None


@dataclass
class CacheStats:
    """Monotonic counters since start, served at /admin/v1/cache/stats and /healthz."""

    lookups: int = 0
    hits_exact: int = 0
    hits_semantic: int = 0
    misses: int = 0
    # The client asked to skip the lookup (X-Prism-Cache: no-cache / no-store).
    bypass_requested: int = 0
    # A backend was down, slow or cooling down: the request went to the provider instead.
    bypass_redis: int = 0
    bypass_vector: int = 0
    guard_rejections: int = 0
    stale_vectors: int = 0
    stored: int = 0
    not_cacheable: int = 0
    store_failures: int = 0

    @property
    def bypasses(self) -> int:
        return self.bypass_redis + self.bypass_vector

    def snapshot(self, **breakers: Breaker) -> dict[str, int | bool]:
        """The counters, plus `<name>_cooling_down` for each breaker given."""
        cooling = {f"{name}_cooling_down": b.open for name, b in breakers.items()}
        return {**asdict(self), "bypasses": self.bypasses, **cooling}
