"""Supabase through its PostgREST API, as the edge's own role: the key lookup and the usage insert.

The edge holds a JWT for `prism_edge` (infra/migrations/0020_edge_role.sql), which may run
resolve_api_key and insert cache-hit usage rows and nothing else; never the service-role key.
"""

from __future__ import annotations

from typing import Any, Final

from edge.rest import BackendError, decode, exchange
from edge.web import HttpClient
from shared.breaker import Breaker
from shared.usage import Caller

USAGE_PREFER: Final = "return=minimal"
# PostgREST's status for a unique violation: the row (keyed by its request id) is already
# stored, say by an earlier attempt whose answer was lost. A plain insert rather than
# insert-or-skip, because ON CONFLICT under row-level security needs a SELECT policy, and the
# edge's role may read nothing.
ALREADY_STORED: Final = 409


class Supabase:
    def __init__(
        self,
        http: HttpClient,
        url: str,
        edge_key: str,
        anon_key: str | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        # Guards the key lookup, which a request waits on; never the usage insert after it.
        self._breaker = breaker
        self._http = http
        self._rest = f"{url.rstrip('/')}/rest/v1"
        # The API gateway admits the request on `apikey`; PostgREST acts as the bearer's role.
        apikey = anon_key or edge_key
        self._headers = [("apikey", apikey), ("authorization", f"Bearer {edge_key}")]

    async def resolve_api_key(self, key_hash: str, timeout_s: float) -> Caller | None:
        """The live key's owner, None for no such live key; BackendError when it can't tell."""
        url = f"{self._rest}/rpc/resolve_api_key"
        status, body = await exchange(
            self._http,
            "POST",
            url,
            self._headers,
            {"p_key_hash": key_hash},
            timeout_s,
            self._breaker,
        )
        rows = decode(status, body, url)
        if not isinstance(rows, list):
            raise BackendError("resolve_api_key answered with something other than rows")
        return caller_from(rows[0]) if rows else None

    async def insert_usage(self, row: dict[str, Any], timeout_s: float) -> None:
        url = f"{self._rest}/usage_logs"
        headers = [*self._headers, ("prefer", USAGE_PREFER)]
        status, body = await exchange(self._http, "POST", url, headers, row, timeout_s)
        if status == ALREADY_STORED and b"23505" in body:
            return
        decode(status, body, url)


def caller_from(record: Any) -> Caller:
    """A Caller from a key record (PostgREST's row or the Upstash copy); BackendError if bad."""
    if not isinstance(record, dict):
        raise BackendError("a key record is not an object")
    org, project, key = record.get("org_id"), record.get("project_id"), record.get("api_key_id")
    if not isinstance(org, str) or not isinstance(project, str) or not org or not project:
        raise BackendError("a key record lacks its org or project")
    return Caller(org_id=org, project_id=project, api_key_id=key if isinstance(key, str) else None)
