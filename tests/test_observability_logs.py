"""The origin's logs as an operator reads them: JSON lines (PRISM_LOG_FORMAT=json), the
request id on every line written for a request, one access line per request with what it
cost, and no secret anywhere."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from origin.observability.logs import TurnBufferedHandler
from origin.observability.middleware import _access_line
from shared.log_line import mask_secrets
from tests.fixtures.origin import OriginHandle, start_origin


@pytest.fixture(scope="module")
def logged_origin(
    origin_env: dict[str, str], pg: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OriginHandle, Path]]:
    env = {**origin_env, "PRISM_LOG_FORMAT": "json"}
    logs = tmp_path_factory.mktemp("logged-origin")
    service = start_origin(env, logs)
    try:
        yield OriginHandle(service, env, pg.dsn), logs / "origin.log"
    finally:
        service.stop()


def our_lines(path: Path, request_id: str) -> list[dict[str, Any]]:
    """JSON lines carrying `request_id`, once its access line is written (bounded wait: the
    line is written after the response's last byte)."""
    deadline = time.monotonic() + 10
    while True:
        entries = []
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                entries.append(json.loads(line))
        found = [e for e in entries if e.get("request_id") == request_id]
        if any(e["logger"] == "prism.access" for e in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


async def test_access_line_and_request_id_on_every_line(logged_origin, make_project, sim) -> None:
    origin, log_path = logged_origin
    project = await make_project("logs")
    sim.script({"kind": "status", "status": 503}, provider="openai")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "log me"}]}
    headers = {
        "Authorization": f"Bearer {project.api_key}",
        "X-Prism-Cache": "no-store",
        "User-Agent": "AsyncOpenAI/Python 3.57.0",
    }
    async with httpx.AsyncClient(base_url=origin.base_url, timeout=30) as client:
        response = await client.post("/chat/completions", json=body, headers=headers)
    assert response.status_code == 200
    request_id = response.headers["x-prism-request-id"]

    lines = our_lines(log_path, request_id)
    failover = [e for e in lines if e["logger"] == "prism.gateway"]
    access = [e for e in lines if e["logger"] == "prism.access"]
    assert len(failover) == 1 and "openai failed" in failover[0]["message"]
    assert len(access) == 1
    line = access[0]
    assert line["status"] == 200 and line["path"] == "/v1/chat/completions"
    assert line["model"] == response.headers["x-prism-model"]
    assert line["provider"] == response.headers["x-prism-provider"]
    assert line["cache_status"] == "bypass"
    assert line["cost_cents"] == response.headers["x-prism-cost-cents"]
    assert line["latency_ms"] > 0
    assert line["user_agent"] == "AsyncOpenAI/Python 3.57.0"  # which client, for operators


def test_a_request_without_a_usage_row_still_gets_an_id_and_a_line(logged_origin) -> None:
    origin, log_path = logged_origin
    response = httpx.get(f"{origin.base_url}/models", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    request_id = response.headers["x-prism-request-id"]
    (line,) = [e for e in our_lines(log_path, request_id) if e["logger"] == "prism.access"]
    assert line["status"] == 401 and line["path"] == "/v1/models"


async def test_no_secret_reaches_the_log(logged_origin, make_project) -> None:
    origin, log_path = logged_origin
    project = await make_project("logs-secrets")
    admin = {"Authorization": f"Bearer {origin.env['PRISM_ADMIN_TOKEN']}"}
    provider_key = "sk-live-" + "x7" * 20
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    async with httpx.AsyncClient(base_url=origin.url, timeout=30) as client:
        added = await client.post(
            f"/admin/v1/projects/{project.id}/provider_keys",
            json={"provider": "openai", "api_key": provider_key},
            headers=admin,
        )
        assert added.status_code == 201, added.text
        for key in (project.api_key, "prism_sk_" + "0" * 40):
            auth = {"Authorization": f"Bearer {key}"}
            await client.post("/v1/chat/completions", json=body, headers=auth)
    await asyncio.sleep(0.5)
    text = log_path.read_text()
    assert "/v1/chat/completions" in text
    secrets = [provider_key, project.api_key, "0" * 40]
    secrets += [origin.env[name] for name in ("PRISM_ADMIN_TOKEN", "PRISM_MASTER_KEY")]
    secrets.append(origin.env["SUPABASE_SERVICE_KEY"])
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("key prism_sk_abcdef123456 used", "key prism_sk_*** used"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("openai sk-proj-AbCdEf012345 refused", "openai sk-*** refused"),
        ("anthropic sk-ant-api03-xyzxyz", "anthropic sk-ant-***"),
        ("gemini AIzaSyA1234567890", "gemini AIza***"),
        ("nothing secret here: task-type chat", "nothing secret here: task-type chat"),
    ],
)
def test_secret_shaped_text_is_masked(text: str, expected: str) -> None:
    assert mask_secrets(text) == expected


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_of_one_loop_turn_are_written_together_and_none_is_lost() -> None:
    stream = CountingStream()
    handler = TurnBufferedHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("prism.test-turns")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        logger.info("before the loop")  # no loop running: written at once
        assert stream.getvalue() == "before the loop\n" and stream.writes == 1

        async def requests() -> None:
            for n in range(50):
                logger.info("access %d", n)
            assert stream.writes == 1  # nothing written during the turn
            await asyncio.sleep(0)
            assert stream.writes == 2  # the turn's 50 lines in one write
            logger.info("last")

        asyncio.run(requests())
        handler.flush()  # what logging.shutdown does at exit for a line left in a buffer
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == ["before the loop", *(f"access {n}" for n in range(50)), "last"]


@pytest.mark.parametrize(
    ("path", "written"),
    [
        ("/nope\r\nFORGED 200 latency_ms=1", "/nope\\r\\nFORGED 200 latency_ms=1"),
        ("/a\x00b", "/a\\x00b"),
        ("/v1/café", "/v1/café"),
    ],
)
def test_a_path_cannot_forge_or_break_a_text_access_line(
    caplog: pytest.LogCaptureFixture, path: str, written: str
) -> None:
    scope = {"method": "GET", "path": path, "headers": [(b"user-agent", b"curl/8")]}
    with caplog.at_level(logging.INFO, logger="prism.access"):
        _access_line(scope, 404, 0.001, None)
    (record,) = [r for r in caplog.records if r.name == "prism.access"]
    message = record.getMessage()
    assert message.isprintable() and message.startswith(f"GET {written} 404 ")
