"""The store itself: one PostgREST client as service_role, and one aiohttp session for the
ledger's rows."""

from __future__ import annotations

import aiohttp
import httpx
from postgrest import AsyncPostgrestClient

from origin.settings import Secret
from origin.store.boundary import refuse_unavailable
from origin.store.members import MemberRows
from origin.store.snapshots import Snapshots
from origin.store.spend import SpendRows
from origin.store.tenancy import TenancyRows
from origin.store.usage import UsageRows

DEFAULT_TIMEOUT_S = 5.0


class Store(TenancyRows, MemberRows, SpendRows, UsageRows):
    """Typed reads and writes against Supabase's PostgREST API, as service_role."""

    def __init__(
        self,
        url: str,
        service_key: Secret,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        snapshots: Snapshots | None = None,
    ) -> None:
        self._snapshots = snapshots
        key = service_key.reveal()
        headers = {"apikey": key, "Authorization": f"Bearer {key}"}
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
            event_hooks={"response": [refuse_unavailable]},
        )
        # The client's own retry sleeps up to 30 s per attempt; the ledger decides when to retry.
        self._client = AsyncPostgrestClient(
            f"{url.rstrip('/')}/rest/v1", headers=headers, http_client=http, retry_enabled=False
        )
        self._usage_url = f"{url.rstrip('/')}/rest/v1/usage_logs?on_conflict=request_id"
        self._usage_headers = {
            **headers,
            "Content-Type": "application/json",
            "Prefer": "resolution=ignore-duplicates,return=minimal",
        }
        self._timeout_s = timeout_s
        # Made on first use: an aiohttp session belongs to the loop that is running then.
        self._usage_http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"Store({str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        """Close the connections, and the snapshots given to the store."""
        usage_http, self._usage_http = self._usage_http, None
        if usage_http is not None:
            await usage_http.close()
        await self._client.aclose()
        if self._snapshots is not None:
            await self._snapshots.aclose()
