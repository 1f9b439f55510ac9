"""Which backends timed out lately, remembered by the isolate so later requests skip them.

A hung backend (frozen, not refusing) costs a request its whole timeout: 1 s for Upstash Redis,
2 s for the vector index, 3 s for a key lookup in Supabase. Every stage that waits on one only
saves a trip to the origin, so after one timeout the isolate skips that backend for a cooldown
and sends requests on at once; after it, one request probes while the others keep skipping.
Work after the response (a usage row, its queue, counters) never skips: a row needs every try.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from shared.breaker import Breaker

COOLDOWN_S: Final = 5.0


def _breaker(cooldown_s: float) -> Breaker:
    # Trips on the first timeout: each one already cost the full wait.
    return Breaker(cooldown_s, trip_after_s=0.0)


@dataclass(frozen=True)
class Cooldowns:
    cooldown_s: float = COOLDOWN_S
    redis: Breaker = field(init=False)
    vector: Breaker = field(init=False)
    supabase: Breaker = field(init=False)

    def __post_init__(self) -> None:
        for name in ("redis", "vector", "supabase"):
            object.__setattr__(self, name, _breaker(self.cooldown_s))
