"""The Worker under Node (serve.mjs) forwards to a real stand-in origin and streams it back."""

from __future__ import annotations

import asyncio
import base64
import gzip
import uuid
from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from infra.local.proc import free_port
from tests.edge.upstream import GZIP_TEXT
from tests.fixtures.edge import EdgeServer

# Bounds waits that only a bug would make long, so a broken edge fails instead of hanging.
DEADLINE_S = 20.0


@pytest.fixture(scope="module")
def dead_edge_url(edge_server: EdgeServer) -> str:
    """An edge whose origin address has nothing listening."""
    return edge_server(f"http://127.0.0.1:{free_port()}").url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=DEADLINE_S) as http:
        yield http


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", "/v1/models", "limit=5&after=m%2F1&q=a+b", b""),
        (
            "POST",
            "/v1/chat/completions",
            "",
            b'{"model":"auto","messages":[{"role":"user","content":"hi"}]}',
        ),
        ("PUT", "/v1/files/f-1", "purpose=batch", bytes(range(256)) * 64),
        ("PATCH", "/v1/keys/k%201", "", "ünïcode ✓".encode()),
        ("DELETE", "/v1/files/f-1", "", b""),
    ],
)
async def test_request_arrives_at_origin_untouched(
    client: httpx.AsyncClient, edge_url: str, method: str, path: str, query: str, body: bytes
) -> None:
    sent = {
        "Authorization": "Bearer sk-prism-test",
        "X-Prism-Mode": "cheap",
        "X-Prism-Model-Prefer": "anthropic",
        "X-Prism-Session": "sess-42",
        "X-Prism-Tags": "feature=onboarding,team=growth",
        "Content-Type": "application/octet-stream",
    }
    url = f"{edge_url}{path}" + (f"?{query}" if query else "")
    reply = await client.request(method, url, headers=sent, content=body)
    seen = reply.json()
    received = dict(seen["headers"])
    assert reply.status_code == 200
    assert (seen["method"], seen["path"], seen["query"]) == (method, path, query)
    assert base64.b64decode(seen["body_b64"]) == body
    for name, value in sent.items():
        assert received[name.lower()] == value


async def test_hop_by_hop_headers_stop_at_the_edge(
    client: httpx.AsyncClient, edge_url: str
) -> None:
    reply = await client.get(
        f"{edge_url}/v1/models",
        headers={
            "Connection": "keep-alive, X-Hop-Only",
            "X-Hop-Only": "1",
            "Keep-Alive": "timeout=99",
            "TE": "trailers",
            "Proxy-Authorization": "Basic cHJveHk=",
            "X-End-To-End": "kept",
        },
    )
    received = dict(reply.json()["headers"])
    assert received["x-end-to-end"] == "kept"
    assert received["host"] != httpx.URL(edge_url).netloc.decode()
    for name in ("x-hop-only", "te", "proxy-authorization"):
        assert name not in received
    assert received.get("keep-alive") != "timeout=99"


async def test_sse_stream_arrives_chunk_by_chunk(
    client: httpx.AsyncClient, edge_url: str, edge_upstream: str
) -> None:
    gate = uuid.uuid4().hex
    async with client.stream("POST", f"{edge_url}/_stream/{gate}", json={"stream": True}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        chunks = reply.aiter_raw()
        first = b""
        while b"\n\n" not in first:
            # The origin holds its second event until released, so this only completes if
            # the edge forwards the first one without waiting for the rest.
            first += await asyncio.wait_for(anext(chunks), DEADLINE_S)
        assert first == b'data: {"n": 1}\n\n'
        await client.post(f"{edge_upstream}/_release/{gate}")
        rest = b"".join([chunk async for chunk in chunks])
    assert rest == b'data: {"n": 2}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 502, 503])
async def test_origin_errors_pass_through(
    client: httpx.AsyncClient, edge_url: str, status: int
) -> None:
    reply = await client.post(f"{edge_url}/_status/{status}", json={})
    assert reply.status_code == status
    assert reply.headers["x-upstream-status"] == str(status)
    assert reply.json()["error"]["message"] == f"upstream said {status}"


@pytest.mark.parametrize(
    ("path", "status", "header", "value"),
    [
        ("/_status/204", 204, "x-upstream-status", "204"),
        ("/_redirect", 302, "location", "/elsewhere"),
        ("/v1/echo", 200, "x-upstream", "echo"),
    ],
)
async def test_status_and_headers_pass_through(
    client: httpx.AsyncClient, edge_url: str, path: str, status: int, header: str, value: str
) -> None:
    reply = await client.get(f"{edge_url}{path}")
    assert (reply.status_code, reply.headers[header]) == (status, value)


async def test_repeated_set_cookie_headers_survive(
    client: httpx.AsyncClient, edge_url: str
) -> None:
    reply = await client.get(f"{edge_url}/v1/echo")
    assert reply.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


async def test_compressed_origin_body_stays_decodable(
    client: httpx.AsyncClient, edge_url: str
) -> None:
    # Fetch hands the Worker a decoded body under the origin's Content-Encoding header; what
    # leaves the edge must be encoded to match that header again.
    async with client.stream("GET", f"{edge_url}/_gzip") as reply:
        wire = b"".join([chunk async for chunk in reply.aiter_raw()])
    assert reply.headers["content-encoding"] == "gzip"
    assert gzip.decompress(wire).decode() == GZIP_TEXT


async def test_unreachable_origin_is_a_502_openai_error(
    client: httpx.AsyncClient, dead_edge_url: str
) -> None:
    reply = await client.post(
        f"{dead_edge_url}/v1/chat/completions", json={"model": "auto", "messages": []}
    )
    assert reply.status_code == 502
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {
        "error": {
            "message": "The Prism origin could not be reached.",
            "type": "upstream_error",
            "code": "origin_unreachable",
            "param": None,
        }
    }


async def test_openai_sdk_reads_the_edge_error_envelope(dead_edge_url: str) -> None:
    sdk = openai.AsyncOpenAI(base_url=f"{dead_edge_url}/v1", api_key="sk-prism-test", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        await sdk.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    assert caught.value.code == "origin_unreachable"
    await sdk.close()


async def test_bindings_come_from_the_environment(
    client: httpx.AsyncClient, edge_server: EdgeServer, edge_upstream: str
) -> None:
    edge = edge_server(edge_upstream, ORIGIN_TIMEOUT_S="0.3")
    gate = uuid.uuid4().hex
    reply = await client.get(f"{edge.url}/_stall/{gate}")
    await client.post(f"{edge_upstream}/_release/{gate}")
    assert reply.status_code == 504
    assert reply.json()["error"]["code"] == "origin_timeout"
