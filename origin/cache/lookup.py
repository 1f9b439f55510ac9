"""What the response cache needs of a request being answered, as a structural type.

The gateway's `Call` satisfies it; the cache depends on this shape, not on the gateway, so the
import layers keep pointing one way (gateway -> cache).
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.options import RequestOptions
from shared.pricing import Cost
from shared.usage import Caller


class CacheReceipt(Protocol):
    """The response headers a cache hit fills in (the gateway's Receipt)."""

    cache_status: str
    cache_similarity: float | None
    cache_saved_cents: str | None
    model: str
    provider: str
    task_type: str
    confidence: float | None
    route_reason: str
    cost: Cost | None
    usage_reported: bool

    def headers(self) -> dict[str, str]: ...


class CacheableCall(Protocol):
    # The exact-cache key, set by the lookup so storing the answer doesn't hash the body again.
    cache_key: str | None
    # Set once a hit's row is written: the request has its one row.
    recorded: bool

    @property
    def request_id(self) -> str: ...

    @property
    def caller(self) -> Caller: ...

    @property
    def options(self) -> RequestOptions: ...

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def receipt(self) -> CacheReceipt: ...

    @property
    def stream(self) -> bool: ...

    def elapsed_ms(self) -> int: ...
