"""Every read the dashboard makes, through the user's own Supabase client: RPC functions that
aggregate in Postgres (infra/migrations/0013_dashboard_queries.sql) and small table reads.
Row-level security decides what comes back; nothing here filters by tenant on its own."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only supa.py loads supabase-py, once the dashboard is first used
    from supabase import AsyncClient

API_KEY_COLUMNS = "id,project_id,prefix,name,created_at,revoked_at"
PROVIDER_KEY_COLUMNS = "id,project_id,provider,name,base_url,key_hint,created_at"


def _rows(data: object) -> list[dict[str, Any]]:
    """A table read's rows: PostgREST answers with a JSON array of objects."""
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


async def _rpc(client: AsyncClient, fn: str, args: dict[str, Any]) -> Any:
    return (await client.rpc(fn, args).execute()).data


async def projects(client: AsyncClient) -> list[dict[str, str]]:
    """The viewer's projects by name, each with the viewer's role in its organisation ("" for
    none: a project-scoped token)."""
    rows = await _rpc(client, "dash_projects", {})
    return [
        {
            "id": str(r["id"]),
            "name": str(r["name"]),
            "org_id": str(r["org_id"]),
            "role": str(r.get("role") or ""),
        }
        for r in _rows(rows)
    ]


async def overview(client: AsyncClient, project_id: str) -> dict[str, Any]:
    data: dict[str, Any] = await _rpc(client, "dash_overview", {"p_project": project_id})
    return data


async def savings(client: AsyncClient, project_id: str, since: str) -> dict[str, Any]:
    data: dict[str, Any] = await _rpc(
        client, "dash_savings", {"p_project": project_id, "p_since": since}
    )
    return data


async def requests(client: AsyncClient, project_id: str, filters: dict[str, Any]) -> list[Any]:
    args = {"p_project": project_id, **{f"p_{k}": v for k, v in filters.items() if v is not None}}
    rows: list[Any] = await _rpc(client, "dash_requests", args)
    return rows


async def request_detail(
    client: AsyncClient, project_id: str, request_id: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    rows = (
        await client.table("usage_logs")
        .select("*")
        .eq("project_id", project_id)
        .eq("request_id", request_id)
        .execute()
    ).data
    feedback = (
        await client.table("feedback")
        .select("rating,score,comment,created_at")
        .eq("project_id", project_id)
        .eq("request_id", request_id)
        .order("created_at")
        .execute()
    ).data
    found = _rows(rows)
    return (found[0] if found else None), _rows(feedback)


async def tag_keys(client: AsyncClient, project_id: str) -> list[str]:
    keys: list[str] = await _rpc(client, "dash_tag_keys", {"p_project": project_id})
    return keys


async def features(
    client: AsyncClient, project_id: str, key: str, start: date, end: date
) -> dict[str, Any]:
    args = {"p_project": project_id, "p_key": key, "p_from": str(start), "p_to": str(end)}
    data: dict[str, Any] = await _rpc(client, "dash_features", args)
    return data


async def cache_series(client: AsyncClient, project_id: str, days: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await _rpc(
        client, "dash_cache_series", {"p_project": project_id, "p_days": days}
    )
    return rows


async def cache_entry_stats(
    client: AsyncClient, project_id: str, stored: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """Hits, last hit and layers per entry (fingerprint -> when it was stored, epoch seconds),
    counting only hits since it was stored: a fingerprint outlives a purged or expired answer."""
    if not stored:
        return {}
    since = [datetime.fromtimestamp(t, UTC).isoformat() for t in stored.values()]
    args = {"p_project": project_id, "p_keys": list(stored), "p_stored": since}
    hits: dict[str, dict[str, Any]] = await _rpc(client, "dash_cache_entry_hits", args)
    return hits


async def _newest(
    client: AsyncClient, table: str, columns: str, project_id: str, count: int
) -> list[dict[str, Any]]:
    rows = (
        await client.table(table)
        .select(columns)
        .eq("project_id", project_id)
        .order("created_at", desc=True)
        .limit(count)
        .execute()
    ).data
    return _rows(rows)


async def policy_audit(client: AsyncClient, project_id: str) -> list[dict[str, Any]]:
    """The newest budget and limit changes, and the times one fired."""
    return await _newest(
        client, "policy_audit", "actor,event,subject,detail,created_at", project_id, 20
    )


async def cache_purges(client: AsyncClient, project_id: str) -> list[dict[str, Any]]:
    return await _newest(
        client, "cache_purges", "actor,scope,target,removed,created_at", project_id, 10
    )


async def api_keys(client: AsyncClient, project_id: str) -> list[dict[str, Any]]:
    rows = (
        await client.table("api_keys")
        .select(API_KEY_COLUMNS)
        .eq("project_id", project_id)
        .order("created_at", desc=True)
        .execute()
    ).data
    return _rows(rows)


async def rate_limits(client: AsyncClient, project_id: str) -> list[dict[str, Any]]:
    """The project's own limits row (api_key_id null) and its keys' rows."""
    columns = "api_key_id,requests_per_minute,requests_per_day,requests_per_month,tokens_per_minute"
    rows = (
        await client.table("rate_limits").select(columns).eq("project_id", project_id).execute()
    ).data
    return _rows(rows)


async def provider_keys(client: AsyncClient, project_id: str) -> list[dict[str, Any]]:
    rows = (
        await client.table("provider_keys")
        .select(PROVIDER_KEY_COLUMNS)
        .eq("project_id", project_id)
        .order("name")
        .execute()
    ).data
    return _rows(rows)


async def members(client: AsyncClient, project_id: str) -> list[dict[str, Any]]:
    """The people in the project's organisation (user id, email, role, since when), owners
    first; none unless the viewer is one of them (dash_members, 0034_org_members_manage.sql)."""
    return _rows(await _rpc(client, "dash_members", {"p_project": project_id}))


async def activity(client: AsyncClient, project_id: str) -> list[dict[str, Any]]:
    """Who changed the project and its organisation, newest first; none unless the viewer is a
    member (dash_activity, 0037_activity.sql, under the viewer's row-level security)."""
    return _rows(await _rpc(client, "dash_activity", {"p_project": project_id, "p_limit": 100}))


class Budgets:
    """Budgets and their spend (origin.spend.changes.budgets_with_spend) read as the viewer: the
    budgets table and budget_spend under row-level security, never with the service key."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list_budgets(self, project_id: str) -> list[dict[str, Any]]:
        columns = "id,project_id,period,limit_cents,tag_key,tag_value,action,created_at"
        query = self._client.table("budgets").select(columns).eq("project_id", project_id)
        return _rows((await query.order("created_at").execute()).data)

    async def budget_spend(
        self, project_id: str, since: str, tag: tuple[str, str] | None = None
    ) -> Decimal:
        args: dict[str, Any] = {"p_project_id": project_id, "p_since": since}
        if tag is not None:
            args["p_tag_key"], args["p_tag_value"] = tag
        return Decimal(str(await _rpc(self._client, "budget_spend", args)))
