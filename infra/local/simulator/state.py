"""Everything the simulator remembers between requests; one instance per server, wiped by reset.

``POST /_sim/config`` takes ``{latency_ms?: int, stream_chunk_delay_ms?: int, fail_rate?: float,
hang_rate?: float, provider?: str}``: latency is added before the first response byte of
every provider call, the chunk delay between stream events; ``fail_rate`` of the calls not
matched by a scripted fault answer 500 and ``hang_rate`` of them hang (chosen at random, for
chaos runs). With ``provider`` it applies to that provider only (overriding the global
values); fields left out keep their current value. Reset restores the values given on the
command line (``--latency-ms``).
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from .cache import PromptCache
from .faults import ScriptQueue

MAX_RECORDS = 2000


@dataclass(frozen=True, slots=True)
class Timing:
    latency_ms: int = 0
    chunk_delay_ms: int = 0
    fail_rate: float = 0.0
    hang_rate: float = 0.0


def _rate(raw: dict[str, Any], name: str) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number from 0 to 1")
    return float(value)


def _non_negative(raw: dict[str, Any], name: str) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return int(value)


class SimState:
    def __init__(self, latency_ms: int = 0) -> None:
        self._startup = Timing(latency_ms=latency_ms)
        self.scripts = ScriptQueue()
        self.cache = PromptCache()
        self.records: deque[dict[str, Any]] = deque(maxlen=MAX_RECORDS)
        self._timing: dict[str | None, Timing] = {None: self._startup}
        self._ids = itertools.count(1)
        self.rng = random.Random(0)

    def reset(self) -> None:
        self.scripts.clear()
        self.cache.clear()
        self.records.clear()
        self._timing = {None: self._startup}

    def next_id(self) -> int:
        return next(self._ids)

    def timing(self, provider: str) -> Timing:
        return self._timing.get(provider) or self._timing[None]

    def configure(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise TypeError("body must be an object")
        provider = raw.get("provider")
        if provider is not None and not isinstance(provider, str):
            raise ValueError("provider must be a string")
        latency, delay = (
            _non_negative(raw, "latency_ms"),
            _non_negative(raw, "stream_chunk_delay_ms"),
        )
        current = self._timing.get(provider) or self._timing[None]
        if latency is not None:
            current = replace(current, latency_ms=latency)
        if delay is not None:
            current = replace(current, chunk_delay_ms=delay)
        for name in ("fail_rate", "hang_rate"):
            rate = _rate(raw, name)
            if rate is not None:
                current = replace(current, **{name: rate})
        self._timing[provider] = current
        return {
            "provider": provider,
            "latency_ms": current.latency_ms,
            "stream_chunk_delay_ms": current.chunk_delay_ms,
            "fail_rate": current.fail_rate,
            "hang_rate": current.hang_rate,
        }

    def record(self, entry: dict[str, Any]) -> None:
        self.records.append(entry)

    def recorded(self, provider: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if provider is None or r["provider"] == provider]
