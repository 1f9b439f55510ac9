"""The one seam between the origin and Supabase: every database read and write goes through here.

It speaks PostgREST with the official client, authenticated as service_role (usage rows, the
one write per request, go by a leaner path: see `insert_usage`), and turns every client, HTTP
and database failure into exactly two errors of ours: `StoreUnavailable` (try
again later: the API or the database is down, overloaded or slow) and `StoreError` (the
request itself was refused). Nothing above this module sees postgrest or httpx exceptions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import httpx
import orjson
from postgrest import APIError, AsyncPostgrestClient
from postgrest.types import ReturnMethod
from pydantic import ValidationError

from origin.settings import Secret
from shared.apikeys import display_prefix, generate_api_key, hash_api_key
from shared.usage import Caller

DEFAULT_TIMEOUT_S = 5.0
_PROJECT_COLUMNS = "id,org_id,name,created_at"
_API_KEY_COLUMNS = "id,project_id,name,prefix,created_at,revoked_at"
_PROVIDER_KEY_COLUMNS = "id,project_id,provider,name,base_url,created_at"
_BUDGET_COLUMNS = "id,project_id,period,limit_cents,tag_key,tag_value,action,created_at"
_LIMIT_COLUMNS = (
    "id,project_id,api_key_id,subject_id,requests_per_minute,requests_per_day,"
    "requests_per_month,tokens_per_minute,updated_at"
)
_USAGE_LIMIT_MAX = 1000
# Tag keys become part of a PostgREST column path (request_tags->>key), so only plain words.
TAG_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


class StoreUnavailable(Exception):
    """Supabase could not answer now (down, 5xx, 429, timeout); the same call may work later."""


class StoreError(Exception):
    """Supabase refused the request; `code` is PostgREST's (a SQLSTATE or PGRSTnnn)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def conflict(self) -> bool:
        return self.code == "23505"

    @property
    def missing_reference(self) -> bool:
        return self.code == "23503"

    @property
    def row_specific(self) -> bool:
        """The data itself was refused (SQLSTATE class 22/23), not the request or the schema."""
        return bool(self.code) and str(self.code)[:2] in ("22", "23")


@dataclass(frozen=True)
class Project:
    id: str
    org_id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class ApiKeyRecord:
    """A gateway key as stored: never the key, never its hash; `prefix` is for display only."""

    id: str
    project_id: str
    name: str | None
    prefix: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class ProviderKeyInfo:
    """A provider key's metadata, safe to show: no ciphertext, no plaintext."""

    id: str
    project_id: str
    provider: str
    name: str
    base_url: str | None
    created_at: str


@dataclass(frozen=True)
class StoredProviderKey:
    """What the router needs to call a provider; the key is still sealed."""

    provider: str
    name: str
    base_url: str | None
    ciphertext: str


def valid_id(text: str) -> bool:
    """Whether `text` is a uuid, so callers can answer 404 instead of sending junk to Postgres."""
    try:
        uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


async def _refuse_unavailable(response: httpx.Response) -> None:
    # postgrest-py folds every non-2xx into APIError without the status; the status is the one
    # reliable signal that a request may succeed later, so classify it here, before that.
    if response.status_code >= 500 or response.status_code == 429:
        await response.aread()
        raise StoreUnavailable(
            f"Supabase answered HTTP {response.status_code}: {response.text[:200]}"
        )


def _rows(data: object) -> list[dict[str, Any]]:
    """PostgREST's answer as rows; anything else means we are not talking to PostgREST."""
    rows = data if isinstance(data, list) else [data] if data else []
    objects = [row for row in rows if isinstance(row, dict)]
    if len(objects) != len(rows):
        raise StoreError("unexpected answer from Supabase: rows are not JSON objects")
    return objects


@asynccontextmanager
async def _boundary(action: str) -> AsyncIterator[None]:
    try:
        yield
    except StoreUnavailable:
        raise
    except APIError as exc:
        raise StoreError(f"{action}: {exc.message or exc.code}", code=exc.code) from exc
    except httpx.TimeoutException as exc:
        raise StoreUnavailable(f"{action}: Supabase timed out") from exc
    except httpx.TransportError as exc:
        raise StoreUnavailable(f"{action}: cannot reach Supabase ({type(exc).__name__})") from exc
    except (httpx.HTTPError, ValidationError, ValueError) as exc:
        raise StoreError(
            f"{action}: unexpected answer from Supabase ({type(exc).__name__})"
        ) from exc


def _refusal(action: str, status: int, body: bytes) -> Exception:
    """A PostgREST answer above 299 as ours: 5xx and 429 may pass, anything else is a refusal
    carrying PostgREST's code (a SQLSTATE or PGRSTnnn) when its body has one."""
    if status >= 500 or status == 429:
        return StoreUnavailable(f"{action}: Supabase answered HTTP {status}: {body[:200]!r}")
    try:
        error = orjson.loads(body)
    except orjson.JSONDecodeError:
        error = None
    if not isinstance(error, dict):
        return StoreError(f"{action}: Supabase answered HTTP {status}")
    code = error.get("code")
    message = error.get("message") or code or f"HTTP {status}"
    return StoreError(f"{action}: {message}", code=str(code) if code is not None else None)


class Store:
    """Typed reads and writes against Supabase's PostgREST API, as service_role."""

    def __init__(self, url: str, service_key: Secret, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        key = service_key.reveal()
        headers = {"apikey": key, "Authorization": f"Bearer {key}"}
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
            event_hooks={"response": [_refuse_unavailable]},
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
        usage_http, self._usage_http = self._usage_http, None
        if usage_http is not None:
            await usage_http.close()
        await self._client.aclose()

    async def resolve_api_key(self, key_hash: str) -> Caller | None:
        async with _boundary("resolve_api_key"):
            res = await self._client.rpc("resolve_api_key", {"p_key_hash": key_hash}).execute()
        rows = _rows(res.data)
        if not rows:
            return None
        row = rows[0]
        return Caller(
            org_id=row["org_id"], project_id=row["project_id"], api_key_id=row["api_key_id"]
        )

    async def provider_keys(
        self, project_id: str, name: str | None = None
    ) -> list[StoredProviderKey]:
        """A project's sealed keys (only the one called `name`, if given)."""
        async with _boundary("provider_keys"):
            query = (
                self._client.from_("provider_keys")
                .select("provider,name,base_url,ciphertext")
                .eq("project_id", project_id)
            )
            if name is not None:
                query = query.eq("name", name)
            res = await query.order("name").execute()
        return [StoredProviderKey(**row) for row in _rows(res.data)]

    async def insert_usage(self, rows: list[dict[str, Any]]) -> None:
        """Write ledger rows; request_ids already stored are skipped, so retries are safe.

        One POST of orjson bytes on a kept-alive aiohttp connection rather than postgrest-py
        over httpx: this runs for every request the origin answers, and the client library's
        request building and httpcore's pool were most of the ledger's CPU (bench/README.md)."""
        if not rows:
            return
        try:
            async with self._usage_session().post(
                self._usage_url, data=orjson.dumps(rows), headers=self._usage_headers
            ) as response:
                if response.status < 300:
                    return
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:  # aiohttp's timeouts are both
            raise StoreUnavailable(f"insert_usage: cannot reach Supabase ({exc!r:.120})") from exc
        raise _refusal("insert_usage", response.status, body)

    def _usage_session(self) -> aiohttp.ClientSession:
        if self._usage_http is None:
            self._usage_http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout_s, connect=min(self._timeout_s, 2.0)
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                json_serialize=lambda value: orjson.dumps(value).decode(),
            )
        return self._usage_http

    async def insert_feedback(self, row: dict[str, Any]) -> None:
        async with _boundary("insert_feedback"):
            await (
                self._client.from_("feedback").insert(row, returning=ReturnMethod.minimal).execute()
            )

    async def feedback_quality(
        self, project_id: str, since: str | None = None
    ) -> list[dict[str, Any]]:
        """Feedback per (task type, model) since `since` (ISO), worst quality first."""
        args: dict[str, Any] = {"p_project": project_id}
        if since is not None:
            args["p_since"] = since
        async with _boundary("feedback_quality"):
            res = await self._client.rpc("feedback_quality", args).execute()
        return _rows(res.data)

    async def record_cache_purge(self, row: dict[str, Any]) -> None:
        """One `cache_purges` audit row: who purged what, when, and how many entries went."""
        async with _boundary("record_cache_purge"):
            await (
                self._client.from_("cache_purges")
                .insert(row, returning=ReturnMethod.minimal)
                .execute()
            )

    async def create_org(self, name: str) -> str:
        async with _boundary("create_org"):
            res = await (
                self._client.from_("organisations").insert({"name": name}).select("id").execute()
            )
        return str(_rows(res.data)[0]["id"])

    async def create_project(self, name: str, org_id: str | None = None) -> Project:
        """A project in `org_id`, or in a new organisation of the same name."""
        org_id = org_id or await self.create_org(name)
        async with _boundary("create_project"):
            res = await (
                self._client.from_("projects")
                .insert({"name": name, "org_id": org_id})
                .select(_PROJECT_COLUMNS)
                .execute()
            )
        return Project(**_rows(res.data)[0])

    async def list_projects(self) -> list[Project]:
        async with _boundary("list_projects"):
            res = await (
                self._client.from_("projects")
                .select(_PROJECT_COLUMNS)
                .order("created_at")
                .execute()
            )
        return [Project(**row) for row in _rows(res.data)]

    async def get_project(self, project_id: str) -> Project | None:
        if not valid_id(project_id):
            return None
        async with _boundary("get_project"):
            res = await (
                self._client.from_("projects")
                .select(_PROJECT_COLUMNS)
                .eq("id", project_id)
                .execute()
            )
        return Project(**_rows(res.data)[0]) if res.data else None

    async def create_api_key(
        self, project_id: str, name: str | None = None
    ) -> tuple[str, ApiKeyRecord]:
        """A new gateway key: the plaintext is returned here once and stored nowhere."""
        key = generate_api_key()
        row = {
            "project_id": project_id,
            "name": name,
            "key_hash": hash_api_key(key),
            "prefix": display_prefix(key),
        }
        async with _boundary("create_api_key"):
            res = await (
                self._client.from_("api_keys").insert(row).select(_API_KEY_COLUMNS).execute()
            )
        return key, ApiKeyRecord(**_rows(res.data)[0])

    async def list_api_keys(self, project_id: str) -> list[ApiKeyRecord]:
        async with _boundary("list_api_keys"):
            res = await (
                self._client.from_("api_keys")
                .select(_API_KEY_COLUMNS)
                .eq("project_id", project_id)
                .order("created_at")
                .execute()
            )
        return [ApiKeyRecord(**row) for row in _rows(res.data)]

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Revoke a live key; None when no such key (revoking twice keeps the first time)."""
        if not valid_id(key_id):
            return None
        async with _boundary("revoke_api_key"):
            res = await (
                self._client.from_("api_keys")
                .update({"revoked_at": datetime.now(UTC).isoformat()})
                .eq("id", key_id)
                .is_("revoked_at", "null")
                .select(_API_KEY_COLUMNS)
                .execute()
            )
            if not res.data:
                res = await (
                    self._client.from_("api_keys")
                    .select(_API_KEY_COLUMNS)
                    .eq("id", key_id)
                    .execute()
                )
        return ApiKeyRecord(**_rows(res.data)[0]) if res.data else None

    async def api_key_hash(self, key_id: str) -> str | None:
        """The stored hash of a key (revoked or not), which every key cache is keyed by."""
        if not valid_id(key_id):
            return None
        async with _boundary("api_key_hash"):
            res = await self._client.from_("api_keys").select("key_hash").eq("id", key_id).execute()
        rows = _rows(res.data)
        return str(rows[0]["key_hash"]) if rows else None

    async def add_provider_key(
        self,
        project_id: str,
        provider: str,
        ciphertext: str,
        name: str | None = None,
        base_url: str | None = None,
        key_hint: str | None = None,
    ) -> ProviderKeyInfo:
        """Store an already-encrypted key; `name` (the encryption context) defaults to provider.
        `key_hint` is the plaintext's last four characters, all the dashboard ever shows again."""
        row = {
            "project_id": project_id,
            "provider": provider,
            "name": name or provider,
            "base_url": base_url,
            "ciphertext": ciphertext,
            "key_hint": key_hint,
        }
        async with _boundary("add_provider_key"):
            res = await (
                self._client.from_("provider_keys")
                .insert(row)
                .select(_PROVIDER_KEY_COLUMNS)
                .execute()
            )
        return ProviderKeyInfo(**_rows(res.data)[0])

    async def list_provider_keys(self, project_id: str) -> list[ProviderKeyInfo]:
        async with _boundary("list_provider_keys"):
            res = await (
                self._client.from_("provider_keys")
                .select(_PROVIDER_KEY_COLUMNS)
                .eq("project_id", project_id)
                .order("name")
                .execute()
            )
        return [ProviderKeyInfo(**row) for row in _rows(res.data)]

    async def reseal_provider_key(
        self, project_id: str, name: str, was: StoredProviderKey, now: StoredProviderKey
    ) -> ProviderKeyInfo | None:
        """Replace a key's provider, base URL and ciphertext, only if the row still holds
        `was` (so a concurrent change is never overwritten); None if it did not."""
        async with _boundary("reseal_provider_key"):
            res = await (
                self._client.from_("provider_keys")
                .update(
                    {
                        "provider": now.provider,
                        "base_url": now.base_url,
                        "ciphertext": now.ciphertext,
                    }
                )
                .eq("project_id", project_id)
                .eq("name", name)
                .eq("ciphertext", was.ciphertext)
                .select(_PROVIDER_KEY_COLUMNS)
                .execute()
            )
        rows = _rows(res.data)
        return ProviderKeyInfo(**rows[0]) if rows else None

    async def remove_provider_key(self, project_id: str, name: str) -> bool:
        async with _boundary("remove_provider_key"):
            res = await (
                self._client.from_("provider_keys")
                .delete()
                .eq("project_id", project_id)
                .eq("name", name)
                .execute()
            )
        return bool(res.data)

    async def recent_usage(
        self,
        project_id: str | None = None,
        limit: int = 50,
        tag: tuple[str, str] | None = None,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest ledger rows first; optionally one project, one tag value, after `since` (ISO)."""
        query = self._client.from_("usage_logs").select("*")
        if project_id is not None:
            query = query.eq("project_id", project_id)
        if tag is not None:
            if not TAG_KEY.fullmatch(tag[0]):
                raise ValueError("a tag filter key must be 1-64 letters, digits, '_' or '-'")
            query = query.eq(f"request_tags->>{tag[0]}", tag[1])
        if since is not None:
            query = query.gte("created_at", since)
        limit = max(1, min(limit, _USAGE_LIMIT_MAX))
        async with _boundary("recent_usage"):
            res = await query.order("created_at", desc=True).limit(limit).execute()
        return _rows(res.data)

    # Spend control: budgets, rate limits, the policy audit trail, and reconciliation.

    async def list_budgets(self, project_id: str) -> list[dict[str, Any]]:
        async with _boundary("list_budgets"):
            res = await (
                self._client.from_("budgets")
                .select(_BUDGET_COLUMNS)
                .eq("project_id", project_id)
                .order("created_at")
                .execute()
            )
        return _rows(res.data)

    async def all_budgets(self) -> list[dict[str, Any]]:
        async with _boundary("all_budgets"):
            res = await self._client.from_("budgets").select(_BUDGET_COLUMNS).execute()
        return _rows(res.data)

    async def create_budget(self, row: dict[str, Any]) -> dict[str, Any]:
        async with _boundary("create_budget"):
            res = await self._client.from_("budgets").insert(row).select(_BUDGET_COLUMNS).execute()
        return _rows(res.data)[0]

    async def delete_budget(self, budget_id: str) -> dict[str, Any] | None:
        if not valid_id(budget_id):
            return None
        async with _boundary("delete_budget"):
            res = await self._client.from_("budgets").delete().eq("id", budget_id).execute()
        rows = _rows(res.data)
        return rows[0] if rows else None

    async def list_limits(self, project_id: str) -> list[dict[str, Any]]:
        """The project's own limits row and its keys' rows."""
        async with _boundary("list_limits"):
            res = await (
                self._client.from_("rate_limits")
                .select(_LIMIT_COLUMNS)
                .eq("project_id", project_id)
                .execute()
            )
        return _rows(res.data)

    async def put_limits(self, row: dict[str, Any]) -> dict[str, Any]:
        """Create or replace one subject's limits (subject_id = key id or project id)."""
        async with _boundary("put_limits"):
            res = await (
                self._client.from_("rate_limits")
                .upsert(row, on_conflict="subject_id", default_to_null=True)
                .select(_LIMIT_COLUMNS)
                .execute()
            )
        return _rows(res.data)[0]

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        if not valid_id(key_id):
            return None
        async with _boundary("get_api_key"):
            res = await (
                self._client.from_("api_keys").select(_API_KEY_COLUMNS).eq("id", key_id).execute()
            )
        return ApiKeyRecord(**_rows(res.data)[0]) if res.data else None

    async def insert_policy_audit(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        async with _boundary("insert_policy_audit"):
            await (
                self._client.from_("policy_audit")
                .insert(rows, returning=ReturnMethod.minimal)
                .execute()
            )

    async def policy_audit(self, project_id: str, limit: int = 100) -> list[dict[str, Any]]:
        async with _boundary("policy_audit"):
            res = await (
                self._client.from_("policy_audit")
                .select("*")
                .eq("project_id", project_id)
                .order("created_at", desc=True)
                .limit(max(1, min(limit, _USAGE_LIMIT_MAX)))
                .execute()
            )
        return _rows(res.data)

    async def budget_spend(
        self, project_id: str, since: str, tag: tuple[str, str] | None = None
    ) -> Decimal:
        """Exact spend in usage_logs for the project (and tag) since `since` (ISO timestamp)."""
        args: dict[str, Any] = {"p_project_id": project_id, "p_since": since}
        if tag is not None:
            args["p_tag_key"], args["p_tag_value"] = tag
        async with _boundary("budget_spend"):
            res = await self._client.rpc("budget_spend", args).execute()
        try:
            return Decimal(str(res.data))
        except ArithmeticError as exc:
            raise StoreError("budget_spend: not a number") from exc
