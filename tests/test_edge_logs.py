"""The edge's logs as an operator tailing the Worker reads them: the real Worker (Workers Pyodide
under Node) with its backends, in front of the recording stand-in origin, its stdout and stderr
captured. Each request writes one JSON line under the id its response carries (and its usage
row), in the origin's field names; no key, token or prompt is ever written.

The last test drives the pipeline in CPython to show lines logged before the answer (a backend
down) are written under the request's final id: the origin's, for a forwarded request.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from edge import logs
from edge.limits import DEFAULT_MAX_BODY_BYTES
from infra.local.proc import Service, free_port
from tests.edge.httpx_client import HttpxClient
from tests.fixtures.edge import (
    ACCESS_LOGGER,
    CacheSeed,
    EdgeDriver,
    EdgeLog,
    cached_completion,
    chat,
)

ISO_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CHAT_PATH = "/v1/chat/completions"


@pytest.fixture
def edge_log(backed_edge: Service) -> EdgeLog:
    return EdgeLog(backed_edge)


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("edge-logs")


async def post(
    edge_client: httpx.AsyncClient, key: str, body: Any, **headers: str
) -> httpx.Response:
    return await edge_client.post(
        CHAT_PATH, json=body, headers={"Authorization": f"Bearer {key}", **headers}
    )


async def request_line(edge_log: EdgeLog, reply: httpx.Response, since: int) -> dict[str, Any]:
    """The one line about `reply`'s request, found by the id its response carries."""
    request_id = reply.headers["x-prism-request-id"]
    found = await edge_log.request_lines(request_id, since)
    assert [e["logger"] for e in found] == [ACCESS_LOGGER], found
    line = found[0]
    assert ISO_MS_UTC.match(line["ts"]), line
    assert (line["level"], line["method"], line["path"]) == ("info", "POST", CHAT_PATH)
    assert isinstance(line["latency_ms"], (int, float)) and line["latency_ms"] >= 0
    return line


@pytest.mark.parametrize("layer", ["exact", "semantic"])
async def test_a_hit_writes_one_line_under_its_response_id(
    edge_client: httpx.AsyncClient,
    edge_log: EdgeLog,
    project: Any,
    cache_seed: CacheSeed,
    layer: str,
) -> None:
    marker = uuid.uuid4().hex
    stored = chat(f"How do I reset my password? {marker}")
    if layer == "exact":
        await cache_seed.exact(project.id, stored, cached_completion("Use the link."))
        asked, headers = stored, {}
    else:
        await cache_seed.semantic(project.id, stored, cached_completion("Use the link."))
        asked = chat(f"How can I reset my password? {marker}")
        headers = {"X-Prism-Cache-Threshold": "0.85"}
    since = edge_log.mark()
    reply = await post(edge_client, project.api_key, asked, **headers)
    status = f"hit-{layer}-edge"
    assert (reply.status_code, reply.headers["x-prism-cache-status"]) == (200, status)
    line = await request_line(edge_log, reply, since)
    assert (line["status"], line["cache_status"], line["answered_by"]) == (200, status, "edge")
    assert line["project_id"] == project.id
    assert "error_code" not in line


async def test_a_bad_key_writes_its_401_with_the_code(
    edge_client: httpx.AsyncClient, edge_log: EdgeLog
) -> None:
    bad_key = f"prism_sk_{uuid.uuid4().hex}"
    since = edge_log.mark()
    reply = await post(edge_client, bad_key, chat("who am I?"))
    assert reply.status_code == 401
    line = await request_line(edge_log, reply, since)
    assert (line["status"], line["error_code"], line["answered_by"]) == (
        401,
        "invalid_api_key",
        "edge",
    )
    assert "project_id" not in line and "cache_status" not in line


async def test_a_body_refused_unread_writes_its_413(
    edge_client: httpx.AsyncClient, edge_log: EdgeLog
) -> None:
    since = edge_log.mark()
    reply = await edge_client.post(CHAT_PATH, content=b" " * (DEFAULT_MAX_BODY_BYTES + 1))
    assert reply.status_code == 413
    line = await request_line(edge_log, reply, since)
    assert (line["status"], line["error_code"]) == (413, "request_too_large")


async def test_a_forwarded_miss_writes_a_line_under_the_origins_id(
    edge_client: httpx.AsyncClient, edge_log: EdgeLog, project: Any
) -> None:
    since = edge_log.mark()
    reply = await post(edge_client, project.api_key, chat(f"Nobody asked this {uuid.uuid4().hex}"))
    assert reply.status_code == 200 and reply.headers["x-upstream"] == "echo"
    # The origin's own id: its access line and its usage row carry the same one.
    assert reply.headers["x-prism-request-id"].startswith("req_upstream")
    line = await request_line(edge_log, reply, since)
    assert (line["status"], line["answered_by"], line["project_id"]) == (200, "origin", project.id)


async def test_no_key_token_or_prompt_is_ever_written(
    edge_client: httpx.AsyncClient,
    edge_log: EdgeLog,
    project: Any,
    cache_seed: CacheSeed,
    edge_bindings: dict[str, str],
) -> None:
    prompt = f"My secret question {uuid.uuid4().hex}"
    answer = f"The secret answer {uuid.uuid4().hex}"
    await cache_seed.exact(project.id, chat(prompt), cached_completion(answer))
    bad_key = f"prism_sk_{uuid.uuid4().hex}"
    since = edge_log.mark()
    replies = [
        await post(edge_client, project.api_key, chat(prompt)),
        await post(edge_client, project.api_key, chat(f"{prompt} again")),
        await post(edge_client, bad_key, chat(prompt)),
    ]
    assert [r.status_code for r in replies] == [200, 200, 401]
    for reply in replies:
        await request_line(edge_log, reply, since)
    written = edge_log.text(since)
    secrets = [project.api_key, bad_key, prompt, answer]
    secrets += [edge_bindings[name] for name in edge_bindings if name.endswith(("TOKEN", "KEY"))]
    assert [secret for secret in secrets if secret in written] == []


@pytest.fixture
def edge_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The edge's log handler, as entry.py installs it, for the test only."""
    logger = logging.getLogger(logs.EDGE_LOGGER)
    saved = logger.handlers[:], logger.level, logger.propagate
    logs.configure()
    yield capsys
    logger.handlers[:], logger.level, logger.propagate = saved


async def test_lines_logged_before_a_forward_carry_the_origins_id(
    http: HttpxClient,
    edge_upstream: str,
    edge_bindings: dict[str, str],
    project: Any,
    edge_lines: pytest.CaptureFixture[str],
) -> None:
    # Upstash Redis down: the key is checked against Supabase instead, there is no cache to
    # look in, and the origin answers. Each step logs a warning before the origin's id exists.
    down = f"http://127.0.0.1:{free_port()}"
    env = {"ORIGIN_URL": edge_upstream, **edge_bindings, "UPSTASH_REDIS_REST_URL": down}
    response = await EdgeDriver(http, env).send(project.api_key, chat("is anyone there?"))
    request_id = response.header("x-prism-request-id")
    assert response.status == 200 and request_id and request_id.startswith("req_upstream")
    captured = edge_lines.readouterr()
    entries = [json.loads(line) for line in (captured.out + captured.err).splitlines()]
    assert {e["request_id"] for e in entries} == {request_id}, entries
    warned = [e["logger"] for e in entries if e["level"] == "warning"]
    assert "prism.edge.auth" in warned, entries
    [line] = [e for e in entries if e["logger"] == ACCESS_LOGGER]
    assert (line["status"], line["answered_by"], line["project_id"]) == (200, "origin", project.id)
