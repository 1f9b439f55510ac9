"""A PostgREST-compatible stand-in over real Postgres, mounted at /rest/v1 like Supabase's gateway,
with Supabase Auth's password sign-in at /auth/v1 (infra/local/gotrue.py).

No package ships a PostgREST server that runs offline, so the local stack serves the subset of its
HTTP contract the official clients use. Authorisation is real: each request runs in a transaction
as the JWT's role with the claims published for row-level security.

    python -m infra.local.postgrest --port 54321 --dsn postgresql://... --jwt-secret S
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from infra.local.gotrue import AuthApi, auth_routes
from infra.local.gotrue_admin import admin_routes
from infra.local.gotrue_user import user_routes
from infra.local.postgrest_auth import ANON_ROLE, Caller, authenticate
from infra.local.postgrest_db import Database
from infra.local.postgrest_errors import (
    PgrstError,
    from_postgres,
    is_connection_error,
    unavailable,
)
from infra.local.postgrest_handlers import handle_rpc, handle_table
from infra.local.postgrest_schema import SchemaCache
from infra.local.proc import JWT_SECRET_VARIABLE, required_secret, secret_option, serve_asgi

log = logging.getLogger(__name__)

Handler = Callable[[Request, Caller, Database, SchemaCache], Awaitable[Response]]


def _error_response(exc: BaseException, role: str) -> Response:
    """Every failure becomes PostgREST's JSON envelope; none escapes as a traceback page."""
    if isinstance(exc, PgrstError):
        return exc.response()
    if is_connection_error(exc):
        return unavailable(exc).response()
    if isinstance(exc, asyncpg.PostgresError):
        return from_postgres(exc, role).response()
    log.error("unexpected error in the PostgREST stand-in", exc_info=exc)
    return PgrstError(
        500, "PGRSTX00", "Internal server error", details=type(exc).__name__
    ).response()


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        role = ANON_ROLE
        try:
            caller = authenticate(request.headers, request.app.state.jwt_secret)
            role = caller.role
            return await handler(request, caller, request.app.state.db, request.app.state.schema)
        except Exception as exc:  # noqa: BLE001 - converted to an error response, never swallowed
            return _error_response(exc, role)

    return run


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing failures (unknown path, wrong method) in PostgREST's envelope, not plain text."""
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        return PgrstError(405, "PGRST117", f"Unsupported HTTP method: {request.method}").response()
    return PgrstError(
        404, "PGRST125", f"Invalid path specified in request URL: {request.url.path}"
    ).response()


def create_app(dsn: str, jwt_secret: str) -> Starlette:
    """The ASGI app. Postgres may be down at creation and at any time after: requests get 503."""
    db = Database(dsn)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await db.close()

    table_methods = ["GET", "HEAD", "POST", "PATCH", "DELETE"]
    routes = [
        Mount(
            "/rest/v1",
            routes=[
                Route("/rpc/{function}", endpoint(handle_rpc), methods=["GET", "HEAD", "POST"]),
                Route("/{table}", endpoint(handle_table), methods=table_methods),
            ],
        ),
        Mount("/auth/v1", routes=auth_routes() + user_routes() + admin_routes()),
    ]
    handlers = {404: _http_error, 405: _http_error}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.state.db = db
    app.state.schema = SchemaCache(db)
    app.state.jwt_secret = jwt_secret
    app.state.auth_api = AuthApi(db, jwt_secret)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.postgrest")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    secret_option(parser, "--jwt-secret", JWT_SECRET_VARIABLE)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    secret = required_secret(parser, args.jwt_secret, JWT_SECRET_VARIABLE)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve_asgi(create_app(args.dsn, secret), args.port, args.host))


if __name__ == "__main__":
    main()
