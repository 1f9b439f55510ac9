"""One request must not take the edge down: the real Worker (Workers Pyodide under Node), with
its backends, in front of the recording stand-in origin.

Over-deep JSON is refused with a 400 before anything parses it; a body larger than the origin
accepts is refused with a 413 from its Content-Length (or a bounded read) and never forwarded;
a body too large to be worth parsing goes to the origin untouched. After each, the edge still
answers.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from edge.limits import PARSE_LIMIT_BYTES
from shared.json_depth import MAX_JSON_DEPTH
from tests.fixtures.edge import CacheSeed, cached_completion, chat

# The origin's default limit is 4 MiB; this is the size of the body from the issue.
HUGE_REPEATS = 500_000


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("edge-limits")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


async def forwarded(client: httpx.AsyncClient, upstream: str, marker: str) -> list[Any]:
    records = (await client.get(f"{upstream}/_records")).json()
    return [r for r in records if marker.encode() in base64.b64decode(r["body_b64"])]


async def still_answers(client: httpx.AsyncClient, key: str) -> None:
    reply = await client.post("/v1/chat/completions", json=chat("still there?"), headers=auth(key))
    assert reply.status_code == 200 and reply.headers["x-upstream"] == "echo"


def assert_envelope(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text[:300]
    error = reply.json()["error"]
    assert error["code"] == code and error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "code", "param"}


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        ('{"model":"gpt-4o-mini","messages":' + '{"a":[' * 30_000).encode(),
        json.dumps(
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "x"}],
                "metadata": json.loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)),
            }
        ).encode(),
    ],
    ids=["100k-brackets", "30k-objects", "just-over-the-limit"],
)
async def test_over_deep_json_is_a_400_and_the_edge_lives_on(
    edge_client: httpx.AsyncClient, project: Any, body: bytes
) -> None:
    reply = await edge_client.post(
        "/v1/chat/completions", content=body, headers=auth(project.api_key)
    )
    assert_envelope(reply, 400, "json_too_deep")
    await still_answers(edge_client, project.api_key)


async def test_a_body_over_the_origin_limit_is_refused_unread(
    edge_client: httpx.AsyncClient, edge_upstream: str, project: Any
) -> None:
    marker = uuid.uuid4().hex
    message = {"role": "user", "content": f"repeat me {marker}"}
    body = json.dumps({"model": "gpt-4o-mini", "messages": [message] * HUGE_REPEATS}).encode()
    assert len(body) > 19_000_000
    reply = await edge_client.post(
        "/v1/chat/completions", content=body, headers=auth(project.api_key)
    )
    assert_envelope(reply, 413, "request_too_large")
    assert await forwarded(edge_client, edge_upstream, marker) == []
    await still_answers(edge_client, project.api_key)


async def test_a_body_without_length_is_read_only_up_to_the_limit(
    edge_client: httpx.AsyncClient, edge_upstream: str, project: Any
) -> None:
    marker = uuid.uuid4().hex.encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"model":"gpt-4o-mini","messages":['
        batch = b'{"role":"user","content":"' + marker + b'"},'
        for _ in range(HUGE_REPEATS // 1000):
            yield batch * 1000
        yield b'{"role":"user","content":"end"}]}'

    reply = await edge_client.post(
        "/v1/chat/completions", content=chunks(), headers=auth(project.api_key)
    )
    assert_envelope(reply, 413, "request_too_large")
    assert await forwarded(edge_client, edge_upstream, marker.decode()) == []
    await still_answers(edge_client, project.api_key)


async def test_a_body_too_large_to_parse_goes_to_the_origin_untouched(
    edge_client: httpx.AsyncClient, edge_upstream: str, project: Any, cache_seed: CacheSeed
) -> None:
    # A stored answer for exactly this body: an edge that parsed it would answer the hit.
    marker = uuid.uuid4().hex
    body = chat(f"{marker} " + "long context " * (PARSE_LIMIT_BYTES // 12))
    await cache_seed.exact(project.id, body, cached_completion("from the edge cache"))
    raw = json.dumps(body).encode()
    assert PARSE_LIMIT_BYTES < len(raw) < 4 * 1024 * 1024
    reply = await edge_client.post(
        "/v1/chat/completions", content=raw, headers=auth(project.api_key)
    )
    assert reply.status_code == 200 and reply.headers["x-upstream"] == "echo"
    assert "x-prism-cache-status" not in reply.headers
    [record] = await forwarded(edge_client, edge_upstream, marker)
    assert base64.b64decode(record["body_b64"]) == raw
