"""One streamed answer, owned from its upstream connection to its usage row.

`open_stream` reads an upstream stream up to its first content chunk, so the client's
response headers wait until there is something to say (and failover stays possible until
then). `StreamRelay` is the ASGI response that takes over: it sends the held chunks and the
rest, and whatever happens (a clean end, a provider failure after the first byte, the
client going away, the server cancelling the request) its `finally` closes the upstream
connection and reports the end exactly once. `unless_disconnected` covers the time before
there is a response: a client that leaves then cancels the upstream attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from starlette.types import Receive, Scope, Send

from origin.cache.accumulator import StreamAccumulator
from origin.gateway.attempts import Target
from origin.providers.failures import bad_response
from origin.providers.transport import ProviderStream
from shared import sse
from shared.errors import PrismError, ShuttingDown
from shared.pricing import TokenUsage

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its response started."""


@dataclass
class Opened:
    target: Target
    stream: ProviderStream
    head: list[dict[str, Any]]  # chunks up to and including the first with content


@dataclass
class StreamEnd:
    target: Target
    completed: bool
    error: PrismError | None
    disconnected: bool
    usage: TokenUsage | None
    delivered: StreamAccumulator = field(default_factory=StreamAccumulator)
    prompt_usage: TokenUsage | None = None  # the input side reported before the end


def has_content(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or choice.get("finish_reason"):
            return True
    return False


async def open_stream(target: Target, opener: ProviderStream) -> Opened:
    """The stream with its first content chunk read; closed again if that fails."""
    stream = await opener.__aenter__()
    try:
        head: list[dict[str, Any]] = []
        async for chunk in stream:
            head.append(chunk)
            if has_content(chunk):
                return Opened(target, stream, head)
        # Ended cleanly ([DONE], message_stop) with neither text nor a finish: no answer at
        # all, so as much a failure to fail over from as a stream cut before its content.
        raise bad_response(target.provider, "ended the stream without any answer")
    except BaseException:
        await stream.__aexit__(None, None, None)
        raise


async def close_opened(opened: Opened) -> None:
    await opened.stream.__aexit__(None, None, None)


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """`work`'s result, or ClientGone (with `work` cancelled) if the client leaves first.

    `work` runs in the calling task and a watcher cancels that task if the client goes: one
    task per request instead of two, and no `asyncio.wait` (this is on every request)."""
    current = asyncio.current_task()
    assert current is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await _disconnect(receive)
        gone = True
        current.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        current.uncancel()
        raise ClientGone("the client disconnected before the response started") from None
    finally:
        watcher.cancel()


def event(payload: dict[str, Any]) -> bytes:
    return sse.data_event(payload, orjson.dumps)


class StreamRelay:
    """The ASGI response for one won stream; `on_end` is called once, whatever happens."""

    media_type = "text/event-stream"

    def __init__(
        self,
        opened: Opened,
        headers: dict[str, str],
        on_end: Callable[[StreamEnd], None],
        usage_chunk: Callable[[TokenUsage | None], dict[str, Any]] | None = None,
    ) -> None:
        self._opened = opened
        self._headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._headers += [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        self._on_end, self._usage_chunk = on_end, usage_chunk
        self._delivered = StreamAccumulator()
        self._completed = self._disconnected = self._ended = False
        self._error: PrismError | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            if pump.done():
                pump.result()
            else:
                self._disconnected = True
        except OSError:  # the socket went away under a write
            self._disconnected = True
        except asyncio.CancelledError:
            # Only the server cancels a request task: its shutdown grace ran out mid-answer.
            await self._cut_short(pump, send)
            raise
        finally:
            for task in (pump, watch):
                task.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
            await self.end()

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self._headers})
        stream = self._opened.stream
        try:
            for chunk in self._opened.head:
                await self._send(send, chunk)
            async for chunk in stream:
                await self._send(send, chunk)
            self._completed = True
            if self._usage_chunk is not None:
                await send_body(send, event(self._usage_chunk(stream.state.usage)))
            await send_body(send, sse.DONE)
        except PrismError as exc:
            # The headers are gone: OpenAI clients read an error object from the stream.
            self._error = exc
            await send_body(send, event(exc.envelope()))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _cut_short(self, pump: asyncio.Future[None], send: Send) -> None:
        """End a stream the server is cutting with an error event, as a provider failure after
        the first byte ends: a client must not take a cut answer for a whole one."""
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        if self._completed or self._error is not None:
            return
        self._error = ShuttingDown(
            "Prism is restarting and cut this answer short; it is incomplete. Retry the request."
        )
        try:
            await send_body(send, event(self._error.envelope()))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            self._disconnected = True

    async def _send(self, send: Send, chunk: dict[str, Any]) -> None:
        try:
            data = event(chunk)
        except orjson.JSONEncodeError:
            # orjson reads JSON nested up to 1024 deep but writes only 254: a provider's chunk
            # nested in between cannot be passed on. Its failure, so it ends the stream as one
            # (an error event), not as a crash that cuts the body and blames the client.
            provider = self._opened.target.provider
            raise bad_response(provider, "sent a chunk nested too deeply to pass on") from None
        self._delivered.add(chunk)
        await send_body(send, data)

    async def end(self) -> None:
        """Close the upstream connection and report the end; later calls do nothing."""
        if self._ended:
            return
        self._ended = True
        opened = self._opened
        try:
            await close_opened(opened)
        finally:
            self._on_end(
                StreamEnd(
                    opened.target,
                    self._completed,
                    self._error,
                    self._disconnected and not self._completed,
                    opened.stream.state.usage,
                    self._delivered,
                    opened.stream.state.prompt_usage,
                )
            )


async def send_body(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})
