"""Counters of what the cache did, and a breaker per backend so an outage costs no latency."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from shared.breaker import Breaker

__all__ = ["Breaker", "CacheStats"]


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
