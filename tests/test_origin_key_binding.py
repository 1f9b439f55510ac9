"""A stored provider key goes only where it was stored for: a row whose provider or base URL
is changed in Postgres no longer decrypts (and the key is never sent), version 1 rows are
re-sealed on first use, and the admin API refuses non-public base URLs unless allow-listed.
Real origin under Hypercorn, real Postgres, the simulator as every provider."""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from origin.tenancy.crypto import KeyBox, master_key_from, provider_key_context

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def admin_headers(origin: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {origin.env['PRISM_ADMIN_TOKEN']}"}


async def add_key(origin: Any, project_id: str, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=origin.url, timeout=30) as client:
        return await client.post(
            f"/admin/v1/projects/{project_id}/provider_keys",
            json=body,
            headers=admin_headers(origin),
        )


async def ask(origin: Any, project: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{origin.base_url}/chat/completions", json=CHAT, headers=headers)


async def execute(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def sent_anywhere(sim: Any, plaintext: str) -> bool:
    return any(plaintext in str(r["headers"]) for r in sim.requests())


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param("provider = 'groq'", id="provider"),
        pytest.param("base_url = 'https://collector.example/v1'", id="base-url"),
        pytest.param("provider = 'mistral', base_url = 'https://x.example/v1'", id="both"),
    ],
)
async def test_a_row_redirected_in_postgres_does_not_decrypt(
    origin_server, make_project, sim, tamper: str
) -> None:
    project = await make_project("redirected")
    plaintext = "sk-redirect-" + secrets.token_hex(16)
    assert (
        await add_key(origin_server, project.id, provider="openai", api_key=plaintext)
    ).status_code == 201
    other = await add_key(origin_server, project.id, provider="anthropic", api_key="sk-ant-other")
    assert other.status_code == 201
    # Someone with write access to the table points the stored key elsewhere.
    await execute(
        origin_server.dsn,
        f"update provider_keys set {tamper} where project_id = $1 and name = 'openai'",
        uuid.UUID(project.id),
    )
    await ask(origin_server, project)
    assert not sent_anywhere(sim, plaintext)
    log = origin_server.service.log_path.read_text(errors="replace")
    assert f"skipping provider key 'openai' of project {project.id}" in log


def legacy_token(master_key: str, plaintext: str, context: str) -> str:
    nonce = os.urandom(12)
    aad = b"prism/provider-key/v1:" + context.encode()
    sealed = AESGCM(master_key_from(master_key)).encrypt(nonce, plaintext.encode(), aad)
    return base64.b64encode(b"\x01" + nonce + sealed).decode()


async def test_a_version_1_row_is_used_once_and_re_sealed(origin_server, make_project, sim) -> None:
    project = await make_project("legacy")
    master = origin_server.env["PRISM_MASTER_KEY"]
    plaintext = "sk-legacy-" + secrets.token_hex(16)
    token = legacy_token(master, plaintext, f"{project.id}:openai")
    await execute(
        origin_server.dsn,
        "insert into provider_keys (project_id, provider, name, ciphertext) "
        "values ($1, 'openai', 'openai', $2)",
        uuid.UUID(project.id),
        token,
    )
    response = await ask(origin_server, project)
    assert response.status_code == 200, response.text
    assert sent_anywhere(sim, plaintext)  # still usable after the upgrade of the format

    (row,) = await execute(
        origin_server.dsn,
        "select provider, base_url, ciphertext from provider_keys where project_id = $1",
        uuid.UUID(project.id),
    )
    assert row["ciphertext"] != token and base64.b64decode(row["ciphertext"])[0] == 2
    context = provider_key_context(project.id, "openai", "openai", None)
    assert KeyBox(master_key_from(master)).decrypt(row["ciphertext"], context).reveal() == plaintext


REFUSED_URLS = [
    "http://127.0.0.1:8080/v1",
    "http://169.254.169.254/",
    "http://10.0.0.1/",
    "http://user:pw@llm.example.com/",
    "http://localhost:11434/v1",
    "http://[::1]/v1",
    "http://2130706433/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_non_public_base_urls_are_refused_when_added(
    origin_server, make_project, url
) -> None:
    project = await make_project("refused-url")
    response = await add_key(
        origin_server, project.id, provider="mine", api_key="sk-mine", base_url=url
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "base_url" and error["type"] == "invalid_request_error"
    rows = await execute(
        origin_server.dsn,
        "select 1 from provider_keys where project_id = $1",
        uuid.UUID(project.id),
    )
    assert rows == []


async def test_an_allow_listed_base_url_is_accepted(origin_server, make_project, sim) -> None:
    # PRISM_UPSTREAM_ALLOWLIST holds the simulator's URL (tests/fixtures/origin.py).
    project = await make_project("allowed-url")
    url = f"{sim.url}/p/mine/v1"
    response = await add_key(origin_server, project.id, provider="mine", api_key="k", base_url=url)
    assert response.status_code == 201, response.text


async def test_changing_where_a_key_goes_re_seals_it(origin_server, make_project) -> None:
    project = await make_project("re-seal")
    plaintext = "sk-move-" + secrets.token_hex(16)
    assert (
        await add_key(origin_server, project.id, provider="openai", name="main", api_key=plaintext)
    ).status_code == 201
    select = "select provider, base_url, ciphertext from provider_keys where project_id = $1"
    (before,) = await execute(origin_server.dsn, select, uuid.UUID(project.id))
    path = f"/admin/v1/projects/{project.id}/provider_keys/main"
    async with httpx.AsyncClient(base_url=origin_server.url, timeout=30) as client:
        refused = await client.patch(
            path, json={"base_url": "http://169.254.169.254/"}, headers=admin_headers(origin_server)
        )
        moved = await client.patch(
            path,
            json={"provider": "groq", "base_url": "https://groq-proxy.example/v1"},
            headers=admin_headers(origin_server),
        )
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "base_url"
    assert moved.status_code == 200, moved.text
    assert moved.json()["provider"] == "groq" and plaintext not in moved.text
    (after,) = await execute(origin_server.dsn, select, uuid.UUID(project.id))
    assert (after["provider"], after["base_url"]) == ("groq", "https://groq-proxy.example/v1")
    assert after["ciphertext"] != before["ciphertext"]
    box = KeyBox(master_key_from(origin_server.env["PRISM_MASTER_KEY"]))
    new = provider_key_context(project.id, "main", "groq", "https://groq-proxy.example/v1")
    assert box.decrypt(after["ciphertext"], new).reveal() == plaintext
