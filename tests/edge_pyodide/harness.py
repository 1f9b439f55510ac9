"""Driving the Worker inside Pyodide the way serve.mjs does: a runtime Request in, the runtime
Response out, waitUntil work tracked by the same execution context the local host uses."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import _prism_host  # type: ignore[import-not-found]
import entry
import js
import pytest
from js import Object
from pyodide.ffi import create_proxy, to_js
from pyodide.http import pyfetch

# Bounds a wait that only a bug would make long, so a broken test fails instead of hanging.
DEADLINE_S = 20.0


def setting(name: str) -> str:
    """A PRISM_TEST_* value handed in by the CPython side (tests/test_edge_pyodide.py)."""
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"{name} is not set; run these tests via tests/test_edge_pyodide.py")
    return value


def js_request(
    url: str,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
) -> Any:
    init: dict[str, Any] = {"method": method, "headers": js.Headers.new(to_js(list(headers)))}
    if body is not None:
        init["body"] = to_js(body)
    return js.Request.new(url, to_js(init, dict_converter=Object.fromEntries))


def execution_context() -> Any:
    # Failures are asserted on through `host.failures`, so the host need not log them.
    return _prism_host.createExecutionContext(create_proxy(lambda err: None))


def worker(upstream: str, **env: str) -> tuple[Any, Any]:
    host = execution_context()
    bindings = to_js({"ORIGIN_URL": upstream, **env}, dict_converter=Object.fromEntries)
    return entry.Default(host.ctx, bindings), host


async def forwarded(upstream: str, marker: str) -> list[dict[str, Any]]:
    """What the stand-in origin received that mentions `marker` (in its body or path)."""
    import base64

    records = await (await pyfetch(f"{upstream}/_records")).json()
    return [
        r
        for r in records
        if marker in r["path"] or marker.encode() in base64.b64decode(r["body_b64"])
    ]


async def rest_json(method: str, url: str, token: str, payload: Any = None, **headers: str) -> Any:
    """One call to a backend stand-in's REST API, as the test's own arrangement or check."""
    sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}
    body = None if payload is None else json.dumps(payload)
    reply = await pyfetch(url, method=method, headers=sent, body=body)
    assert reply.ok, (reply.status, await reply.string())
    text = await reply.string()
    return json.loads(text) if text else None
