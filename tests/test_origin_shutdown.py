"""The origin's shutdown is bounded: answers in flight get PRISM_SHUTDOWN_GRACE_S to finish, a
dependency whose close hangs is abandoned, and the closes after it (the ledger's among them)
still run."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from infra.local.proc import free_port
from origin.admin.serve import server_for
from origin.background import BoundedExitStack
from origin.settings import Settings
from tests.fixtures.origin import OriginHandle, start_origin


async def test_a_hanging_close_is_abandoned_and_the_rest_still_close() -> None:
    closed: list[str] = []
    never = asyncio.Event()

    async def close(name: str) -> None:
        closed.append(name)

    async def hang_and_ignore_cancellation() -> None:
        while not never.is_set():
            try:
                await never.wait()
            except asyncio.CancelledError:
                continue  # the worst case: a library that swallows its cancellation

    stack = BoundedExitStack(step_timeout_s=0.2)
    stack.push_async_callback(close, "ledger")  # pushed first: closed last
    stack.push_async_callback(hang_and_ignore_cancellation)
    stack.push_async_callback(close, "cache")
    try:
        await asyncio.wait_for(stack.aclose(), 10)
    finally:
        never.set()  # let the abandoned close end with the test
    assert closed == ["cache", "ledger"]


async def _endless(request: Request) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        while True:
            yield b"data: {}\n\n"
            await asyncio.sleep(0.05)

    return StreamingResponse(events(), media_type="text/event-stream")


async def _read_until_cut(url: str, in_flight: asyncio.Event) -> None:
    """Keeps the stream open, as a client waiting for the rest of an answer does."""
    async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", url) as res:
        try:
            async for _ in res.aiter_bytes():
                in_flight.set()
        except httpx.HTTPError:
            return  # cut by the shutdown: what this test waits for


async def test_the_shutdown_grace_is_the_setting() -> None:
    # A stream that never ends is cut when the grace runs out: after the setting's 1.5 s, not
    # the default 30 s (nor the 10 s once hard-coded).
    port = free_port()
    settings = Settings.from_env({"PRISM_PORT": str(port), "PRISM_SHUTDOWN_GRACE_S": "1.5"})
    assert Settings().shutdown_grace_s == 30
    server = server_for(Starlette(routes=[Route("/stream", _endless)]), settings)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    in_flight = asyncio.Event()
    reading = asyncio.create_task(_read_until_cut(f"http://127.0.0.1:{port}/stream", in_flight))
    await asyncio.wait_for(in_flight.wait(), 10)
    server.handle_exit(signal.SIGTERM, None)
    began = time.monotonic()
    await asyncio.wait_for(serving, 10)
    assert 1.4 <= time.monotonic() - began < 4
    await asyncio.wait_for(reading, 10)


async def test_a_stream_cut_by_the_grace_ends_in_an_error_the_sdk_raises_and_its_row_says_so(
    origin_env: dict[str, str], pg: Any, make_project: Any, sim: Any, tmp_path: Path
) -> None:
    project = await make_project("shutdown")
    env = {**origin_env, "PRISM_SHUTDOWN_GRACE_S": "1"}
    origin = OriginHandle(await asyncio.to_thread(start_origin, env, tmp_path), env, pg.dsn)
    sim.configure(stream_chunk_delay_ms=800)  # the answer outlasts the grace
    try:
        client = openai.OpenAI(base_url=origin.base_url, api_key=project.api_key, max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Tell me a long story"}],
            stream=True,
            extra_headers={"X-Prism-Fallback": "none"},
        )
        chunks = iter(stream)
        assert next(chunks).choices  # the answer is under way
        stopping = threading.Thread(target=origin.service.stop)
        stopping.start()
        with pytest.raises(openai.APIError) as cut:
            for _ in chunks:
                pass
        stopping.join(30)
    finally:
        sim.reset()
        await asyncio.to_thread(origin.service.stop)
    # Not a bare broken connection: the client is told why and what to do, and the row does
    # not blame the client (client_disconnected) for the gateway's restart.
    assert "incomplete" in cut.value.message
    [row] = await origin.rows(project.id, expect=1)
    assert (row["success"], row["error_code"]) == (False, "server_shutdown")
