"""Supabase Auth's admin API in the stand-in: the one call the dashboard makes with the service
key, creating a user for a teammate an owner or admin adds by email.

    POST /auth/v1/admin/users   {"email", "password"?, "email_confirm"?} -> the new user (200)

As in GoTrue (internal/api/admin.go, adminUserCreate, behind requireAdmin): no bearer token is
401 no_authorization; a token that does not verify is 403 bad_jwt; a valid token whose role is
not an admin role (a signed-in user's) is 403 not_admin; a taken email is 422 email_exists; no
email is 400 validation_failed; a password is judged as every new one is (gotrue_user.py:
too short is 422 weak_password). Without a password GoTrue makes a random one; the password is
stored hashed as every stand-in password is (infra/local/auth_users.py). Without
`email_confirm: true` the user is unconfirmed, and password sign-in refuses them until
confirmed, as hosted Supabase does with email confirmation on.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.local import jwt
from infra.local.auth_users import hash_password
from infra.local.gotrue import (
    API_VERSION,
    USER_COLUMNS,
    AuthError,
    auth_api,
    guarded,
    json_body,
    user_json,
)
from infra.local.gotrue_user import check_password_strength

# GoTrue's JWT.AdminRoles default: the service key's role, and the platform's own.
ADMIN_ROLES = frozenset({"service_role", "supabase_admin"})
DUPLICATE_EMAIL = "A user with this email address has already been registered"
# GoTrue checks the address with a parser, not a full RFC 5322 grammar; this is the same gist.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def admin_claims(request: Request, secret: str) -> dict[str, Any]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "no_authorization", "This endpoint requires a Bearer token")
    try:
        claims = jwt.decode(token.strip(), secret)
    except jwt.JWTError as exc:
        raise AuthError(403, "bad_jwt", f"invalid JWT: {exc}") from None
    if claims.get("role") not in ADMIN_ROLES:
        raise AuthError(403, "not_admin", "User not allowed")
    return claims


def _email_of(body: dict[str, Any]) -> str:
    email = body.get("email")
    if not isinstance(email, str) or not email.strip():
        raise AuthError(
            400, "validation_failed", "Cannot create a user without either an email or phone"
        )
    email = email.strip().lower()
    if not EMAIL.fullmatch(email) or len(email) > 255:
        raise AuthError(
            400, "validation_failed", "Unable to validate email address: invalid format"
        )
    return email


async def create_user(request: Request) -> Response:
    api = auth_api(request)
    admin_claims(request, api.secret)
    body = await json_body(request)
    email = _email_of(body)
    password = body.get("password")
    if isinstance(password, str) and password:
        check_password_strength(password)
    else:
        password = secrets.token_urlsafe(48)
    # Hashing off the event loop: scrypt takes tens of milliseconds by design.
    hashed = await asyncio.to_thread(hash_password, password)
    confirmed = body.get("email_confirm") is True
    async with api.db.privileged() as conn:
        try:
            row = await conn.fetchrow(
                "INSERT INTO auth.users (email, encrypted_password, email_confirmed_at)"
                " VALUES ($1, $2, CASE WHEN $3 THEN now() END)"
                f" RETURNING {USER_COLUMNS}",
                email,
                hashed,
                confirmed,
            )
        except asyncpg.UniqueViolationError:
            raise AuthError(422, "email_exists", DUPLICATE_EMAIL) from None
    return JSONResponse(user_json(row), headers=API_VERSION)


def admin_routes() -> list[Route]:
    return [Route("/admin/users", guarded(create_user), methods=["POST"])]
