"""What every group of the store's reads and writes shares: the PostgREST client."""

from __future__ import annotations

import aiohttp
from postgrest import AsyncPostgrestClient


class Rows:
    """The connection state `origin.store.client.Store` sets up for its groups of methods."""

    _client: AsyncPostgrestClient
    _usage_url: str
    _usage_headers: dict[str, str]
    _timeout_s: float
    _usage_http: aiohttp.ClientSession | None
