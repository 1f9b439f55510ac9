"""A response's head waits for its body only within one turn of the loop (origin.admin
.joined_writes): a head whose body comes later, or never (HEAD), still reaches the client at
once, and pipelined answers keep their order. Under uvicorn with the origin's protocol, in this
process."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Receive, Scope, Send

from tests.test_observability_request_clock import served

JSON = [(b"content-type", b"application/json"), (b"content-length", b"2")]


class SlowBody:
    """Sends the head, then the body only once the test says the head has arrived."""

    def __init__(self) -> None:
        self.head_seen = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": JSON})
        await self.head_seen.wait()
        await send({"type": "http.response.body", "body": b"{}"})


async def echo_path(scope: Scope, receive: Receive, send: Send) -> None:
    body = scope["path"][-2:].encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def test_a_head_whose_body_comes_later_is_not_held_for_it() -> None:
    app = SlowBody()
    async with served(app) as port:  # type: ignore[arg-type]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /v1/slow HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        app.head_seen.set()
        assert await asyncio.wait_for(reader.readexactly(2), timeout=5) == b"{}"
        writer.close()
        await writer.wait_closed()


async def test_a_head_request_gets_its_head_though_no_body_is_written() -> None:
    async with served(echo_path) as port:  # type: ignore[arg-type]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HEAD /v1/ab HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"content-length: 2\r\n" in head
        writer.close()
        await writer.wait_closed()


async def test_pipelined_answers_arrive_whole_and_in_order() -> None:
    async with served(echo_path) as port:  # type: ignore[arg-type]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        paths = [f"/v1/{n:02d}" for n in range(20)]
        writer.write(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
        bodies = []
        for _ in paths:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            bodies.append((await asyncio.wait_for(reader.readexactly(2), timeout=5)).decode())
        assert bodies == [p[-2:] for p in paths]
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    ("request_line", "ending"),
    [("GET /v1/zz", b"\r\n\r\nzz"), ("HEAD /v1/ab", b"\r\n\r\n")],  # HEAD: a head alone
)
async def test_a_closing_connection_gets_its_whole_answer_before_the_close(
    request_line: str, ending: bytes
) -> None:
    async with served(echo_path) as port:  # type: ignore[arg-type]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"{request_line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), timeout=5)  # to the server's close
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(ending)
        writer.close()
        await writer.wait_closed()
