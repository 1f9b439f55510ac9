"""A request's clock starts when its first bytes reach the origin's HTTP protocol, not when the
app is called: what happens before (parsing, building the scope, scheduling the request's task)
is part of the latency its client sees. Under uvicorn with our protocol, in this process, so the
server's and the client's perf_counter readings can be compared; and under a server that does
not stamp the scope, the clock starts when the app is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from infra.local.proc import free_port
from origin.admin.http_protocol import BoundedHeadProtocol
from origin.observability import context
from origin.observability.metrics import Metrics
from origin.observability.middleware import RequestObserver
from origin.observability.tracing import Tracing


@dataclass
class Seen:
    """What the app saw of one request."""

    path: str
    received_at: float | None
    started: float
    called_at: float


class Recorder:
    """An ASGI app that notes each request's stamps as the observer middleware left them."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        called_at = time.perf_counter()
        observation = context.current()
        assert observation is not None
        received_at = scope.get(context.RECEIVED_AT)
        self.seen.append(Seen(scope["path"], received_at, observation.started, called_at))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # pytest owns this process's signals


@contextlib.asynccontextmanager
async def served(app: RequestObserver) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=BoundedHeadProtocol,
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = _Quiet(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await task


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


async def answers(reader: asyncio.StreamReader, n: int) -> None:
    for _ in range(n):
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)  # b"ok", content-length 2


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def test_each_request_is_timed_from_its_own_first_bytes(recorder: Recorder) -> None:
    app = RequestObserver(recorder, Metrics(), Tracing())
    async with served(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        spans = []
        for path in ("/v1/first", "/v1/second"):  # one keep-alive connection
            sent = time.perf_counter()
            writer.write(get(path))
            await answers(reader, 1)
            spans.append((sent, time.perf_counter()))
        # Two pipelined in one write: both arrived with that write.
        sent = time.perf_counter()
        writer.write(get("/v1/third") + get("/v1/fourth"))
        await answers(reader, 2)
        spans += [(sent, time.perf_counter())] * 2
        writer.close()
        await writer.wait_closed()

    assert [s.path for s in recorder.seen] == ["/v1/first", "/v1/second", "/v1/third", "/v1/fourth"]
    for seen, (sent, answered) in zip(recorder.seen, spans, strict=True):
        assert seen.received_at is not None
        # The observation's clock is the protocol's stamp, taken after the client wrote and
        # before the app was called; on a reused connection it is the request's, not the
        # connection's or the previous request's.
        assert seen.started == seen.received_at
        assert sent <= seen.received_at < seen.called_at <= answered


async def test_without_a_stamp_the_clock_starts_when_the_app_is_called(
    recorder: Recorder,
) -> None:
    app = RequestObserver(recorder, Metrics(), Tracing())
    scope = {"type": "http", "method": "GET", "path": "/v1/x", "headers": []}
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    before = time.perf_counter()
    await app(scope, receive, send)
    (seen,) = recorder.seen
    assert seen.received_at is None
    assert before <= seen.started <= seen.called_at
    assert sent[0]["status"] == 200
