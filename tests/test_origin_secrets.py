"""A provider key's plaintext never appears in logs, API responses or database rows."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx

TABLES = (
    "organisations",
    "projects",
    "api_keys",
    "provider_keys",
    "usage_logs",
    "budgets",
    "feedback",
    "cache_purges",
)


async def test_provider_key_plaintext_stays_secret(origin_server, make_project, sim):
    project = await make_project("secrets")
    plaintext = "sk-live-" + secrets.token_hex(20)
    admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
    caller = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"}
    seen: list[str] = []

    async with httpx.AsyncClient(base_url=origin_server.url, timeout=30) as client:

        async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = await client.request(method, path, **kwargs)
            seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")
            return response

        added = await call(
            "POST",
            f"/admin/v1/projects/{project.id}/provider_keys",
            json={"provider": "openai", "api_key": plaintext},
            headers=admin,
        )
        assert added.status_code == 201
        await call("GET", f"/admin/v1/projects/{project.id}/provider_keys", headers=admin)
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        ok = await call("POST", "/v1/chat/completions", json=chat, headers=caller)
        assert ok.status_code == 200
        await call("POST", "/v1/chat/completions", json={**chat, "stream": True}, headers=caller)
        for status in (401, 400, 429, 500):  # provider errors, as they come back to the client
            sim.script({"kind": "status", "status": status}, provider="openai", times=3)
            await call("POST", "/v1/chat/completions", json=chat, headers=caller)
        await call("GET", "/v1/models", headers=caller)
        await call("GET", "/admin/v1/usage", params={"project_id": project.id}, headers=admin)

    # The provider really was called with the key: the secret is live, not merely unused.
    assert any(plaintext in str(r["headers"]) for r in sim.requests("openai"))
    assert not [text for text in seen if plaintext in text]
    assert plaintext not in await database_dump(origin_server.dsn)
    await origin_server.rows(project.id, expect=6)
    log = origin_server.service.log_path.read_text(errors="replace")
    assert plaintext not in log


async def database_dump(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        parts = []
        for table in TABLES:
            rows = await conn.fetch(f"select row_to_json(t)::text as j from {table} t")
            parts.extend(r["j"] for r in rows)
        return "\n".join(parts)
    finally:
        await conn.close()
