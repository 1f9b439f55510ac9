"""Creating a project with a gateway API key straight in Postgres, for the local stack,
the tests and the benchmarks (production goes through `prism projects create`)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from shared.apikeys import display_prefix, generate_api_key, hash_api_key


@dataclass(frozen=True)
class Project:
    id: str
    org_id: str
    api_key: str


async def insert_project(conn: asyncpg.Connection, name: str, key: str | None = None) -> Project:
    """An organisation, a project and an API key (stored as its hash); returns the plain key."""
    key = key or generate_api_key()
    org_id = await conn.fetchval("insert into organisations (name) values ($1) returning id", name)
    project_id = await conn.fetchval(
        "insert into projects (org_id, name) values ($1, $2) returning id", org_id, name
    )
    await insert_api_key(conn, str(project_id), key, name)
    return Project(str(project_id), str(org_id), key)


async def insert_api_key(conn: asyncpg.Connection, project_id: str, key: str, name: str) -> None:
    await conn.execute(
        "insert into api_keys (project_id, key_hash, prefix, name) values ($1, $2, $3, $4) "
        "on conflict (key_hash) do nothing",
        project_id,
        hash_api_key(key),
        display_prefix(key),
        name,
    )


async def create_project(dsn: str, name: str = "test") -> Project:
    conn = await asyncpg.connect(dsn)
    try:
        return await insert_project(conn, name)
    finally:
        await conn.close()
