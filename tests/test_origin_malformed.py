"""Every malformed request gets a 4xx in the OpenAI envelope, and the server stays healthy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

OK = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def body(**changes: Any) -> dict[str, Any]:
    return {**OK, **changes}


CASES: list[tuple[str, Any, dict[str, str], int, str | None]] = [
    # (id, payload: bytes or JSON value, extra headers, status, param)
    ("empty-body", b"", {}, 400, None),
    ("not-json", b"{nope", {}, 400, None),
    ("invalid-utf8", b'{"messages": "\xff\xfe"}', {}, 400, None),
    ("json-array", [1, 2], {}, 400, None),
    ("json-string", "hello", {}, 400, None),
    ("deep-nesting", b"[" * 5000 + b"]" * 5000, {}, 400, None),
    ("no-messages", {"model": "gpt-4o-mini"}, {}, 400, "messages"),
    ("empty-messages", body(messages=[]), {}, 400, "messages"),
    ("messages-not-list", body(messages="hi"), {}, 400, "messages"),
    ("message-not-object", body(messages=["hi"]), {}, 400, "messages[0]"),
    ("bad-role", body(messages=[{"role": "wizard", "content": "x"}]), {}, 400, "messages[0].role"),
    (
        "content-number",
        body(messages=[{"role": "user", "content": 5}]),
        {},
        400,
        "messages[0].content",
    ),
    (
        "part-without-type",
        body(messages=[{"role": "user", "content": [{"text": "x"}]}]),
        {},
        400,
        "messages[0].content",
    ),
    ("model-empty", body(model=""), {}, 400, "model"),
    ("model-number", body(model=4), {}, 400, "model"),
    ("temperature-text", body(temperature="hot"), {}, 400, "temperature"),
    ("temperature-high", body(temperature=7), {}, 400, "temperature"),
    ("top-p-negative", body(top_p=-1), {}, 400, "top_p"),
    ("n-zero", body(n=0), {}, 400, "n"),
    ("max-tokens-negative", body(max_tokens=-5), {}, 400, "max_tokens"),
    ("max-tokens-float", body(max_tokens=1.5), {}, 400, "max_tokens"),
    ("stream-text", body(stream="yes"), {}, 400, "stream"),
    ("stop-too-many", body(stop=["a", "b", "c", "d", "e"]), {}, 400, "stop"),
    ("tools-not-list", body(tools={"x": 1}), {}, 400, "tools"),
    ("tool-without-name", body(tools=[{"type": "function", "function": {}}]), {}, 400, "tools[0]"),
    ("response-format-bad", body(response_format={"type": "yaml"}), {}, 400, "response_format"),
    ("stream-options-list", body(stream_options=[1]), {}, 400, "stream_options"),
    ("seed-text", body(seed="s"), {}, 400, "seed"),
    ("mode-unknown", OK, {"X-Prism-Mode": "turbo"}, 400, "X-Prism-Mode"),
    ("cache-directive-unknown", OK, {"X-Prism-Cache": "sometimes"}, 400, "X-Prism-Cache"),
    ("ttl-too-short", OK, {"X-Prism-Cache-TTL": "5"}, 400, "X-Prism-Cache-TTL"),
    ("ttl-not-number", OK, {"X-Prism-Cache-TTL": "soon"}, 400, "X-Prism-Cache-TTL"),
    ("threshold-too-high", OK, {"X-Prism-Cache-Threshold": "2"}, 400, "X-Prism-Cache-Threshold"),
    ("prefer-unknown", OK, {"X-Prism-Model-Prefer": "no-such-model"}, 400, "X-Prism-Model-Prefer"),
    ("unknown-model", body(model="no-such-model"), {}, 404, None),
    (
        "too-large",
        body(messages=[{"role": "user", "content": "x" * (5 * 1024 * 1024)}]),
        {},
        413,
        None,
    ),
]


@pytest.fixture(scope="module")
async def project(make_project: Any) -> Any:
    return await make_project("malformed")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_malformed_request_gets_enveloped_4xx(origin_server, project, sim, case):
    _, payload, extra, status, param = case
    headers = {
        "Authorization": f"Bearer {project.api_key}",
        "Content-Type": "application/json",
        **extra,
    }
    content = payload if isinstance(payload, bytes) else httpx.Response(200, json=payload).content
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{origin_server.base_url}/chat/completions", content=content, headers=headers
        )
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "code", "param"}
        assert error["message"] and "Traceback" not in error["message"]
        if param is not None:
            assert error["param"] == param
        assert sim.requests() == []  # nothing was spent on a bad request
        healthy = await client.post(
            f"{origin_server.base_url}/chat/completions",
            json=OK,
            headers={"Authorization": f"Bearer {project.api_key}"},
        )
        assert healthy.status_code == 200


AUTH_CASES = [
    ("no-header", {}, 401),
    ("basic-scheme", {"Authorization": "Basic abc"}, 401),
    ("bearer-not-prism", {"Authorization": "Bearer sk-openai-key"}, 401),
    ("unknown-key", {"Authorization": "Bearer prism_sk_unknown"}, 401),
]


@pytest.mark.parametrize("case", AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
async def test_bad_credentials_get_401_envelope(origin_server, case):
    _, headers, status = case
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{origin_server.base_url}/chat/completions", json=OK, headers=headers
        )
    assert response.status_code == status
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "method,path,status,allowed",
    [
        ("GET", "/v1/chat/completions", 405, {"POST"}),
        ("POST", "/v1/nothing-here", 404, None),
        ("DELETE", "/v1/models", 405, {"GET", "HEAD"}),
    ],
)
async def test_unknown_routes_get_envelopes(origin_server, method, path, status, allowed):
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.request(method, origin_server.url + path)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "code", "param"}
    # A 405 names the methods the route takes (RFC 9110 section 15.5.6).
    if allowed is not None:
        assert set(response.headers["allow"].split(", ")) == allowed


@pytest.mark.parametrize("path", ["/v1/embeddings", "/v1/completions", "/v1/responses"])
async def test_an_openai_endpoint_prism_lacks_names_the_ones_it_serves(origin_server, path):
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(origin_server.url + path, json={"model": "auto"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "/v1/chat/completions" in error["message"]
