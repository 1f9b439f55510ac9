"""The audit trail of cache purges: one `cache_purges` row per purge (who, when, what, how many).

Written through the origin's Store, so a failure surfaces as its StoreUnavailable / StoreError.
"""

from __future__ import annotations

from typing import Protocol

from origin.store import Store

SCOPES = ("key", "tag", "project", "version")


class PurgeRecorder(Protocol):
    async def record(
        self, *, project_id: str, actor: str, scope: str, target: str | None, removed: int
    ) -> None: ...


class PurgeLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(
        self, *, project_id: str, actor: str, scope: str, target: str | None, removed: int
    ) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown purge scope {scope!r}")
        row = {
            "project_id": project_id,
            "actor": actor[:200],
            "scope": scope,
            "target": target,
            "removed": max(0, removed),
        }
        await self._store.record_cache_purge(row)
