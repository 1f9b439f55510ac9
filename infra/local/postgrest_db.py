"""The stand-in's database access: a lazily (re)connected pool and per-request role transactions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from infra.local.postgrest_errors import CONNECTION_ERRORS, is_connection_error, unavailable
from infra.local.postgrest_schema import Schema, load_schema

CONNECT_TIMEOUT = 5.0
# PostgREST's own per-request setup: the role to act as, the JWT claims RLS policies read, and
# the request's headers (names lower-cased), which triggers may read as PostgREST's do.
SETUP_SQL = (
    "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true),"
    " set_config('request.method', $3, true), set_config('request.path', $4, true),"
    " set_config('request.headers', $5, true)"
)


class Database:
    """Never fails to construct: the pool is created on first use, so the stand-in can start (and
    keep answering 503) while Postgres is down, and picks the database up again when it returns."""

    def __init__(self, dsn: str, max_size: int = 10) -> None:
        self._dsn = dsn
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    # min_size=0: creating the pool opens no connection, so it cannot fail
                    # while Postgres is down.
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=0,
                        max_size=self._max_size,
                        timeout=CONNECT_TIMEOUT,
                        max_inactive_connection_lifetime=60.0,
                    )
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _forget_connections(self) -> None:
        # After a restart every pooled connection is dead: expire them all at once rather than
        # failing one request per stale connection.
        if self._pool is not None:
            await self._pool.expire_connections()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            pool = await self._get_pool()
            async with pool.acquire(timeout=CONNECT_TIMEOUT) as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            if not is_connection_error(exc):
                raise
            await self._forget_connections()
            raise unavailable(exc) from exc

    async def _begin(self, conn: asyncpg.Connection, setup: tuple[str, ...]) -> Any:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(SETUP_SQL, *setup)
        except BaseException:
            await tx.rollback()
            raise
        return tx

    @asynccontextmanager
    async def transaction(
        self,
        role: str,
        claims: dict[str, Any],
        method: str = "GET",
        path: str = "/",
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a transaction acting as `role`, with `claims` visible to RLS policies."""
        setup = (role, json.dumps(claims), method, path, json.dumps(headers or {}))
        async with self._connection() as conn:
            tx = await self._begin(conn, setup)
            try:
                yield conn
            except BaseException:
                if not conn.is_closed():
                    await tx.rollback()
                raise
            await tx.commit()

    @asynccontextmanager
    async def privileged(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a transaction as the stand-in's own database user, for the auth API."""
        async with self._connection() as conn, conn.transaction():
            yield conn

    async def load_schema(self) -> Schema:
        async with self._connection() as conn:
            return await load_schema(conn)
