"""Over-deep JSON at the origin (Hypercorn, real stack): a 400 in the OpenAI envelope before
anything recursive parses or walks the body, on every endpoint that reads JSON, and the origin
answers the next request as usual."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.json_depth import MAX_JSON_DEPTH


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("json-depth")


@pytest.fixture
async def client(origin_server: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=origin_server.url, timeout=30) as http:
        yield http


def nested(depth: int) -> Any:
    return json.loads("[" * depth + "]" * depth)


def chat_with(**extra: Any) -> bytes:
    message = {"role": "user", "content": "hello"}
    return json.dumps({"model": "gpt-4o-mini", "messages": [message], **extra}).encode()


DEEP_BODIES = {
    "100k-brackets": b"[" * 100_000,
    "100k-in-a-message": b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":'
    + b"[" * 100_000,
    # Within orjson's own limit, but deep enough for Python's recursion in what walks it.
    "900-in-tools": chat_with(
        tools=[{"type": "function", "function": {"name": "f", "parameters": nested(900)}}]
    ),
    "900-in-metadata": chat_with(metadata={"x": nested(900)}),
    "just-over": chat_with(metadata=nested(MAX_JSON_DEPTH)),
}


@pytest.mark.parametrize("body", list(DEEP_BODIES.values()), ids=list(DEEP_BODIES))
async def test_over_deep_chat_body_is_a_400(
    client: httpx.AsyncClient, project: Any, body: bytes
) -> None:
    headers = {"Authorization": f"Bearer {project.api_key}", "Content-Type": "application/json"}
    reply = await client.post("/v1/chat/completions", content=body, headers=headers)
    assert reply.status_code == 400, reply.text[:300]
    assert reply.json()["error"] == {
        "message": f"The request body nests JSON deeper than {MAX_JSON_DEPTH} levels.",
        "type": "invalid_request_error",
        "code": "json_too_deep",
        "param": None,
    }
    fine = await client.post("/v1/chat/completions", content=chat_with(), headers=headers)
    assert fine.status_code == 200 and fine.json()["choices"][0]["message"]["content"]


async def test_a_body_at_the_limit_is_accepted(client: httpx.AsyncClient, project: Any) -> None:
    # The body is one level, metadata's value the rest: exactly MAX_JSON_DEPTH in all.
    body = chat_with(metadata=nested(MAX_JSON_DEPTH - 1))
    headers = {"Authorization": f"Bearer {project.api_key}", "Content-Type": "application/json"}
    reply = await client.post("/v1/chat/completions", content=body, headers=headers)
    assert reply.status_code == 200, reply.text[:300]


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/v1/feedback", "project"),
        ("/admin/v1/projects", "admin"),
        ("/admin/v1/cache/purge", "admin"),
    ],
)
async def test_other_json_endpoints_refuse_over_deep_bodies(
    client: httpx.AsyncClient, origin_server: Any, project: Any, path: str, auth: str
) -> None:
    token = project.api_key if auth == "project" else origin_server.env["PRISM_ADMIN_TOKEN"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    reply = await client.post(path, content=b'{"a":' * 100_000, headers=headers)
    assert reply.status_code == 400, reply.text[:300]
    assert reply.json()["error"]["code"] == "json_too_deep"
