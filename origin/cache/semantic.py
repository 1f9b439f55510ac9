"""The semantic layer: final user messages in Upstash Vector, pointing at exact entries.

Namespace = project id, vector id = the entry's fingerprint, metadata = {scope, text}; the
index embeds `text` itself. A query is filtered on the exact scope key, so a candidate can
only differ from the request in the wording of its last question. The answer is never kept
here: a hit reads it from the exact layer, so purging Redis empties this layer too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from upstash_vector import AsyncIndex
from upstash_vector.errors import UpstashError

from origin.cache.exact import LayerDown
from shared.cache_entry import vector_namespace
from shared.semantic_guard import scope_filter

Match = tuple[str, float, Any]


@asynccontextmanager
async def _bounded(seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except (UpstashError, httpx.HTTPError, OSError, ValueError, TimeoutError) as exc:
        # ValueError: the SDK parses whatever came back as JSON, an HTML error page included.
        raise LayerDown(f"vector: {type(exc).__name__}: {exc}") from exc


class SemanticIndex:
    def __init__(self, url: str, token: str, timeout_s: float, store_timeout_s: float) -> None:
        self._timeout_s, self._store_timeout_s = timeout_s, store_timeout_s
        # No SDK retries: it sleeps a second between them; our own timeout bounds each call.
        self._index = AsyncIndex(url=url, token=token, retries=0, allow_telemetry=False)

    async def aclose(self) -> None:
        # The SDK opens an httpx client in its constructor and offers no way to close it.
        client = getattr(self._index, "_client", None)
        if isinstance(client, httpx.AsyncClient):
            await client.aclose()

    async def query(self, project_id: str, scope: str, text: str, top_k: int) -> list[Match]:
        async with _bounded(self._timeout_s):
            results = await self._index.query(
                data=text,
                top_k=top_k,
                include_metadata=True,
                filter=scope_filter(scope),
                namespace=vector_namespace(project_id),
            )
        return [(r.id, r.score, r.metadata) for r in results]

    async def upsert(self, project_id: str, fingerprint: str, scope: str, text: str) -> None:
        async with _bounded(self._store_timeout_s):
            await self._index.upsert(
                vectors=[(fingerprint, text, {"scope": scope, "text": text})],
                namespace=vector_namespace(project_id),
            )

    async def delete(self, project_id: str, fingerprints: list[str]) -> int:
        if not fingerprints:
            return 0
        async with _bounded(self._store_timeout_s):
            result = await self._index.delete(
                ids=fingerprints, namespace=vector_namespace(project_id)
            )
        return int(result.deleted)

    async def drop_project(self, project_id: str) -> None:
        async with _bounded(self._store_timeout_s):
            await self._index.reset(namespace=vector_namespace(project_id))
