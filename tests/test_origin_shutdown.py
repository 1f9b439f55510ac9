"""The origin's shutdown is bounded: answers in flight get PRISM_SHUTDOWN_GRACE_S to finish, a
dependency whose close hangs is abandoned, and the closes after it (the ledger's among them)
still run."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from infra.local.proc import free_port
from origin.admin.serve import server_for
from origin.background import BoundedExitStack
from origin.settings import Settings


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
