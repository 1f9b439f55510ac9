"""Store against the real PostgREST stand-in and real Postgres: round trips and error mapping."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from infra.local.proc import free_port
from origin.settings import Secret
from origin.store import Store, StoreError, StoreUnavailable, valid_id
from shared.apikeys import PREFIX, display_prefix
from shared.usage import UsageRow, new_request_id


def usage_row(project_id: str, org_id: str, **overrides: Any) -> UsageRow:
    """A plausible ledger row; tests override what they look at."""
    fields: dict[str, Any] = dict(
        request_id=new_request_id(),
        org_id=org_id,
        project_id=project_id,
        api_key_id=None,
        mode="balanced",
        task_type="simple",
        model_used="gpt-4o-mini",
        provider="openai",
        tokens_in=12,
        tokens_out=34,
        tokens_cache_read=0,
        tokens_cache_write=0,
        cost_provider_cents=Decimal("0.0123"),
        cost_total_cents=Decimal("0.0123"),
        latency_ms=250,
        was_streaming=False,
        success=True,
        error_code=None,
        usage_reported=True,
        session_id=None,
        cache_status="miss",
        cache_saved_cents=Decimal(0),
        native_cache_saved_cents=Decimal(0),
        request_tags={"feature": "onboarding"},
    )
    fields.update(overrides)
    return UsageRow(**fields)


async def test_create_project_makes_an_org_when_none_is_given(store: Store) -> None:
    project = await store.create_project("alpha")
    assert valid_id(project.id) and valid_id(project.org_id)
    sibling = await store.create_project("beta", org_id=project.org_id)
    assert sibling.org_id == project.org_id
    listed = {p.id: p for p in await store.list_projects()}
    assert listed[project.id].name == "alpha" and listed[sibling.id].name == "beta"
    assert await store.get_project(project.id) == project
    assert await store.get_project(str(uuid.uuid4())) is None
    assert await store.get_project("not-a-uuid") is None


async def test_api_key_lifecycle(store: Store, pg_conn: asyncpg.Connection) -> None:
    project = await store.create_project("keys")
    key, record = await store.create_api_key(project.id, "ci")
    assert key.startswith(PREFIX) and record.prefix == display_prefix(key)
    assert (record.project_id, record.name, record.revoked_at) == (project.id, "ci", None)

    stored = await pg_conn.fetchrow("select * from api_keys where id = $1", uuid.UUID(record.id))
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in json.dumps({k: str(v) for k, v in dict(stored).items()})

    listed = await store.list_api_keys(project.id)
    assert [k.id for k in listed] == [record.id]
    assert "key_hash" not in vars(listed[0]) and not hasattr(listed[0], "key_hash")

    caller = await store.resolve_api_key(stored["key_hash"])
    assert caller is not None
    assert (caller.project_id, caller.org_id, caller.api_key_id) == (
        project.id,
        project.org_id,
        record.id,
    )

    revoked = await store.revoke_api_key(record.id)
    assert revoked is not None and revoked.revoked_at is not None
    assert await store.resolve_api_key(stored["key_hash"]) is None
    again = await store.revoke_api_key(record.id)
    assert again is not None and again.revoked_at == revoked.revoked_at


@pytest.mark.parametrize("key_id", [str(uuid.uuid4()), "nope", ""])
async def test_revoking_an_unknown_key_finds_nothing(store: Store, key_id: str) -> None:
    assert await store.revoke_api_key(key_id) is None


async def test_resolve_unknown_hash_is_none(store: Store) -> None:
    assert await store.resolve_api_key("0" * 64) is None


async def test_provider_key_lifecycle(store: Store) -> None:
    project = await store.create_project("providers")
    info = await store.add_provider_key(project.id, "openai", "c2VhbGVk")
    assert (info.provider, info.name, info.base_url) == ("openai", "openai", None)
    custom = await store.add_provider_key(
        project.id, "openai", "b3RoZXI=", "local", "http://127.0.0.1:11434/v1"
    )
    assert custom.name == "local"

    listed = await store.list_provider_keys(project.id)
    assert [k.name for k in listed] == ["local", "openai"]
    assert all(not hasattr(k, "ciphertext") for k in listed)
    sealed = {k.name: k for k in await store.provider_keys(project.id)}
    assert sealed["openai"].ciphertext == "c2VhbGVk"
    assert sealed["local"].base_url == "http://127.0.0.1:11434/v1"

    with pytest.raises(StoreError) as dup:
        await store.add_provider_key(project.id, "openai", "eA==")
    assert dup.value.conflict

    assert await store.remove_provider_key(project.id, "local") is True
    assert await store.remove_provider_key(project.id, "local") is False
    assert [k.name for k in await store.provider_keys(project.id)] == ["openai"]


async def test_keys_for_a_missing_project_are_refused(store: Store) -> None:
    with pytest.raises(StoreError) as info:
        await store.add_provider_key(str(uuid.uuid4()), "openai", "eA==")
    assert info.value.missing_reference
    with pytest.raises(StoreError) as info:
        await store.create_api_key(str(uuid.uuid4()))
    assert info.value.missing_reference


async def test_insert_usage_is_idempotent(store: Store, pg_conn: asyncpg.Connection) -> None:
    project = await store.create_project("ledger")
    rows = [usage_row(project.id, project.org_id).to_json() for _ in range(5)]
    await store.insert_usage(rows)
    await store.insert_usage(rows)
    await store.insert_usage(rows[2:] + [usage_row(project.id, project.org_id).to_json()])
    await store.insert_usage([])
    counts = await pg_conn.fetch(
        "select request_id, count(*) as n from usage_logs where project_id = $1 group by 1",
        uuid.UUID(project.id),
    )
    assert len(counts) == 6 and all(r["n"] == 1 for r in counts)
    stored = await pg_conn.fetchrow(
        "select * from usage_logs where request_id = $1", rows[0]["request_id"]
    )
    assert stored["cost_total_cents"] == Decimal("0.0123")
    assert json.loads(stored["request_tags"]) == {"feature": "onboarding"}


async def test_recent_usage_filters(store: Store, pg_conn: asyncpg.Connection) -> None:
    project = await store.create_project("usage")
    other = await store.create_project("usage-other")
    tagged = [
        usage_row(project.id, project.org_id, request_tags={"feature": f"f{i % 2}"})
        for i in range(6)
    ]
    await store.insert_usage([r.to_json() for r in tagged])
    await store.insert_usage([usage_row(other.id, other.org_id).to_json()])
    old = tagged[0].request_id
    await pg_conn.execute(
        "update usage_logs set created_at = now() - interval '2 days' where request_id = $1", old
    )

    mine = await store.recent_usage(project.id, limit=100)
    assert {r["request_id"] for r in mine} == {r.request_id for r in tagged}
    assert mine[-1]["request_id"] == old  # newest first
    assert len(await store.recent_usage(project.id, limit=2)) == 2
    f1 = await store.recent_usage(project.id, tag=("feature", "f1"))
    assert {r["request_id"] for r in f1} == {r.request_id for i, r in enumerate(tagged) if i % 2}
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert old not in {r["request_id"] for r in await store.recent_usage(project.id, since=since)}
    everyone = {r["project_id"] for r in await store.recent_usage(None, limit=1000)}
    assert {project.id, other.id} <= everyone
    with pytest.raises(ValueError):
        await store.recent_usage(project.id, tag=("bad key;", "x"))


async def test_unreachable_api_is_unavailable() -> None:
    dead = Store(f"http://127.0.0.1:{free_port()}", Secret("k"))
    try:
        with pytest.raises(StoreUnavailable):
            await dead.list_projects()
    finally:
        await dead.aclose()


async def test_a_wrong_service_key_is_refused_not_unavailable(postgrest: Any) -> None:
    wrong = Store(postgrest.url, Secret("not-a-jwt"))
    try:
        with pytest.raises(StoreError):
            await wrong.list_projects()
    finally:
        await wrong.aclose()


async def test_database_down_is_unavailable(store: Store, pg: Any) -> None:
    project = await store.create_project("outage")
    async with pg.outage():
        with pytest.raises(StoreUnavailable):
            await store.insert_usage([usage_row(project.id, project.org_id).to_json()])
        with pytest.raises(StoreUnavailable):
            await store.resolve_api_key("0" * 64)
    assert await store.get_project(project.id) == project
