"""A least-recently-used map bounded by the bytes its values hold, not by their count.

Where values differ in size (an encoding grows with its text), a count bound says nothing
about memory: the pair verifier's 2,048 entries could have grown a worker by 45 MB.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteBudgetLRU(Generic[V]):
    """Values by key within `budget_bytes` as `size` counts them, the least recently used
    dropped first (the newest is kept even alone over budget). Locked: callers may be worker
    threads."""

    def __init__(self, budget_bytes: int, size: Callable[[str, V], int]) -> None:
        self.budget_bytes, self.held_bytes = budget_bytes, 0
        self._size = size
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: str, value: V) -> None:
        size = self._size(key, value)
        with self._lock:
            if (old := self._items.pop(key, None)) is not None:
                self.held_bytes -= old[1]
            self._items[key] = (value, size)
            self.held_bytes += size
            while self.held_bytes > self.budget_bytes and len(self._items) > 1:
                _, (_, dropped) = self._items.popitem(last=False)
                self.held_bytes -= dropped
