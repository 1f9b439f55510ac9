"""Slowing down a client address that keeps presenting bad API keys.

Every failed key check from an address is counted in the current minute; past
AUTH_FAILURES_PER_MINUTE, that address's requests with keys this process does not already know
to be good are refused with a 429 until the minute ends, before any lookup is made. Known keys
from the same address (a shared NAT) keep working. Counted per origin process, in memory,
bounded: the edge keeps the same count in Upstash for the requests it sees.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from shared.errors import LimitExceeded
from shared.limits import AUTH_FAILURES_PER_MINUTE, ratelimit_headers

MAX_ADDRESSES = 10_000


class AddressThrottle:
    def __init__(
        self,
        per_minute: int = AUTH_FAILURES_PER_MINUTE,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._per_minute, self._max, self._clock = per_minute, max_addresses, clock
        # address -> (minute, failures in it); least recently failing first.
        self._failures: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def failed(self, address: str | None) -> None:
        if not address:
            return
        minute = int(self._clock() // 60)
        seen = self._failures.get(address)
        count = seen[1] + 1 if seen is not None and seen[0] == minute else 1
        self._failures[address] = (minute, count)
        self._failures.move_to_end(address)
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)

    def check(self, address: str | None) -> None:
        """Raise the 429 when `address` is over its bad-key allowance this minute."""
        if not address:
            return
        now = self._clock()
        seen = self._failures.get(address)
        if seen is None or seen[0] != int(now // 60) or seen[1] < self._per_minute:
            return
        reset = 60 - now % 60
        raise LimitExceeded(
            f"Too many requests with invalid API keys from this address ({seen[1]} this "
            f"minute). Retry after {int(reset) + 1} s with a valid key.",
            retry_after=reset,
            limit_headers=ratelimit_headers((self._per_minute, 0, reset), None),
        )
