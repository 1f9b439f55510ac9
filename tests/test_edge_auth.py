"""Keys at the edge, in CPython against the real stand-ins: unknown keys refused before the
origin, key records cached in Upstash, and every case the edge cannot decide left to the origin."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from edge.auth import RECORD_TTL_S, apikey_key
from edge.context import Runtime
from edge.handler import handle
from edge.web import Request, read_body
from infra.local.proc import free_port
from shared.apikeys import hash_api_key
from tests.edge.httpx_client import HttpxClient, TaskBackground
from tests.fixtures.edge import EdgeDriver, chat


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("edge-auth")


@pytest.fixture
def env(edge_bindings: dict[str, str], edge_upstream: str) -> dict[str, str]:
    return {"ORIGIN_URL": edge_upstream, **edge_bindings}


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_api_key"),
        ("Basic dXNlcjpwYXNz", "invalid_api_key"),
        ("Bearer sk-not-a-prism-key", "invalid_api_key"),
        ("Bearer prism_sk_no-such-key", "invalid_api_key"),
    ],
)
async def test_bad_keys_are_refused_at_the_edge(
    http: HttpxClient, env: dict[str, str], origin_server: Any, authorization: str | None, code: str
) -> None:
    marker = uuid.uuid4().hex
    edge = EdgeDriver(http, env)
    headers = {"Authorization": authorization} if authorization else {}
    response = await edge.send(None, chat(marker), headers)
    error = json.loads(await read_body(response.body))["error"]
    assert (response.status, error["code"], error["type"]) == (401, code, "invalid_request_error")
    assert await edge.forwarded(marker) == []
    # The origin words the same refusal the same way: a client can't tell which tier said no.
    async with httpx.AsyncClient(timeout=30) as client:
        direct = await client.post(
            f"{origin_server.base_url}/chat/completions", json=chat(marker), headers=headers
        )
    assert (direct.status_code, direct.json()["error"]) == (401, error)
    # ... and both give the refusal a request id, the one a client quotes to find it in logs.
    assert direct.headers["x-prism-request-id"].startswith("req_")
    assert (response.header("x-prism-request-id") or "").startswith("req_")


async def test_a_provider_key_is_told_apart_from_a_malformed_header(
    http: HttpxClient, env: dict[str, str]
) -> None:
    edge = EdgeDriver(http, env)
    response = await edge.send("sk-proj-pasted-from-openai", chat(uuid.uuid4().hex))
    message = json.loads(await read_body(response.body))["error"]["message"]
    assert message.startswith("Invalid API key: Prism keys start with 'prism_sk_'")
    assert "pasted-from-openai" not in message


async def test_key_records_are_cached_in_upstash_and_trusted_from_there(
    http: HttpxClient,
    env: dict[str, str],
    project: Any,
    redis: aioredis.Redis,
) -> None:
    key_hash = hash_api_key(project.api_key)
    await EdgeDriver(http, env).send(project.api_key, chat(uuid.uuid4().hex))
    record = json.loads(await redis.get(apikey_key(key_hash)) or "{}")
    assert (record["project_id"], record["org_id"]) == (project.id, project.org_id)
    assert 0 < await redis.ttl(apikey_key(key_hash)) <= RECORD_TTL_S
    # With Supabase unreachable, a fresh instance still knows the key from the Upstash record.
    cut_off = {**env, "SUPABASE_URL": f"http://127.0.0.1:{free_port()}"}
    response = await EdgeDriver(http, cut_off).send(project.api_key, chat(uuid.uuid4().hex))
    assert response.header("x-upstream") == "echo"
    ghost = "prism_sk_" + uuid.uuid4().hex
    response = await EdgeDriver(http, cut_off).send(ghost, chat(uuid.uuid4().hex))
    assert response.header("x-upstream") == "echo", "an uncheckable key is left to the origin"


async def test_dead_backends_leave_the_request_to_the_origin(
    http: HttpxClient, env: dict[str, str], project: Any
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    cut_off = {
        **env,
        "SUPABASE_URL": dead,
        "UPSTASH_REDIS_REST_URL": dead,
        "UPSTASH_VECTOR_REST_URL": dead,
    }
    marker = uuid.uuid4().hex
    edge = EdgeDriver(http, cut_off)
    response = await edge.send(project.api_key, chat(marker))
    assert response.header("x-upstream") == "echo"
    assert len(await edge.forwarded(marker)) == 1


@pytest.mark.parametrize(
    ("method", "path", "authorization", "status"),
    [
        ("GET", "/v1/models", "Bearer prism_sk_unknown", 401),
        ("GET", "/v1/models", None, 401),
        ("GET", "/v1/models/gpt-4o-mini", "Bearer prism_sk_unknown", 401),
        ("GET", "/v1/models/groq%2Fllama-3.1-8b-instant", None, 401),
        ("OPTIONS", "/v1/chat/completions", None, 200),  # the origin answers what it allows
        ("GET", "/healthz", None, 200),
        ("POST", "/admin/v1/projects", "Bearer admin-token", 200),  # not a gateway key
    ],
)
async def test_keys_are_checked_on_the_gateway_routes_only(
    http: HttpxClient,
    env: dict[str, str],
    method: str,
    path: str,
    authorization: str | None,
    status: int,
) -> None:
    headers = [("Authorization", authorization)] if authorization else []
    request = Request(method, f"https://edge.test{path}", headers, b"")
    runtime = Runtime(binding=env.get, http=http, background=TaskBackground())
    response = await handle(request, runtime)
    assert response.status == status
    assert (response.header("x-upstream") == "echo") is (status == 200)
