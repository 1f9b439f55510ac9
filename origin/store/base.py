"""What every group of the store's reads and writes shares: the PostgREST client, and the
snapshots that stand in for a few reads while Supabase is down (origin.store.snapshots)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
from postgrest import AsyncPostgrestClient

from origin.store.boundary import StoreUnavailable
from origin.store.snapshots import Snapshots

log = logging.getLogger("prism.origin.store")

# How long a snapshot of a project's provider keys, budgets or limits may stand in for the
# store. A running worker keeps applying the last values it read for as long as an outage
# lasts (origin.revalidating); a day of it covers any outage a worker may start in.
SNAPSHOT_TTL_S: Final = 24 * 3600.0

RowList = list[dict[str, Any]]


class Rows:
    """The connection state `origin.store.client.Store` sets up for its groups of methods."""

    _client: AsyncPostgrestClient
    _usage_url: str
    _usage_headers: dict[str, str]
    _timeout_s: float
    _usage_http: aiohttp.ClientSession | None
    _snapshots: Snapshots | None

    async def _kept(self, name: str, read: Callable[[], Awaitable[RowList]]) -> RowList:
        """`read()`'s rows, copied to a snapshot; the snapshot's rows when Supabase is down."""
        snapshots = self._snapshots
        if snapshots is None:
            return await read()
        try:
            rows = await read()
        except StoreUnavailable:
            kept = await snapshots.load(name)
            if kept is None or not isinstance(kept[0], list):
                raise
            log.warning("Supabase unavailable: %s answered from its snapshot", name)
            return kept[0]
        snapshots.save_later(name, rows, SNAPSHOT_TTL_S)
        return rows
