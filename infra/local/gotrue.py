"""A Supabase Auth (GoTrue) stand-in: the email + password subset the dashboard and the official
`supabase` client use, served at /auth/v1 next to the PostgREST stand-in, as Supabase does.

    POST /auth/v1/token?grant_type=password       email + password -> session
    POST /auth/v1/token?grant_type=refresh_token  refresh token -> new session (rotated)
    GET  /auth/v1/user                            the user of a live session's access token
    PUT  /auth/v1/user                            that user changes their password (gotrue_user.py)
    POST /auth/v1/logout?scope=global|local|others
    POST /auth/v1/admin/users                     service key: create a user (gotrue_admin.py)

Users live in auth.users (see infra/local/auth_users.py); refresh tokens in auth.refresh_tokens,
stored as SHA-256 hashes. Access tokens are HS256 JWTs signed with the project's JWT secret, as
Supabase signs them, so the PostgREST stand-in accepts them and RLS sees `sub` as auth.uid().
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.local import jwt
from infra.local.auth_users import verify_password
from infra.local.postgrest_auth import check_apikey
from infra.local.postgrest_db import Database
from infra.local.postgrest_errors import PgrstError, is_connection_error

ACCESS_TOKEN_LIFETIME_S = 3600
API_VERSION = {"X-Supabase-Api-Version": "2024-01-01"}
USER_COLUMNS = "id, aud, role, email, email_confirmed_at, last_sign_in_at, created_at, updated_at"


class AuthError(Exception):
    def __init__(
        self, status: int, error_code: str, message: str, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message
        self.extra = extra or {}  # fields some errors add, e.g. weak_password's reasons

    def response(self) -> JSONResponse:
        body = {"code": self.status, "error_code": self.error_code, "msg": self.message}
        body.update(self.extra)
        return JSONResponse(body, status_code=self.status, headers=API_VERSION)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def user_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "aud": row["aud"] or "authenticated",
        "role": row["role"] or "authenticated",
        "email": row["email"],
        "phone": "",
        "email_confirmed_at": _iso(row["email_confirmed_at"]),
        "confirmed_at": _iso(row["email_confirmed_at"]),
        "last_sign_in_at": _iso(row["last_sign_in_at"]),
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "identities": [],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "is_anonymous": False,
    }


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AuthApi:
    def __init__(self, db: Database, jwt_secret: str) -> None:
        self.db, self.secret = db, jwt_secret

    async def _session(
        self, conn: asyncpg.Connection, user: asyncpg.Record, session_id: str, base: str
    ) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(24)
        await conn.execute(
            "INSERT INTO auth.refresh_tokens (token, user_id, session_id) VALUES ($1, $2, $3)",
            _token_hash(refresh),
            str(user["id"]),
            uuid.UUID(session_id),
        )
        now = int(time.time())
        claims = {
            "aud": "authenticated",
            "iss": f"{base}/auth/v1",
            "sub": str(user["id"]),
            "email": user["email"],
            "phone": "",
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}],
            "session_id": session_id,
            "is_anonymous": False,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "iat": now,
            "exp": now + ACCESS_TOKEN_LIFETIME_S,
        }
        return {
            "access_token": jwt.encode(claims, self.secret),
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME_S,
            "expires_at": now + ACCESS_TOKEN_LIFETIME_S,
            "refresh_token": refresh,
            "user": user_json(user),
        }

    async def password_grant(self, body: dict[str, Any], base: str) -> dict[str, Any]:
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
            raise AuthError(400, "validation_failed", "missing email or password")
        async with self.db.privileged() as conn:
            user = await conn.fetchrow(
                f"SELECT {USER_COLUMNS}, encrypted_password FROM auth.users WHERE email = lower($1)",
                email.strip(),
            )
            stored = user["encrypted_password"] if user else None
            # Hashing off the event loop: scrypt takes tens of milliseconds by design.
            if user is None or not await asyncio.to_thread(verify_password, password, stored):
                raise AuthError(400, "invalid_credentials", "Invalid login credentials")
            if user["email_confirmed_at"] is None:
                raise AuthError(400, "email_not_confirmed", "Email not confirmed")
            user = await conn.fetchrow(
                f"UPDATE auth.users SET last_sign_in_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}",
                user["id"],
            )
            return await self._session(conn, user, str(uuid.uuid4()), base)

    async def refresh_grant(self, body: dict[str, Any], base: str) -> dict[str, Any]:
        token = body.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise AuthError(400, "validation_failed", "refresh_token required")
        async with self.db.privileged() as conn:
            row = await conn.fetchrow(
                "UPDATE auth.refresh_tokens SET revoked = true, updated_at = now()"
                " WHERE token = $1 AND NOT revoked RETURNING user_id, session_id",
                _token_hash(token),
            )
            if row is None:
                raise AuthError(400, "refresh_token_not_found", "Invalid Refresh Token")
            user = await conn.fetchrow(
                f"SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1::uuid", row["user_id"]
            )
            if user is None:
                raise AuthError(400, "user_not_found", "User not found")
            return await self._session(conn, user, str(row["session_id"]), base)

    def claims(self, request: Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "no_authorization", "This endpoint requires a Bearer token")
        try:
            claims = jwt.decode(token.strip(), self.secret)
        except jwt.JWTError as exc:
            raise AuthError(403, "bad_jwt", f"invalid JWT: {exc}") from None
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("session_id"), str):
            raise AuthError(403, "bad_jwt", "invalid claim: missing sub or session_id claim")
        return claims

    async def live_user(self, conn: asyncpg.Connection, claims: dict[str, Any]) -> asyncpg.Record:
        """The user of a verified token whose session is not signed out, as GoTrue requires of
        every call made with a user's token."""
        live = await conn.fetchval(
            "SELECT 1 FROM auth.refresh_tokens WHERE session_id = $1::uuid AND NOT revoked LIMIT 1",
            claims["session_id"],
        )
        if not live:
            raise AuthError(
                403, "session_not_found", "Session from session_id claim in JWT does not exist"
            )
        user = await conn.fetchrow(
            f"SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1::uuid", claims["sub"]
        )
        if user is None:
            raise AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
        return user

    async def user(self, claims: dict[str, Any]) -> dict[str, Any]:
        async with self.db.privileged() as conn:
            return user_json(await self.live_user(conn, claims))

    async def revoke(self, conn: asyncpg.Connection, claims: dict[str, Any], scope: str) -> None:
        """Signs out the token's user: everywhere (global), this session (local) or every
        other one (others)."""
        where = {
            "global": "user_id = $1",
            "local": "user_id = $1 AND session_id = $2::uuid",
            "others": "user_id = $1 AND session_id <> $2::uuid",
        }.get(scope)
        if where is None:
            raise AuthError(400, "validation_failed", "scope must be global, local or others")
        await conn.execute(
            f"UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE {where}",
            *((claims["sub"], claims["session_id"]) if scope != "global" else (claims["sub"],)),
        )

    async def logout(self, claims: dict[str, Any], scope: str) -> None:
        async with self.db.privileged() as conn:
            await self.revoke(conn, claims, scope)


def auth_api(request: Request) -> AuthApi:
    api: AuthApi = request.app.state.auth_api
    return api


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AuthError(400, "bad_json", "Could not parse request body as JSON") from None
    if not isinstance(body, dict):
        raise AuthError(400, "bad_json", "Request body must be a JSON object")
    return body


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def token(request: Request) -> Response:
    grant = request.query_params.get("grant_type")
    body = await json_body(request)
    if grant == "password":
        return JSONResponse(await auth_api(request).password_grant(body, _base_url(request)))
    if grant == "refresh_token":
        return JSONResponse(await auth_api(request).refresh_grant(body, _base_url(request)))
    raise AuthError(400, "unsupported_grant_type", "unsupported_grant_type")


async def user(request: Request) -> Response:
    api = auth_api(request)
    return JSONResponse(await api.user(api.claims(request)), headers=API_VERSION)


async def logout(request: Request) -> Response:
    api = auth_api(request)
    await api.logout(api.claims(request), request.query_params.get("scope", "global"))
    return Response(status_code=204, headers=API_VERSION)


def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
    async def run(request: Request) -> Response:
        try:
            check_apikey(request.headers, auth_api(request).secret)
            return await handler(request)
        except AuthError as exc:
            return exc.response()
        except PgrstError as exc:  # no apikey, or the database is down (503)
            code = "unavailable" if exc.status == 503 else "no_api_key"
            return AuthError(exc.status, code, exc.message).response()
        except (OSError, asyncpg.PostgresError) as exc:
            if is_connection_error(exc):
                return AuthError(503, "unavailable", "the database is unavailable").response()
            raise

    return run


def auth_routes() -> list[Route]:
    return [
        Route("/token", guarded(token), methods=["POST"]),
        Route("/user", guarded(user), methods=["GET"]),
        Route("/logout", guarded(logout), methods=["POST"]),
    ]
