"""Supabase Auth's users as the local stand-in keeps them: rows of auth.users, passwords hashed.

Hosted Supabase hashes with bcrypt; the stand-in uses the standard library's scrypt, stored as
`scrypt$n$r$p$salt$hash` in the same column, so no plain password ever reaches the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import asyncpg

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """True only for a password matching a well-formed stored hash."""
    parts = (stored or "").split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


async def create_user(conn: asyncpg.Connection, email: str, password: str) -> str:
    """A confirmed email user (or the existing one, with this password set); returns its id."""
    user_id = await conn.fetchval(
        "INSERT INTO auth.users (email, encrypted_password) VALUES (lower($1), $2)"
        " ON CONFLICT (email) DO UPDATE SET encrypted_password = EXCLUDED.encrypted_password,"
        " updated_at = now() RETURNING id",
        email,
        hash_password(password),
    )
    return str(user_id)


async def add_member(
    conn: asyncpg.Connection, org_id: str, user_id: str, role: str = "member"
) -> None:
    await conn.execute(
        "INSERT INTO public.org_members (org_id, user_id, role) VALUES ($1, $2, $3)"
        " ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        org_id,
        user_id,
        role,
    )
