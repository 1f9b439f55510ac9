"""A signed-in user changing their own password in the Supabase Auth stand-in, as GoTrue's
UserUpdate does it (internal/api/user.go) for the official client's `auth.update_user`:

    PUT /auth/v1/user   bearer access token, {"password"} -> the updated user (200)

The token is checked as for GET /auth/v1/user: none is 401 no_authorization, one that does not
verify is 403 bad_jwt, one whose session is signed out is 403 session_not_found. The password
is judged as GoTrue judges every new one (check_password_strength, used by the admin API's user
creation too): over 72 bytes is 400 validation_failed, under GoTrue's default minimum of 6 is
422 weak_password with the reasons the client reads; the password the user already has is 422
same_password. A change replaces the hash and `updated_at` and signs out every other session of
the user (GoTrue's LogoutAllExceptMe): whoever knew the old password loses what it got them,
while the session that made the change lives on. Only the password is updated here; the
stand-in has no email or phone change flows, so a body asking for one is refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.local.auth_users import hash_password, verify_password
from infra.local.gotrue import (
    API_VERSION,
    USER_COLUMNS,
    AuthApi,
    AuthError,
    auth_api,
    guarded,
    json_body,
    user_json,
)

# GoTrue's defaults: GOTRUE_PASSWORD_MIN_LENGTH, and bcrypt's limit, which GoTrue enforces
# whatever hash it uses. Both count bytes, as Go's len() does.
MIN_PASSWORD_BYTES = 6
MAX_PASSWORD_BYTES = 72


def check_password_strength(password: str) -> None:
    size = len(password.encode("utf-8"))
    if size > MAX_PASSWORD_BYTES:
        raise AuthError(
            400,
            "validation_failed",
            f"Password cannot be longer than {MAX_PASSWORD_BYTES} characters",
        )
    if size < MIN_PASSWORD_BYTES:
        raise AuthError(
            422,
            "weak_password",
            f"Password should be at least {MIN_PASSWORD_BYTES} characters.",
            {"weak_password": {"reasons": ["length"]}},
        )


async def change_password(api: AuthApi, claims: dict[str, Any], password: str) -> dict[str, Any]:
    # Hashing off the event loop: scrypt takes tens of milliseconds by design.
    hashed = await asyncio.to_thread(hash_password, password)
    async with api.db.privileged() as conn:  # one transaction: the change and the sign-outs
        user = await api.live_user(conn, claims)
        stored = await conn.fetchval(
            "SELECT encrypted_password FROM auth.users WHERE id = $1 FOR UPDATE", user["id"]
        )
        if await asyncio.to_thread(verify_password, password, stored):
            raise AuthError(
                422, "same_password", "New password should be different from the old password."
            )
        row = await conn.fetchrow(
            "UPDATE auth.users SET encrypted_password = $2, updated_at = now() WHERE id = $1"
            f" RETURNING {USER_COLUMNS}",
            user["id"],
            hashed,
        )
        await api.revoke(conn, claims, "others")
    return user_json(row)


async def update_user(request: Request) -> Response:
    api = auth_api(request)
    claims = api.claims(request)
    body = await json_body(request)
    unsupported = sorted(set(body) - {"password"})
    if unsupported:
        raise AuthError(
            400,
            "validation_failed",
            f"The Auth stand-in updates only the password, not {', '.join(unsupported)}",
        )
    password = body.get("password")
    if password is None:  # nothing to change: GoTrue answers with the user as it is
        return JSONResponse(await api.user(claims), headers=API_VERSION)
    if not isinstance(password, str):
        raise AuthError(400, "bad_json", "password must be a string")
    check_password_strength(password)
    return JSONResponse(await change_password(api, claims, password), headers=API_VERSION)


def user_routes() -> list[Route]:
    return [Route("/user", guarded(update_user), methods=["PUT"])]
