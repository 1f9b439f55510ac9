"""When each kind of background work may next run: capped, jittered exponential backoff."""

from __future__ import annotations

import asyncio
import random

DEFAULT_MIN_BACKOFF_S = 0.1
DEFAULT_MAX_BACKOFF_S = 5.0


class Backoff:
    """When each kind of background work may next run: capped exponential backoff per kind."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self._min_s, self._max_s = min_s, max(min_s, max_s)
        self._at: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    def at(self, kind: str) -> float:
        return self._at.get(kind, 0.0)

    def due(self, kind: str, now: float) -> bool:
        return now >= self.at(kind)

    def wait(self, kind: str, until: float) -> None:
        self._at[kind] = until

    def succeeded(self, kind: str) -> None:
        self._failures[kind], self._at[kind] = 0, 0.0

    def failed(self, kind: str) -> None:
        failures = self._failures[kind] = self._failures.get(kind, 0) + 1
        delay = min(self._max_s, self._min_s * 2.0 ** (failures - 1))
        # Jitter so many origins coming back from one outage don't retry in lockstep.
        now = asyncio.get_running_loop().time()
        self._at[kind] = now + delay * random.uniform(0.75, 1.0)
