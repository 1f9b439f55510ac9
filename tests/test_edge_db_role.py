"""The edge's database role, through the PostgREST stand-in with the official postgrest client,
as the edge's own JWT (role prism_edge): it resolves API keys and inserts the usage rows of edge
cache hits, and can do nothing else. The service key is not among the edge's bindings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from postgrest import APIError, AsyncPostgrestClient
from postgrest.constants import DEFAULT_POSTGREST_CLIENT_HEADERS

from edge.config import BINDINGS
from shared.apikeys import hash_api_key


@pytest.fixture
async def as_edge(postgrest: Any) -> AsyncIterator[AsyncPostgrestClient]:
    headers = {
        **DEFAULT_POSTGREST_CLIENT_HEADERS,
        "apikey": postgrest.anon_key,
        "Authorization": f"Bearer {postgrest.edge_key}",
    }
    async with AsyncPostgrestClient(postgrest.rest_url, headers=headers) as client:
        yield client


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("edge-role")


def hit_row(project: Any, **overrides: Any) -> dict[str, Any]:
    row = {
        "request_id": f"req_{uuid.uuid4().hex}",
        "org_id": project.org_id,
        "project_id": project.id,
        "task_type": "simple",
        "model_used": "gpt-4o-mini",
        "provider": "cache",
        "cache_status": "hit-exact-edge",
        "tokens_in": 10,
        "tokens_out": 20,
        "cost_total_cents": "0",
    }
    return {**row, **overrides}


# A cache hit the edge refused for its project's rate limits (edge/answer.py).
REFUSAL = {
    "provider": "none",
    "cache_status": "miss",
    "error_code": "rate_limited",
    "success": False,
}


async def test_the_edge_inserts_its_rate_limit_refusals(
    as_edge: AsyncPostgrestClient, project: Any
) -> None:
    row = hit_row(project, **REFUSAL, tokens_in=0, tokens_out=0)
    await as_edge.table("usage_logs").insert(row, returning="minimal").execute()


async def test_the_edge_resolves_keys(as_edge: AsyncPostgrestClient, project: Any) -> None:
    found = await as_edge.rpc(
        "resolve_api_key", {"p_key_hash": hash_api_key(project.api_key)}
    ).execute()
    assert [(r["project_id"], r["org_id"]) for r in found.data] == [(project.id, project.org_id)]


async def test_the_edge_inserts_hit_rows_once(
    as_edge: AsyncPostgrestClient, project: Any, pg: Any
) -> None:
    row = hit_row(project)
    await as_edge.table("usage_logs").insert(row, returning="minimal").execute()
    with pytest.raises(APIError) as again:  # what the edge reads as "already stored"
        await as_edge.table("usage_logs").insert(row, returning="minimal").execute()
    assert again.value.code == "23505"
    conn = await pg.connect()
    try:
        stored = await conn.fetch(
            "select * from usage_logs where request_id = $1", row["request_id"]
        )
    finally:
        await conn.close()
    assert len(stored) == 1 and stored[0]["cache_status"] == "hit-exact-edge"


@pytest.mark.parametrize(
    "table",
    ["provider_keys", "api_keys", "usage_logs", "projects", "organisations", "budgets"],
)
async def test_the_edge_reads_no_table(as_edge: AsyncPostgrestClient, table: str) -> None:
    with pytest.raises(APIError) as info:
        await as_edge.table(table).select("*").limit(1).execute()
    assert info.value.code == "42501"  # permission denied


@pytest.mark.parametrize(
    "overrides",
    [
        {"provider": "openai", "cache_status": "miss"},
        {"cache_status": "hit-exact"},
        {**REFUSAL, "cost_total_cents": "1", "tokens_in": 0, "tokens_out": 0},
        {**REFUSAL, "success": True, "tokens_in": 0, "tokens_out": 0},
        # A hit costs nothing: a costly one would spend another tenant's budget.
        {"cost_total_cents": "99999999"},
        {"cost_provider_cents": "1"},
        {"cache_status": "hit-semantic-edge", "routing_saved_cents": "5"},
        {**REFUSAL, "cache_saved_cents": "5000", "tokens_in": 0, "tokens_out": 0},
    ],
    ids=[
        "paid-call",
        "origin-hit",
        "costly-refusal",
        "successful-refusal",
        "costly-hit",
        "hit-with-provider-cost",
        "hit-with-routing-saving",
        "refusal-with-savings",
    ],
)
async def test_the_edge_cannot_forge_other_rows(
    as_edge: AsyncPostgrestClient, project: Any, overrides: dict[str, Any]
) -> None:
    with pytest.raises(APIError) as info:
        await (
            as_edge.table("usage_logs")
            .insert(hit_row(project, **overrides), returning="minimal")
            .execute()
        )
    assert info.value.code == "42501"  # new row violates row-level security policy


async def test_the_edge_changes_and_deletes_nothing(
    as_edge: AsyncPostgrestClient, project: Any
) -> None:
    attempts = [
        as_edge.table("usage_logs").update({"tokens_in": 0}).eq("project_id", project.id),
        as_edge.table("usage_logs").delete().eq("project_id", project.id),
        as_edge.table("api_keys").update({"revoked_at": None}).eq("project_id", project.id),
        as_edge.table("projects").insert({"org_id": project.org_id, "name": "x"}),
    ]
    for attempt in attempts:
        with pytest.raises(APIError) as info:
            await attempt.execute()
        assert info.value.code == "42501"


def test_the_edge_is_never_given_the_service_key(edge_bindings: dict[str, str]) -> None:
    assert "SUPABASE_SERVICE_KEY" not in BINDINGS and "SUPABASE_SERVICE_KEY" not in edge_bindings
    assert "SUPABASE_EDGE_KEY" in BINDINGS and edge_bindings["SUPABASE_EDGE_KEY"]
