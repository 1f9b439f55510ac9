"""The edge pipeline in CPython: stages, then passthrough to a real stand-in origin over httpx."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import pytest

from edge.context import EdgeContext, Runtime
from edge.handler import Stage, handle
from edge.passthrough import origin_target
from edge.web import Request, Response, read_body
from infra.local.proc import free_port
from tests.edge.httpx_client import HttpxClient, TaskBackground

DEADLINE_S = 20.0


def runtime(http: HttpxClient, **env: str) -> Runtime:
    return Runtime(binding=env.get, http=http, background=TaskBackground())


async def echoed(response: Response) -> dict[str, Any]:
    assert response.status == 200
    seen: dict[str, Any] = json.loads(await read_body(response.body))
    return seen


@pytest.mark.parametrize(
    ("origin", "url", "target"),
    [
        ("http://o:1", "https://edge.test/v1/chat/completions", "http://o:1/v1/chat/completions"),
        (
            "http://o:1/base",
            "https://edge.test/v1/models?limit=2&q=a%20b",
            "http://o:1/base/v1/models?limit=2&q=a%20b",
        ),
        ("http://o:1", "https://edge.test", "http://o:1/"),
        ("http://o:1", "https://edge.test/a%2Fb;p?x=%2F#frag", "http://o:1/a%2Fb;p?x=%2F"),
    ],
)
def test_origin_target_keeps_path_and_raw_query(origin: str, url: str, target: str) -> None:
    assert origin_target(origin, url) == target


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/models?limit=5&after=m%2F1", b""),
        ("POST", "/v1/chat/completions", b'{"model":"gpt-5.4-mini","messages":[]}'),
        ("PUT", "/v1/files/f1", bytes(range(256))),
        ("DELETE", "/v1/files/f1", b""),
    ],
)
async def test_passthrough_delivers_the_request_untouched(
    http: HttpxClient, edge_upstream: str, method: str, path: str, body: bytes
) -> None:
    headers = [
        ("Authorization", "Bearer sk-x"),
        ("X-Prism-Tags", "team=a"),
        ("Host", "edge.test"),
        ("Content-Length", "999"),
        ("Connection", "close"),
    ]
    request = Request(method, f"https://edge.test{path}", headers, body)
    seen = await echoed(await handle(request, runtime(http, ORIGIN_URL=edge_upstream)))
    received = dict(seen["headers"])
    assert seen["method"] == method
    assert f"{seen['path']}?{seen['query']}".rstrip("?") == path
    assert base64.b64decode(str(seen["body_b64"])) == body
    assert received["authorization"] == "Bearer sk-x" and received["x-prism-tags"] == "team=a"
    # Host, length and connection are the edge's own fetch's, never the client's.
    assert received["host"] == edge_upstream.split("://", 1)[1]
    assert received.get("content-length", "0") == str(len(body))
    assert received.get("connection") != "close"


async def test_origin_response_streams_back_unbuffered(
    http: HttpxClient, edge_upstream: str
) -> None:
    gate = uuid.uuid4().hex
    response = await handle(
        Request("GET", f"https://edge.test/_stream/{gate}"), runtime(http, ORIGIN_URL=edge_upstream)
    )
    assert not isinstance(response.body, bytes)
    chunks = aiter(response.body)
    assert await asyncio.wait_for(anext(chunks), DEADLINE_S) == b'data: {"n": 1}\n\n'
    await http.fetch("POST", f"{edge_upstream}/_release/{gate}", [], b"", DEADLINE_S)
    assert b"".join([c async for c in chunks]) == b'data: {"n": 2}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
async def test_origin_errors_pass_through(
    http: HttpxClient, edge_upstream: str, status: int
) -> None:
    response = await handle(
        Request("POST", f"https://e.test/_status/{status}", [], b"{}"),
        runtime(http, ORIGIN_URL=edge_upstream),
    )
    assert response.status == status
    assert response.header("x-upstream-status") == str(status)
    assert json.loads(await read_body(response.body))["error"]["code"] == str(status)


@pytest.mark.parametrize(
    ("env", "status", "code"),
    [
        ({"ORIGIN_URL": f"http://127.0.0.1:{free_port()}"}, 502, "origin_unreachable"),
        ({}, 500, "edge_misconfigured"),
        ({"ORIGIN_URL": "not a url"}, 500, "edge_misconfigured"),
    ],
)
async def test_edge_failures_are_openai_errors(
    http: HttpxClient, env: dict[str, str], status: int, code: str
) -> None:
    response = await handle(Request("GET", "https://e.test/v1/models"), runtime(http, **env))
    assert response.status == status
    assert response.header("content-type") == "application/json"
    error = json.loads(await read_body(response.body))["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["code"] == code
    assert "127.0.0.1" not in error["message"]


async def test_silent_origin_is_a_gateway_timeout(http: HttpxClient, edge_upstream: str) -> None:
    gate = uuid.uuid4().hex
    response = await handle(
        Request("GET", f"https://e.test/_stall/{gate}"),
        runtime(http, ORIGIN_URL=edge_upstream, ORIGIN_TIMEOUT_S="0.2"),
    )
    await http.fetch("POST", f"{edge_upstream}/_release/{gate}", [], b"", DEADLINE_S)
    assert response.status == 504
    assert json.loads(await read_body(response.body))["error"]["code"] == "origin_timeout"


async def test_an_answering_stage_stops_the_request_at_the_edge(
    http: HttpxClient, edge_upstream: str
) -> None:
    marker = uuid.uuid4().hex
    background = TaskBackground()

    async def cached(request: Request, ctx: EdgeContext) -> Response | None:
        async def count_hit() -> None:
            await ctx.http.fetch(
                "POST", f"{ctx.config.origin_url}/hits/{marker}", [], b"1", DEADLINE_S
            )

        ctx.background.wait_until(count_hit())
        return Response(200, [("x-prism-cache-status", "hit")], b"cached")

    rt = Runtime(binding={"ORIGIN_URL": edge_upstream}.get, http=http, background=background)
    response = await handle(
        Request("POST", f"https://e.test/echo/{marker}", [], b"{}"), rt, [cached]
    )
    assert (response.status, response.body) == (200, b"cached")
    await background.settled()
    paths = [r["path"] for r in await records(http, edge_upstream)]
    assert f"/hits/{marker}" in paths and f"/echo/{marker}" not in paths


async def test_declining_and_failing_stages_fall_through_to_the_origin(
    http: HttpxClient, edge_upstream: str
) -> None:
    async def declines(request: Request, ctx: EdgeContext) -> Response | None:
        return None

    async def breaks(request: Request, ctx: EdgeContext) -> Response | None:
        raise ConnectionError("cache store down")

    stages: list[Stage] = [declines, breaks]
    response = await handle(
        Request("GET", "https://e.test/v1/models"), runtime(http, ORIGIN_URL=edge_upstream), stages
    )
    assert (await echoed(response))["path"] == "/v1/models"


async def records(http: HttpxClient, upstream: str) -> list[dict[str, Any]]:
    reply = await http.fetch("GET", f"{upstream}/_records", [], None, DEADLINE_S)
    seen: list[dict[str, Any]] = json.loads(await read_body(reply.body))
    return seen
