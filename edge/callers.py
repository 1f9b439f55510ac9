"""The Worker instance's short memory of which API key belongs to whom.

A Workers isolate serves many requests in a row, so remembering a key's owner for a few seconds
saves an Upstash round trip on almost every request. Unknown keys are remembered more briefly
than known ones, so a key created a moment ago starts working soon, while a client hammering
with a bad key still costs one lookup per few seconds. Only ids are kept, never a key.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from shared.usage import Caller

KNOWN_TTL_S: Final = 30.0
UNKNOWN_TTL_S: Final = 3.0
MAX_ENTRIES: Final = 10_000


@dataclass(frozen=True)
class Remembered:
    caller: Caller | None  # None: the backends said no such live key


class CallerCache:
    def __init__(
        self,
        known_ttl_s: float = KNOWN_TTL_S,
        unknown_ttl_s: float = UNKNOWN_TTL_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._known_ttl_s = known_ttl_s
        self._unknown_ttl_s = min(unknown_ttl_s, known_ttl_s)
        self._max_entries = max(1, max_entries)
        self._clock = clock
        # key hash -> (expires at, what was learnt); least recently used first. Unknown keys
        # are kept apart and bounded on their own, so a flood of bad keys evicts no good one.
        self._entries: OrderedDict[str, tuple[float, Remembered]] = OrderedDict()
        self._unknown: OrderedDict[str, tuple[float, Remembered]] = OrderedDict()

    def get(self, key_hash: str) -> Remembered | None:
        """What is remembered about the key, or None when it must be looked up."""
        for entries in (self._entries, self._unknown):
            entry = entries.get(key_hash)
            if entry is None:
                continue
            if entry[0] <= self._clock():
                del entries[key_hash]
                return None
            entries.move_to_end(key_hash)
            return entry[1]
        return None

    def put(self, key_hash: str, caller: Caller | None) -> None:
        known = caller is not None
        entries, other = (self._entries, self._unknown) if known else (self._unknown, self._entries)
        other.pop(key_hash, None)
        ttl = self._known_ttl_s if known else self._unknown_ttl_s
        entries[key_hash] = (self._clock() + ttl, Remembered(caller))
        entries.move_to_end(key_hash)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)

    def forget(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)
        self._unknown.pop(key_hash, None)

    def __len__(self) -> int:
        return len(self._entries) + len(self._unknown)
