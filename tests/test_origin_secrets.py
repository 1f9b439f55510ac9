"""A provider key's plaintext never appears in logs, API responses or database rows, even when
the provider echoes it back in every way it can (the simulator's `echo_key` fault)."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx

# Every table of ours, found at run time, so a table added later is searched too.
SCHEMAS = ("public", "auth")


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


MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


async def test_an_echoed_key_reaches_no_client_log_or_row(
    origin_server, make_project, sim, simulator_server
):
    project = await make_project("echoed-secrets")
    plaintexts = {p: f"sk-{p}-" + secrets.token_hex(20) for p in MODELS}
    admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
    caller = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"}
    seen: list[str] = []
    sim_log = simulator_server.log_path
    sim_log_start = sim_log.stat().st_size
    calls = 0
    async with httpx.AsyncClient(base_url=origin_server.url, timeout=30) as client:
        for provider, plaintext in plaintexts.items():
            added = await client.post(
                f"/admin/v1/projects/{project.id}/provider_keys",
                json={"provider": provider, "api_key": plaintext},
                headers=admin,
            )
            assert added.status_code == 201
        for provider, model in MODELS.items():
            for form in ("json", "text", "stream"):
                for status in (400, 401, 500):
                    for stream in (False, True):
                        fault = {"kind": "echo_key", "status": status, "form": form}
                        sim.script(fault, provider=provider, times=3)
                        chat = {
                            "model": model,
                            "stream": stream,
                            "messages": [{"role": "user", "content": "hi"}],
                        }
                        # Pinned strictly: a failover would hide what this provider sent back.
                        headers = {
                            **caller,
                            "X-Prism-Model-Prefer": model,
                            "X-Prism-Fallback": "none",
                        }
                        async with client.stream(
                            "POST", "/v1/chat/completions", json=chat, headers=headers
                        ) as response:
                            body = (await response.aread()).decode(errors="replace")
                        seen.append(f"{response.status_code} {dict(response.headers)} {body}")
                        assert response.status_code >= 400 or '"error"' in body
                        calls += 1
                        sim.reset()

    # The faults were live: the keys were sent, and the simulator echoed them in its log.
    echoed = sim_log.read_bytes()[sim_log_start:].decode(errors="replace")
    assert all(plaintext in echoed for plaintext in plaintexts.values())
    # Upstream error bodies are summarised, never relayed: the text form's words don't arrive.
    assert not [text for text in seen if "bad key:" in text]
    leaks = [(p, text) for text in seen for p, key in plaintexts.items() if key in text]
    assert not leaks, leaks[:3]
    dump = await database_dump(origin_server.dsn)
    assert not [p for p, key in plaintexts.items() if key in dump]
    await origin_server.rows(project.id, expect=calls)
    log = origin_server.service.log_path.read_text(errors="replace")
    assert not [p for p, key in plaintexts.items() if key in log]


async def test_a_key_echoed_past_the_message_limit_leaves_none_of_itself(
    origin_server, make_project, sim
):
    # Upstream messages are cut at 500 characters; cut inside an echoed key, what was left of
    # it was no longer the whole key, and went out. Not key-shaped, so no pattern catches it.
    project = await make_project("cut-secret")
    plaintext = "".join(f"pw{i:03d}.{secrets.token_hex(2)}." for i in range(60))[:480]
    admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
    chat = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}
    caller = {
        "Authorization": f"Bearer {project.api_key}",
        "X-Prism-Fallback": "none",
        "X-Prism-Cache": "no-store",
    }
    async with httpx.AsyncClient(base_url=origin_server.url, timeout=30) as client:
        body = {"provider": "anthropic", "api_key": plaintext}
        added = await client.post(
            f"/admin/v1/projects/{project.id}/provider_keys", json=body, headers=admin
        )
        assert added.status_code == 201
        sim.script({"kind": "echo_key", "status": 400, "form": "json"}, provider="anthropic")
        answer = await client.post("/v1/chat/completions", json=chat, headers=caller)
        sim.reset()
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert "Incorrect API key provided" in message  # the echo did come back, summarised
    assert plaintext[:10] not in message and plaintext[:4] not in message


async def database_dump(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any($1::text[]) and table_type = 'BASE TABLE'",
            list(SCHEMAS),
        )
        assert any(t["table_name"] == "provider_keys" for t in tables)
        parts = []
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            rows = await conn.fetch(f"select row_to_json(t)::text as j from {name} t")
            parts.extend(r["j"] for r in rows)
        return "\n".join(parts)
    finally:
        await conn.close()
