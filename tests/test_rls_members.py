"""Row-level security for every public table, exercised as the dashboard does: two organisations'
users signed in through Supabase Auth, reading through PostgREST with their own tokens."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from postgrest import APIError

from infra.local.postgres import apply_migrations
from tests.fixtures.members import Member, signed_in
from tests.test_standin_postgrest import rest as rest_client

# Every public table and the column that says whose a row is. A table added without an entry
# here fails test_every_public_table_is_covered: new tables need their isolation tested too.
OWNED_BY = {
    "organisations": ("id", "org_id"),
    "org_members": ("org_id", "org_id"),
    "projects": ("id", "project_id"),
    "api_keys": ("project_id", "project_id"),
    "provider_keys": ("project_id", "project_id"),
    "usage_logs": ("project_id", "project_id"),
    "usage_hourly": ("project_id", "project_id"),
    "usage_tag_daily": ("project_id", "project_id"),
    "usage_latency_daily": ("project_id", "project_id"),
    "budgets": ("project_id", "project_id"),
    "feedback": ("project_id", "project_id"),
    "cache_purges": ("project_id", "project_id"),
    "rate_limits": ("project_id", "project_id"),
    "policy_audit": ("project_id", "project_id"),
    "activity": ("org_id", "org_id"),
}
GRANTED_TO_REST_ROLES = (
    "SELECT c.relname, r.role, p.privilege FROM pg_class AS c"
    " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
    " CROSS JOIN unnest(ARRAY['anon', 'authenticated']) AS r(role)"
    " CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',"
    "   'TRIGGER']) AS p(privilege)"
    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')"
    "   AND has_table_privilege(r.role, c.oid, p.privilege)"
)
# Readable by no REST role at all: the migrations applied, and which accounts the origin made with
# a password an adder was shown (0035).
INTERNAL = {"schema_migrations", "org_member_created"}
SECRET_COLUMNS = [("api_keys", "key_hash"), ("provider_keys", "ciphertext")]
VISIBLE_COLUMNS = {
    "api_keys": "id,project_id,prefix,name,created_at,revoked_at",
    "provider_keys": "id,project_id,provider,name,base_url,key_hint,created_at",
}


async def seed(conn: asyncpg.Connection, member: Member) -> None:
    """One row of every project-owned table for the member's project."""
    project = member.project_id
    await conn.execute(
        "INSERT INTO provider_keys (project_id, provider, name, ciphertext, key_hint)"
        " VALUES ($1, 'openai', 'openai', 'v1:not-really-ciphertext', 'abcd')",
        project,
    )
    await conn.execute(
        "INSERT INTO usage_logs (request_id, org_id, project_id, task_type, model_used, provider,"
        " cost_total_cents, request_tags) VALUES ($1, $2, $3, 'simple', 'gpt-4o-mini', 'openai',"
        ' 0.5, \'{"feature": "chat"}\')',
        f"req_{uuid.uuid4().hex}",
        member.org_id,
        project,
    )
    await conn.execute(
        "INSERT INTO budgets (project_id, period, limit_cents) VALUES ($1, 'day', 100)", project
    )
    await conn.execute(
        "INSERT INTO feedback (project_id, request_id, rating) VALUES ($1, 'req_x', 1)", project
    )
    await conn.execute(
        "INSERT INTO cache_purges (project_id, actor, scope) VALUES ($1, 'test', 'project')",
        project,
    )
    await conn.execute(
        "INSERT INTO rate_limits (project_id, subject_id, requests_per_minute) VALUES ($1, $1, 60)",
        project,
    )
    await conn.execute(
        "INSERT INTO policy_audit (project_id, actor, event) VALUES ($1, 'test', 'rate_limit')",
        project,
    )


@pytest.fixture(scope="module")
async def two_orgs(pg: Any) -> tuple[Member, Member]:
    from tests.fixtures.members import new_member

    first, second = await new_member(pg.dsn, "alpha"), await new_member(pg.dsn, "beta")
    conn = await pg.connect()
    try:
        for member in (first, second):
            await seed(conn, member)
    finally:
        await conn.close()
    return first, second


def owner_value(member: Member, kind: str) -> str:
    return member.org_id if kind == "org_id" else member.project_id


async def test_every_public_table_is_covered(pg_conn: asyncpg.Connection) -> None:
    tables = {
        r["tablename"]
        for r in await pg_conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert tables == set(OWNED_BY) | INTERNAL


@pytest.mark.parametrize("table", sorted(OWNED_BY))
async def test_each_user_reads_exactly_their_own_rows(
    postgrest: Any, pg_conn: asyncpg.Connection, two_orgs: tuple[Member, Member], table: str
) -> None:
    column, kind = OWNED_BY[table]
    select = VISIBLE_COLUMNS.get(table, "*")
    for me, other in (two_orgs, two_orgs[::-1]):
        async with signed_in(postgrest, me) as client:
            rows = (await client.table(table).select(select).execute()).data
            theirs = client.table(table).select(select).eq(column, owner_value(other, kind))
            assert (await theirs.execute()).data == []
        expected = await pg_conn.fetchval(
            f"SELECT count(*) FROM public.{table} WHERE {column} = $1::uuid", owner_value(me, kind)
        )
        assert expected >= 1, f"nothing seeded in {table}"
        assert len(rows) == expected
        assert {str(r[column]) for r in rows} == {owner_value(me, kind)}


@pytest.mark.parametrize(("table", "column"), SECRET_COLUMNS)
async def test_no_user_reads_key_hashes_or_ciphertext(
    postgrest: Any, two_orgs: tuple[Member, Member], table: str, column: str
) -> None:
    async with signed_in(postgrest, two_orgs[0]) as client:
        for select in (column, "*", f"id,{column}"):
            with pytest.raises(APIError) as caught:
                await client.table(table).select(select).execute()
            assert caught.value.code == "42501", select
        # Filtering on the secret column is reading it too.
        with pytest.raises(APIError):
            await client.table(table).select("id").eq(column, "x").execute()


@pytest.mark.parametrize(("table", "column"), SECRET_COLUMNS)
async def test_only_service_role_may_read_secret_columns(
    pg_conn: asyncpg.Connection, table: str, column: str
) -> None:
    rights = {
        role: await pg_conn.fetchval(
            "SELECT has_column_privilege($1, $2, $3, 'SELECT')", role, f"public.{table}", column
        )
        for role in ("anon", "authenticated", "service_role")
    }
    assert rights == {"anon": False, "authenticated": False, "service_role": True}


async def test_rest_roles_cannot_write_truncate_or_reference_any_table(
    pg_conn: asyncpg.Connection,
) -> None:
    rows = await pg_conn.fetch(GRANTED_TO_REST_ROLES)
    assert [tuple(r) for r in rows] == []


async def test_truncate_through_a_user_token_is_refused(
    postgrest: Any, pg: Any, two_orgs: tuple[Member, Member]
) -> None:
    """Supabase grants TRUNCATE by default; RLS would not stop it. Prove the revoke holds."""
    conn = await pg.connect()
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE authenticated")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("TRUNCATE public.usage_logs")
    finally:
        await conn.close()


@pytest.mark.parametrize("table", sorted(OWNED_BY))
async def test_users_cannot_delete_their_own_rows_through_postgrest(
    postgrest: Any, pg_conn: asyncpg.Connection, two_orgs: tuple[Member, Member], table: str
) -> None:
    """Dashboard writes go through the origin; a user token may not even delete its own rows."""
    column, kind = OWNED_BY[table]
    me = two_orgs[0]
    async with signed_in(postgrest, me) as client:
        with pytest.raises(APIError) as caught:
            await client.table(table).delete().eq(column, owner_value(me, kind)).execute()
    assert caught.value.code == "42501"
    left = await pg_conn.fetchval(
        f"SELECT count(*) FROM public.{table} WHERE {column} = $1::uuid", owner_value(me, kind)
    )
    assert left >= 1


async def test_a_user_without_membership_sees_nothing(
    postgrest: Any, pg: Any, two_orgs: tuple[Member, Member]
) -> None:
    from infra.local.auth_users import create_user

    conn = await pg.connect()
    email, password = f"loner-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    try:
        user_id = await create_user(conn, email, password)
    finally:
        await conn.close()
    loner = Member(email, password, user_id, "", "", "")
    async with signed_in(postgrest, loner) as client:
        for table in OWNED_BY:
            select = VISIBLE_COLUMNS.get(table, "*")
            assert (await client.table(table).select(select).execute()).data == [], table


async def test_migrations_take_back_what_supabase_grants_by_default(
    pg: Any, pg_conn: asyncpg.Connection
) -> None:
    """A new Supabase project grants the REST roles ALL on every public table, present and
    future; after the migrations none of them may write, TRUNCATE, REFERENCE or TRIGGER."""
    name = f"supabase_like_{uuid.uuid4().hex[:12]}"
    await pg_conn.execute(f'CREATE DATABASE "{name}"')
    dsn = pg.dsn.rsplit("/", 1)[0] + f"/{name}"
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
                " GRANT ALL ON TABLES TO anon, authenticated, service_role"
            )
            await apply_migrations(dsn)
            rows = await conn.fetch(GRANTED_TO_REST_ROLES)
        finally:
            await conn.close()
    finally:
        await pg_conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    assert [tuple(r) for r in rows] == []


@pytest.fixture(scope="module")
async def sibling_projects(pg: Any) -> tuple[Member, Member]:
    """Two projects of one organisation, every table seeded for each."""
    from tests.fixtures.members import new_member

    first = await new_member(pg.dsn, "sibling")
    conn = await pg.connect()
    try:
        second_id = await conn.fetchval(
            "INSERT INTO projects (org_id, name) VALUES ($1, 'sibling-2') RETURNING id::text",
            first.org_id,
        )
        second = replace(first, project_id=second_id)
        for member in (first, second):
            await seed(conn, member)
            await conn.execute(
                "INSERT INTO api_keys (project_id, key_hash, prefix) VALUES ($1, $2, 'prism_sk_x')",
                member.project_id,
                secrets.token_hex(32),
            )
    finally:
        await conn.close()
    return first, second


@pytest.mark.parametrize("table", sorted(OWNED_BY))
async def test_a_project_token_reads_its_own_project_and_not_its_siblings(
    postgrest: Any, sibling_projects: tuple[Member, Member], table: str
) -> None:
    """A token minted for one project (no user) is that project's, not its organisation's."""
    mine, sibling = sibling_projects
    column, kind = OWNED_BY[table]
    async with rest_client(postgrest, postgrest.project_key(mine.project_id)) as client:
        rows = (await client.table(table).select(VISIBLE_COLUMNS.get(table, "*")).execute()).data
    if table == "organisations":
        assert [r["id"] for r in rows] == [mine.org_id]
    elif table in ("org_members", "activity"):
        # Who is in the organisation is its members' business; the trail's rows about this
        # project are the token's.
        assert all(r.get("project_id") == mine.project_id for r in rows), rows
    else:
        assert rows and {str(r[column]) for r in rows} == {owner_value(mine, kind)}
    assert sibling.project_id not in str(rows)
