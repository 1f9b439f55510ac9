"""The admin API over ASGI, backed by the real stand-in and Postgres."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from origin.admin.api import admin_routes
from origin.gateway.errors import EXCEPTION_HANDLERS
from origin.settings import Secret, Settings
from origin.store import Store
from origin.tenancy.crypto import KeyBox, provider_key_context
from tests.test_store import usage_row

TOKEN = "admin-" + "t" * 24
PLAINTEXT = "sk-provider-PLAINTEXT-0123456789"
BOX = KeyBox(os.urandom(32))
# A local model server this operator chose to allow (loopback is refused otherwise).
SETTINGS = Settings(admin_token=Secret(TOKEN), upstream_allowlist=("127.0.0.1:11434",))


def client_for(app: Starlette, token: str | None = TOKEN) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://admin", headers=headers
    )


@pytest.fixture
async def admin(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        exception_handlers=EXCEPTION_HANDLERS,
        routes=admin_routes(store, BOX, SETTINGS),
    )
    async with client_for(app) as client:
        yield client


async def new_project(admin: httpx.AsyncClient, name: str = "proj") -> dict[str, Any]:
    res = await admin.post("/admin/v1/projects", json={"name": name})
    assert res.status_code == 201, res.text
    return dict(res.json())


def assert_error(res: httpx.Response, status: int, code: str) -> None:
    assert res.status_code == status, res.text
    error = res.json()["error"]
    assert error["code"] == code and error["message"] and "type" in error


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "invalid_admin_token"),
        ({"Authorization": "Bearer wrong"}, 401, "invalid_admin_token"),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "invalid_admin_token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, 401, "invalid_admin_token"),
    ],
)
async def test_admin_token_is_required(
    store: Store, headers: dict[str, str], status: int, code: str
) -> None:
    app = Starlette(
        exception_handlers=EXCEPTION_HANDLERS,
        routes=admin_routes(store, BOX, Settings(admin_token=Secret(TOKEN))),
    )
    async with client_for(app, None) as client:
        assert_error(await client.get("/admin/v1/projects", headers=headers), status, code)


async def test_admin_api_is_off_without_a_token(store: Store) -> None:
    app = Starlette(
        exception_handlers=EXCEPTION_HANDLERS, routes=admin_routes(store, BOX, Settings())
    )
    async with client_for(app, "") as client:
        res = await client.get("/admin/v1/projects", headers={"Authorization": "Bearer "})
    assert_error(res, 403, "admin_disabled")


async def test_dependencies_come_from_app_state(store: Store) -> None:
    app = Starlette(exception_handlers=EXCEPTION_HANDLERS, routes=admin_routes())
    app.state.store, app.state.keybox = store, BOX
    app.state.settings = Settings(admin_token=Secret(TOKEN))
    async with client_for(app) as client:
        created = await new_project(client, "from-state")
        listed = (await client.get("/admin/v1/projects")).json()
    assert created["id"] in {p["id"] for p in listed["data"]}


async def test_projects(admin: httpx.AsyncClient) -> None:
    first = await new_project(admin, "one")
    res = await admin.post("/admin/v1/projects", json={"name": " two ", "org_id": first["org_id"]})
    second = res.json()
    assert res.status_code == 201 and second["name"] == "two"
    assert second["org_id"] == first["org_id"] and second["object"] == "project"
    listed = (await admin.get("/admin/v1/projects")).json()
    assert listed["object"] == "list"
    assert {first["id"], second["id"]} <= {p["id"] for p in listed["data"]}


@pytest.mark.parametrize(
    ("content", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b"{}", "name"),
        (b'{"name": ""}', "name"),
        (b'{"name": 42}', "name"),
        (b'{"name": "' + b"x" * 201 + b'"}', "name"),
        (b'{"name": "a\\u0000b"}', "name"),
        (b'{"name": "ok", "org_id": "nope"}', "org_id"),
    ],
)
async def test_project_validation(
    admin: httpx.AsyncClient, content: bytes, param: str | None
) -> None:
    res = await admin.post(
        "/admin/v1/projects", content=content, headers={"Content-Type": "application/json"}
    )
    assert_error(res, 400, "invalid_request")
    assert res.json()["error"]["param"] == param


async def test_unknown_org_is_404(admin: httpx.AsyncClient) -> None:
    res = await admin.post("/admin/v1/projects", json={"name": "x", "org_id": str(uuid.uuid4())})
    assert_error(res, 404, "not_found")


async def test_api_keys(admin: httpx.AsyncClient, pg_conn: asyncpg.Connection) -> None:
    project = await new_project(admin)
    res = await admin.post(f"/admin/v1/projects/{project['id']}/api_keys", json={"name": "ci"})
    assert res.status_code == 201
    created = res.json()
    key = created["key"]
    assert key.startswith(created["prefix"]) and created["name"] == "ci"

    listed = await admin.get(f"/admin/v1/projects/{project['id']}/api_keys")
    assert [k["id"] for k in listed.json()["data"]] == [created["id"]]
    assert key not in listed.text and "key_hash" not in listed.text
    row = await pg_conn.fetchrow("select * from api_keys where id = $1", uuid.UUID(created["id"]))
    assert key not in str(dict(row))

    revoked = await admin.delete(f"/admin/v1/api_keys/{created['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_error(await admin.delete(f"/admin/v1/api_keys/{uuid.uuid4()}"), 404, "not_found")
    assert_error(await admin.delete("/admin/v1/api_keys/junk"), 404, "not_found")


@pytest.mark.parametrize("project_id", [str(uuid.uuid4()), "junk"])
async def test_keys_for_unknown_projects_are_404(admin: httpx.AsyncClient, project_id: str) -> None:
    base = f"/admin/v1/projects/{project_id}"
    assert_error(await admin.post(f"{base}/api_keys", json={}), 404, "not_found")
    assert_error(await admin.get(f"{base}/api_keys"), 404, "not_found")
    assert_error(await admin.get(f"{base}/provider_keys"), 404, "not_found")
    body = {"provider": "openai", "api_key": PLAINTEXT}
    assert_error(await admin.post(f"{base}/provider_keys", json=body), 404, "not_found")


async def test_provider_keys_are_encrypted_and_never_echoed(
    admin: httpx.AsyncClient, store: Store, pg_conn: asyncpg.Connection
) -> None:
    project = await new_project(admin)
    base = f"/admin/v1/projects/{project['id']}/provider_keys"
    res = await admin.post(base, json={"provider": "openai", "api_key": PLAINTEXT})
    assert res.status_code == 201 and PLAINTEXT not in res.text
    assert res.json()["name"] == "openai" and "api_key" not in res.json()
    custom = await admin.post(
        base,
        json={
            "provider": "openai",
            "name": "local",
            "base_url": "http://127.0.0.1:11434/v1/",
            "api_key": "sk-local",
        },
    )
    assert custom.json()["base_url"] == "http://127.0.0.1:11434/v1"

    listed = await admin.get(base)
    assert [k["name"] for k in listed.json()["data"]] == ["local", "openai"]
    assert PLAINTEXT not in listed.text and "ciphertext" not in listed.text

    rows = await pg_conn.fetch(
        "select * from provider_keys where project_id = $1", uuid.UUID(project["id"])
    )
    assert all(PLAINTEXT not in str(dict(r)) for r in rows)
    sealed = {k.name: k.ciphertext for k in await store.provider_keys(project["id"])}
    context = provider_key_context(project["id"], "openai", "openai", None)
    assert BOX.decrypt(sealed["openai"], context).reveal() == PLAINTEXT

    dup = await admin.post(base, json={"provider": "openai", "api_key": PLAINTEXT})
    assert_error(dup, 409, "conflict")
    assert PLAINTEXT not in dup.text
    # Said in the API's words, naming the key, not in the database's (its constraint's name).
    assert "'openai' already exists" in dup.json()["error"]["message"]
    assert "constraint" not in dup.text and dup.json()["error"]["param"] == "name"
    assert (await admin.delete(f"{base}/local")).status_code == 200
    assert_error(await admin.delete(f"{base}/local"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"api_key": PLAINTEXT}, "provider"),
        ({"provider": "open ai", "api_key": PLAINTEXT}, "provider"),
        # a provider Prism has no URL for, and none given: the key could never be called
        ({"provider": "ollama", "api_key": PLAINTEXT}, "provider"),
        ({"provider": "openai"}, "api_key"),
        ({"provider": "openai", "api_key": ""}, "api_key"),
        ({"provider": "openai", "api_key": PLAINTEXT, "name": "../x"}, "name"),
        ({"provider": "openai", "api_key": PLAINTEXT, "base_url": "ftp://x"}, "base_url"),
        ({"provider": "openai", "api_key": PLAINTEXT, "base_url": "http://"}, "base_url"),
    ],
)
async def test_provider_key_validation(
    admin: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    project = await new_project(admin)
    res = await admin.post(f"/admin/v1/projects/{project['id']}/provider_keys", json=body)
    assert_error(res, 400, "invalid_request")
    assert res.json()["error"]["param"] == param and PLAINTEXT not in res.text


async def test_provider_keys_need_a_master_key(store: Store) -> None:
    app = Starlette(
        exception_handlers=EXCEPTION_HANDLERS,
        routes=admin_routes(store, None, Settings(admin_token=Secret(TOKEN))),
    )
    async with client_for(app) as client:
        project = await new_project(client)
        res = await client.post(
            f"/admin/v1/projects/{project['id']}/provider_keys",
            json={"provider": "openai", "api_key": PLAINTEXT},
        )
    assert_error(res, 503, "not_configured")


async def test_usage(admin: httpx.AsyncClient, store: Store) -> None:
    project = await new_project(admin)
    rows = [
        usage_row(project["id"], project["org_id"], request_tags={"feature": f"f{i}"})
        for i in range(3)
    ]
    await store.insert_usage([r.to_json() for r in rows])
    res = await admin.get(
        "/admin/v1/usage", params={"project_id": project["id"], "tag": "feature=f1"}
    )
    assert [r["request_id"] for r in res.json()["data"]] == [rows[1].request_id]
    res = await admin.get(
        "/admin/v1/usage", params={"project_id": project["id"], "limit": "2", "since": "2020-01-01"}
    )
    assert len(res.json()["data"]) == 2


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"tag": "nokey"}, "tag"),
        ({"tag": "a b=c"}, "tag"),
        ({"limit": "x"}, "limit"),
        ({"project_id": "x"}, "project_id"),
        ({"since": "yesterday"}, "since"),
    ],
)
async def test_usage_validation(
    admin: httpx.AsyncClient, params: dict[str, str], param: str
) -> None:
    res = await admin.get("/admin/v1/usage", params=params)
    assert_error(res, 400, "invalid_request")
    assert res.json()["error"]["param"] == param


async def test_database_down_is_503(admin: httpx.AsyncClient, pg: Any) -> None:
    async with pg.outage():
        res = await admin.get("/admin/v1/projects")
    assert_error(res, 503, "upstream_unavailable")
