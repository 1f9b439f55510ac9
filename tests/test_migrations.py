"""The migrations: applied once, safe to re-run, and the schema they leave behind."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from infra.local.postgres import ROOT, PostgresCluster, apply_migrations, migration_files

TABLES = [
    "organisations",
    "projects",
    "api_keys",
    "provider_keys",
    "usage_logs",
    "budgets",
    "feedback",
    "cache_purges",
    "rate_limits",
    "policy_audit",
]

# Everything a migration can create, one line per object, so two snapshots compare as lists.
SNAPSHOT_SQL = """
SELECT concat_ws(' ', 'column', table_name, column_name, data_type, column_default)
    FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL SELECT concat_ws(' ', 'index', indexname, indexdef)
    FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT concat_ws(' ', 'policy', tablename, policyname, qual)
    FROM pg_policies WHERE schemaname = 'public'
UNION ALL SELECT concat_ws(' ', 'check', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL SELECT concat_ws(' ', 'function', oid::regprocedure)
    FROM pg_proc WHERE pronamespace = 'public'::regnamespace
UNION ALL SELECT concat_ws(' ', 'grant', grantee, table_name, privilege_type)
    FROM information_schema.role_table_grants WHERE table_schema = 'public'
ORDER BY 1
"""


async def snapshot(conn: asyncpg.Connection) -> list[str]:
    return [r[0] for r in await conn.fetch(SNAPSHOT_SQL)]


async def test_second_apply_is_a_no_op(pg: Any, pg_conn: asyncpg.Connection) -> None:
    before = await snapshot(pg_conn)
    assert await apply_migrations(pg.dsn) == []
    assert await snapshot(pg_conn) == before
    recorded = [
        r["name"] for r in await pg_conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
    ]
    assert recorded == [p.name for p in migration_files()]


async def test_every_file_is_idempotent_on_its_own(pg_conn: asyncpg.Connection) -> None:
    """Re-running each file by hand (outside the ledger) must not fail or change the schema."""
    before = await snapshot(pg_conn)
    tx = pg_conn.transaction()
    await tx.start()
    try:
        for path in migration_files():
            await pg_conn.execute(path.read_text(encoding="utf-8"))
        assert await snapshot(pg_conn) == before
    finally:
        await tx.rollback()


async def test_fresh_database_gets_every_migration_in_order(
    pg: Any, pg_conn: asyncpg.Connection
) -> None:
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    await pg_conn.execute(f'CREATE DATABASE "{name}"')
    dsn = pg.dsn.rsplit("/", 1)[0] + f"/{name}"
    try:
        assert await apply_migrations(dsn) == [p.name for p in migration_files()]
        assert await apply_migrations(dsn) == []
    finally:
        await pg_conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.parametrize("table", TABLES)
async def test_table_exists_with_row_level_security(
    pg_conn: asyncpg.Connection, table: str
) -> None:
    row = await pg_conn.fetchrow(
        "SELECT relrowsecurity, has_any_column_privilege('authenticated', oid, 'SELECT') AS readable,"
        " has_table_privilege('authenticated', oid, 'INSERT') AS writable,"
        " has_table_privilege('service_role', oid, 'INSERT') AS service_writes,"
        " has_table_privilege('anon', oid, 'SELECT') AS anon_reads"
        " FROM pg_class WHERE oid = to_regclass('public.' || $1)",
        table,
    )
    assert row is not None, f"table {table} missing"
    assert dict(row) == {
        "relrowsecurity": True,
        "readable": True,
        "writable": False,
        "service_writes": True,
        "anon_reads": False,
    }
    policies = await pg_conn.fetchval(
        "SELECT count(*) FROM pg_policies"
        " WHERE schemaname = 'public' AND tablename = $1 AND 'authenticated' = ANY(roles)",
        table,
    )
    assert policies >= 1


async def test_roles_exist_and_only_service_role_bypasses_rls(pg_conn: asyncpg.Connection) -> None:
    rows = await pg_conn.fetch(
        "SELECT rolname, rolbypassrls, rolcanlogin FROM pg_roles"
        " WHERE rolname IN ('anon', 'authenticated', 'service_role')"
        " ORDER BY rolname"
    )
    assert [tuple(r) for r in rows] == [
        ("anon", False, False),
        ("authenticated", False, False),
        ("service_role", True, False),
    ]


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("usage_logs", "project_id, created_at DESC"),
        ("usage_logs", "project_id, ((request_tags ->> 'feature'::text)), created_at DESC"),
        ("usage_logs", "project_id, session_id) WHERE (session_id IS NOT NULL"),
        ("api_keys", "key_hash"),
    ],
)
async def test_lookup_indexes_exist(pg_conn: asyncpg.Connection, table: str, columns: str) -> None:
    defs = [
        r[0]
        for r in await pg_conn.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", table)
    ]
    assert any(f"({columns})" in d for d in defs), defs


async def test_usage_logs_has_no_foreign_keys(pg_conn: asyncpg.Connection) -> None:
    count = await pg_conn.fetchval(
        "SELECT count(*) FROM pg_constraint"
        " WHERE conrelid = 'public.usage_logs'::regclass AND contype = 'f'"
    )
    assert count == 0


@pytest.mark.parametrize(
    ("fn", "signed_in_users"),
    [
        ("public.resolve_api_key(text)", False),
        # Membership changes are the origin's, made for an owner or admin (0034).
        ("public.org_member_add(uuid, uuid, text, text)", False),
        # Accounts the origin made, and their password hashes' fingerprints (0035).
        ("public.org_member_made(uuid, uuid, text)", False),
        ("public.org_member_password_of(uuid)", False),
        ("public.org_member_change(uuid, uuid, uuid, text)", False),
        ("public.org_member_actor(uuid, uuid)", False),
        # Reading who is in an organisation is every member's, with their own token.
        ("public.dash_members(uuid)", True),
    ],
)
async def test_functions_only_their_callers_may_execute(
    pg_conn: asyncpg.Connection, fn: str, signed_in_users: bool
) -> None:
    rights = {
        role: await pg_conn.fetchval("SELECT has_function_privilege($1, $2, 'EXECUTE')", role, fn)
        for role in ("anon", "authenticated", "service_role")
    }
    assert rights == {"anon": False, "authenticated": signed_in_users, "service_role": True}


BAD_ROWS = [
    ("usage_logs", {"tokens_in": -1}, "23514"),
    ("usage_logs", {"cost_total_cents": -0.5}, "23514"),
    ("usage_logs", {"task_type": None}, "23502"),
    ("budgets", {"period": "year"}, "23514"),
    ("budgets", {"action": "shout"}, "23514"),
    ("budgets", {"action": "alert"}, "23514"),
    ("budgets", {"tag_key": "feature"}, "23514"),
    ("feedback", {"rating": 0}, "23514"),
    ("cache_purges", {"scope": "everything"}, "23514"),
    ("api_keys", {"key_hash": "not-hex"}, "23514"),
    ("api_keys", {"prefix": None}, "23502"),
    ("provider_keys", {"ciphertext": None}, "23502"),
]


def valid_row(table: str, org: uuid.UUID, project: uuid.UUID) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {
        "usage_logs": {
            "request_id": uuid.uuid4().hex,
            "org_id": org,
            "project_id": project,
            "task_type": "simple",
            "model_used": "m",
            "provider": "p",
        },
        "budgets": {"project_id": project, "period": "day", "limit_cents": 100},
        "feedback": {"project_id": project, "request_id": "r", "rating": 1},
        "cache_purges": {"project_id": project, "actor": "me", "scope": "key"},
        "api_keys": {"project_id": project, "key_hash": uuid.uuid4().hex * 2, "prefix": "pk_"},
        "provider_keys": {"project_id": project, "provider": "openai", "ciphertext": "AAAA"},
    }
    return rows[table]


async def insert(conn: asyncpg.Connection, table: str, row: dict[str, Any]) -> asyncpg.Record:
    columns = ", ".join(row)
    values = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    return await conn.fetchrow(
        f"INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING *", *row.values()
    )


async def make_project(conn: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    org = await conn.fetchval("INSERT INTO organisations (name) VALUES ('o') RETURNING id")
    project = await conn.fetchval(
        "INSERT INTO projects (org_id, name) VALUES ($1, 'p') RETURNING id", org
    )
    return org, project


@pytest.mark.parametrize(
    ("table", "change", "sqlstate"), BAD_ROWS, ids=[f"{t}-{next(iter(c))}" for t, c, _ in BAD_ROWS]
)
async def test_constraints_reject_bad_rows(
    pg_conn: asyncpg.Connection, table: str, change: dict[str, Any], sqlstate: str
) -> None:
    org, project = await make_project(pg_conn)
    await insert(pg_conn, table, valid_row(table, org, project))  # the baseline row is accepted
    with pytest.raises(asyncpg.PostgresError) as err:
        await insert(pg_conn, table, {**valid_row(table, org, project), **change})
    assert err.value.sqlstate == sqlstate


async def test_provider_key_name_defaults_to_provider(pg_conn: asyncpg.Connection) -> None:
    _, project = await make_project(pg_conn)
    row = await insert(pg_conn, "provider_keys", valid_row("provider_keys", uuid.uuid4(), project))
    assert row["name"] == "openai"
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert(pg_conn, "provider_keys", valid_row("provider_keys", uuid.uuid4(), project))


async def test_usage_log_survives_deleted_project(pg_conn: asyncpg.Connection) -> None:
    org, project = await make_project(pg_conn)
    await pg_conn.execute("DELETE FROM organisations WHERE id = $1", org)
    row = await insert(pg_conn, "usage_logs", valid_row("usage_logs", org, project))
    assert row["project_id"] == project


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback only applies when running as root")
def test_cluster_falls_back_to_tmp_when_postgres_cannot_reach_the_dir(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    requested = private / "data"
    first, again = PostgresCluster(requested, 1), PostgresCluster(requested, 1)
    assert first.data_dir != requested
    assert first.data_dir.parent == Path(tempfile.gettempdir())
    assert first.data_dir == again.data_dir


async def test_migrate_cli_reports_nothing_left_to_apply(pg: Any) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra.local.postgres",
        "migrate",
        "--dsn",
        pg.dsn,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, _ = await proc.communicate()
    assert (proc.returncode, out.decode().strip()) == (0, "nothing to apply")


async def test_feedback_given_twice_before_0026_keeps_only_the_latest(
    pg: Any, pg_conn: asyncpg.Connection, tmp_path: Path
) -> None:
    name = f"dedupe_{uuid.uuid4().hex[:12]}"
    await pg_conn.execute(f'CREATE DATABASE "{name}"')
    dsn = pg.dsn.rsplit("/", 1)[0] + f"/{name}"
    before = tmp_path / "migrations"
    before.mkdir()
    for path in migration_files():
        if path.name < "0026":
            (before / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    # (request, thumbs, age): r1 was rated three times, the up rating last.
    ratings = [("r1", -1, "2 min"), ("r1", 1, "1 min"), ("r1", -1, "3 min"), ("r2", 1, "0")]
    try:
        await apply_migrations(dsn, before)
        conn = await asyncpg.connect(dsn)
        try:
            _, project = await make_project(conn)
            for request_id, rating, age in ratings:
                await conn.execute(
                    "INSERT INTO feedback (project_id, request_id, rating, created_at)"
                    " VALUES ($1, $2, $3, now() - $4::text::interval)",
                    *(project, request_id, rating, age),
                )
            assert "0026_feedback_one_per_request.sql" in await apply_migrations(dsn)
            kept = await conn.fetch("SELECT request_id, rating FROM feedback ORDER BY request_id")
            again = {"project_id": project, "request_id": "r2", "rating": -1}
            with pytest.raises(asyncpg.UniqueViolationError):
                await insert(conn, "feedback", again)
        finally:
            await conn.close()
    finally:
        await pg_conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    assert [tuple(r) for r in kept] == [("r1", 1), ("r2", 1)]
