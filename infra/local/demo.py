"""The local stack's secrets and its demo project, created once and reused on later runs."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

import asyncpg

from infra.local.auth_users import add_member, create_user
from infra.local.projects import insert_api_key, insert_project
from shared.apikeys import generate_api_key


def load_secrets(path: Path) -> dict[str, str]:
    """Local-only secrets, generated on first run and kept (mode 0600) under .prism/."""
    if path.exists():
        return dict(json.loads(path.read_text()))
    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "master_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "upstash_token": secrets.token_urlsafe(24),
        "admin_token": secrets.token_urlsafe(24),
    }
    _write_private(path, values)
    return values


async def ensure_demo_project(
    dsn: str, state_path: Path, provider_keys: dict[str, str], master_key: str
) -> str:
    """The demo project's API key: PRISM_DEV_API_KEY when set, else the one made on first run."""
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    key = os.environ.get("PRISM_DEV_API_KEY") or state.get("api_key") or generate_api_key()
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            project_id = state.get("project_id")
            exists = project_id and await conn.fetchval(
                "select 1 from projects where id = $1", project_id
            )
            if exists:
                await insert_api_key(conn, project_id, key, "demo")
            else:
                project_id = (await insert_project(conn, "demo", key)).id
            await _sync_provider_keys(conn, project_id, provider_keys, master_key)
    finally:
        await conn.close()
    _write_private(state_path, {"project_id": project_id, "api_key": key})
    return key


async def _sync_provider_keys(
    conn: asyncpg.Connection, project_id: str, provider_keys: dict[str, str], master_key: str
) -> None:
    from origin.tenancy.crypto import KeyBox, master_key_from, provider_key_context

    box = KeyBox(master_key_from(master_key))
    for provider, plaintext in provider_keys.items():
        # Sealed for the provider's own URL, as the row says: see origin/tenancy/crypto.py.
        ciphertext = box.encrypt(
            plaintext, provider_key_context(project_id, provider, provider, None)
        )
        await conn.execute(
            "insert into provider_keys (project_id, provider, name, base_url, ciphertext) values "
            "($1, $2, $2, null, $3) on conflict (project_id, name) do update set "
            "provider = excluded.provider, base_url = null, ciphertext = excluded.ciphertext",
            project_id,
            provider,
            ciphertext,
        )


async def ensure_demo_user(dsn: str, demo_path: Path, state_path: Path) -> tuple[str, str]:
    """A dashboard user who owns the demo project's organisation: (email, password), from
    PRISM_DEV_DASHBOARD_EMAIL / PRISM_DEV_DASHBOARD_PASSWORD when set, else made on first run."""
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    email = os.environ.get("PRISM_DEV_DASHBOARD_EMAIL") or state.get("email") or "demo@prism.local"
    password = (
        os.environ.get("PRISM_DEV_DASHBOARD_PASSWORD")
        or state.get("password")
        or secrets.token_urlsafe(12)
    )
    project_id = json.loads(demo_path.read_text())["project_id"]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            org_id = await conn.fetchval("select org_id from projects where id = $1", project_id)
            user_id = await create_user(conn, email, password)
            await add_member(conn, str(org_id), user_id, "owner")
    finally:
        await conn.close()
    _write_private(state_path, {"email": email, "password": password})
    return email, password


def _write_private(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle, indent=2)
