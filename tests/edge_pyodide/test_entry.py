"""The Worker entry module in the real Workers Pyodide, against a loopback stand-in origin."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import entry
import js
import pytest
from pyodide.http import pyfetch

from edge.web import FetchError, FetchTimeout, Response

from .harness import DEADLINE_S, execution_context, js_request, setting, worker


@pytest.fixture
def upstream() -> str:
    return setting("PRISM_TEST_UPSTREAM")


async def read_chunk(reader: Any) -> bytes | None:
    result = await asyncio.wait_for(reader.read(), DEADLINE_S)
    return None if result.done else result.value.to_bytes()


async def test_request_keeps_method_url_headers_and_body() -> None:
    request = js_request(
        "http://edge.test/v1/chat/completions?stream=true&x=%20",
        "POST",
        [("Authorization", "Bearer sk-1"), ("X-Prism-Tags", "team=a,feature=b")],
        b'{"model": "m"}',
    )
    converted = await entry.to_edge_request(request)
    assert converted.method == "POST"
    assert converted.url == "http://edge.test/v1/chat/completions?stream=true&x=%20"
    assert converted.header("authorization") == "Bearer sk-1"
    assert converted.header("x-prism-tags") == "team=a,feature=b"
    assert converted.body == b'{"model": "m"}'


async def test_fetch_forwards_to_origin_without_hop_by_hop_headers(upstream: str) -> None:
    instance, _ = worker(upstream)
    request = js_request(
        "http://edge.test/v1/chat/completions?a=1",
        "POST",
        [
            ("Authorization", "Bearer sk-2"),
            ("X-Prism-Session", "s-1"),
            ("Connection", "X-Hop-Only"),
            ("X-Hop-Only", "drop me"),
            ("Keep-Alive", "timeout=99"),
            ("TE", "trailers"),
            ("Proxy-Authorization", "Basic cHJveHk="),
        ],
        b"payload",
    )
    response = (await instance.fetch(request)).js_object
    seen = json.loads(await response.text())
    headers = dict(seen["headers"])
    assert response.status == 200
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/v1/chat/completions", "a=1")
    assert headers["authorization"] == "Bearer sk-2"
    assert headers["x-prism-session"] == "s-1"
    assert "x-hop-only" not in headers and "te" not in headers
    assert "proxy-authorization" not in headers
    assert headers.get("keep-alive") != "timeout=99"
    assert headers["host"] == upstream.split("://", 1)[1]


async def test_origin_stream_reaches_the_client_before_the_origin_finishes(upstream: str) -> None:
    gate = uuid.uuid4().hex
    instance, _ = worker(upstream)
    response = (await instance.fetch(js_request(f"http://edge.test/_stream/{gate}"))).js_object
    reader = response.body.getReader()
    assert await read_chunk(reader) == b'data: {"n": 1}\n\n'
    await pyfetch(f"{upstream}/_release/{gate}", method="POST")
    rest = b""
    while (chunk := await read_chunk(reader)) is not None:
        rest += chunk
    assert rest == b'data: {"n": 2}\n\ndata: [DONE]\n\n'


async def test_python_stream_body_becomes_a_runtime_stream() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"one,", b"", b"two,", b"three"):
            yield part

    response = entry.to_runtime_response(Response(201, [("x-kind", "py")], chunks())).js_object
    assert response.status == 201
    assert response.headers.get("x-kind") == "py"
    assert await response.text() == "one,two,three"


async def test_no_body_status_passes_through(upstream: str) -> None:
    instance, _ = worker(upstream)
    response = (
        await instance.fetch(js_request("http://edge.test/_status/204", "DELETE"))
    ).js_object
    assert response.status == 204
    assert response.headers.get("x-upstream-status") == "204"


async def test_wait_until_work_runs_after_the_response(upstream: str) -> None:
    marker = uuid.uuid4().hex
    response_sent = asyncio.Event()
    instance, host = worker(upstream)
    background = instance.runtime().background

    async def record_after_response() -> None:
        await asyncio.wait_for(response_sent.wait(), DEADLINE_S)
        await pyfetch(f"{upstream}/usage/{marker}", method="POST", body="edge-hit")

    background.wait_until(record_after_response())
    response = (await instance.fetch(js_request("http://edge.test/v1/models"))).js_object
    assert response.status == 200
    assert not await recorded(upstream, marker)
    response_sent.set()
    await host.settled()
    assert await recorded(upstream, marker)
    assert host.failures.length == 0


async def test_failed_wait_until_work_is_reported_not_raised(upstream: str) -> None:
    instance, host = worker(upstream)

    async def broken() -> None:
        raise RuntimeError("usage insert failed")

    instance.runtime().background.wait_until(broken())
    response = (await instance.fetch(js_request("http://edge.test/v1/models"))).js_object
    assert response.status == 200
    await host.settled()
    assert host.failures.length == 1
    assert host.failures[0].type == "RuntimeError", (host.failures[0].type, host.failures[0].name)


async def recorded(upstream: str, marker: str) -> bool:
    records = await (await pyfetch(f"{upstream}/_records")).json()
    return any(r["path"] == f"/usage/{marker}" for r in records)


async def test_runtime_fetch_times_out_waiting_for_headers(upstream: str) -> None:
    gate = uuid.uuid4().hex
    with pytest.raises(FetchTimeout):
        await entry.RuntimeHttp().fetch("GET", f"{upstream}/_stall/{gate}", [], None, 0.2)
    await pyfetch(f"{upstream}/_release/{gate}", method="POST")


async def test_runtime_fetch_reports_an_unreachable_peer() -> None:
    with pytest.raises(FetchError):
        await entry.RuntimeHttp().fetch("GET", "http://127.0.0.1:1/", [], None, 5.0)


async def test_runtime_fetch_body_streams_to_python(upstream: str) -> None:
    reply = await entry.RuntimeHttp().fetch("POST", f"{upstream}/echo", [("x-a", "b")], b"abc", 5.0)
    body = b"".join([chunk async for chunk in reply.body])
    assert reply.status == 200
    assert json.loads(body)["body_b64"] == "YWJj"


async def test_missing_origin_binding_is_an_openai_error() -> None:
    instance = entry.Default(execution_context().ctx, js.Object.new())
    response = (await instance.fetch(js_request("http://edge.test/v1/models"))).js_object
    assert response.status == 500
    assert json.loads(await response.text())["error"]["code"] == "edge_misconfigured"
