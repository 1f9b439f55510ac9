"""A circuit breaker: once a backend has failed for a while, callers skip it for a cooldown
instead of each waiting for it (the response cache's Redis and vector index, spend counters)."""

from __future__ import annotations

import time


class Breaker:
    """Once a backend has been failing for `trip_after_s` (no success in between), lookups skip
    it for `cooldown_s` instead of each waiting for it.

    A burst of failures doesn't trip it: when the origin is saturated (or descheduled), every
    lookup in flight can miss its deadline at once while the backend is fine, and skipping the
    cache then would send all those requests to providers exactly when the origin is busiest.
    `trip_after_s=0` trips on the first failure: for a backend whose every failure already
    took a long timeout, one is proof enough.
    """

    def __init__(self, cooldown_s: float, trip_after_s: float = 0.2) -> None:
        self._cooldown_s, self._trip_after_s = cooldown_s, trip_after_s
        self._until = 0.0
        self._failing_since: float | None = None
        self._probing = False  # a `skip` caller is trying the backend after a cooldown
        self.failures = 0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._until

    def failed(self) -> None:
        self.failures += 1
        self._probing = False
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failing_since >= self._trip_after_s:
            self._until = now + self._cooldown_s

    def skip(self) -> bool:
        """Whether to skip the backend now. Unlike `open`, the first caller after a cooldown
        lapses is let through as the probe and the cooldown re-armed for everyone else, so
        only one request waits on a backend that may still hang; its success closes it."""
        now = time.monotonic()
        if now < self._until:
            return True
        if self._until:
            self._until = now + self._cooldown_s
            self._probing = True
        return False

    def succeeded(self) -> None:
        self._failing_since = None
        if self._probing:
            self._probing, self._until = False, 0.0
