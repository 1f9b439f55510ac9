"""Bytes on the wire: ASGI response helpers, SSE framing, and the connection-level faults."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Protocol

import orjson

from .cache import PromptCache
from .content import Reply
from .turn import Counts, Turn

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"
EVENT_STREAM = b"text/event-stream"
DISCONNECT_GRACE_S = 5.0


class WireFormat(Protocol):
    """What each provider module (openai_format, anthropic_format, gemini_format) provides."""

    def check_headers(
        self, headers: dict[str, str], query: dict[str, str]
    ) -> tuple[int, str] | None: ...
    def parse(
        self, body: Any, path_model: str | None, path_stream: bool, query: dict[str, str]
    ) -> Turn: ...
    def error(self, status: int, message: str | None = None) -> bytes: ...
    def model_not_found(self, model: str) -> bytes: ...
    def account(self, cache: PromptCache, provider: str, turn: Turn) -> Counts: ...
    def usage(self, counts: Counts, reply: Reply, turn: Turn) -> dict[str, Any]: ...
    def render(self, turn: Turn, reply: Reply, usage: dict[str, Any] | None, rid: int) -> bytes: ...
    def events(
        self, turn: Turn, reply: Reply, usage: dict[str, Any] | None, rid: int
    ) -> list[bytes]: ...
    def stream_type(self, turn: Turn) -> bytes: ...
    def id_headers(self, rid: int) -> Headers: ...


def sse(data: bytes, event: str | None = None, sep: bytes = b"\n\n") -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + sep


def malformed(events: list[bytes]) -> list[bytes]:
    """Insert, after the first event, a broken copy of the next one: its JSON cut in half."""
    if len(events) < 2:
        return events
    head, marker, payload = events[1].partition(b"data: ")
    if not marker:
        return [events[0], events[1][: len(events[1]) // 2], *events[1:]]
    payload = payload.rstrip()
    return [events[0], head + marker + payload[: max(1, len(payload) // 2)] + b"\n\n", *events[1:]]


def inserted(
    events: list[bytes], after: int, data: Any, event: str | None, end: bool
) -> list[bytes]:
    """`events` with one more after the first `after`: `data` as JSON (a string as is); with
    `end`, nothing after it."""
    raw = data.encode() if isinstance(data, str) else orjson.dumps(data)
    extra = sse(raw, event)
    return [*events[:after], extra, *([] if end else events[after:])]


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    content_type: bytes = JSON,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def stream(
    send: Send,
    events: list[bytes],
    headers: Headers,
    content_type: bytes,
    delay_ms: int,
    cut_after: int | None,
    first_delay_ms: int = 0,
) -> None:
    """Send events one by one; with cut_after, stop after that many, leaving the body unfinished;
    with first_delay_ms, the headers go at once and the first event that much later."""
    start_headers = [(b"content-type", content_type), (b"cache-control", b"no-cache"), *headers]
    await send({"type": "http.response.start", "status": 200, "headers": start_headers})
    if first_delay_ms:
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await asyncio.sleep(first_delay_ms / 1000)
    if cut_after is None and delay_ms == 0:
        # Nothing needs them apart, so one write: the client parses the same events either way.
        await send({"type": "http.response.body", "body": b"".join(events), "more_body": False})
        return
    for index, event in enumerate(events):
        if cut_after is not None and index >= cut_after:
            return  # Returning mid-body makes the server close the connection, body unfinished.
        if index and delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        await send({"type": "http.response.body", "body": event, "more_body": True})
    if cut_after is None:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


PAD_MARKER = "@@prism-sim-pad@@"  # the huge text's place while the body is rendered (ASCII:
# every encoder writes it as is)
_PAD_CHUNK = 64 * 1024


async def huge(send: Send, rendered: bytes, size: int, gzip: bool, headers: Headers) -> None:
    """`rendered` (a JSON body whose text is PAD_MARKER) with the marker replaced by `size`
    bytes of text, streamed as generated so the simulator never holds it all."""
    head, _, tail = rendered.partition(PAD_MARKER.encode())
    squeeze = zlib.compressobj(wbits=31) if gzip else None  # 31: gzip framing
    extra = [(b"content-encoding", b"gzip")] if gzip else []
    start_headers = [(b"content-type", JSON), *extra, *headers]
    await send({"type": "http.response.start", "status": 200, "headers": start_headers})

    async def out(data: bytes, more: bool = True) -> None:
        if squeeze is not None:
            data = squeeze.compress(data) + (b"" if more else squeeze.flush())
        await send({"type": "http.response.body", "body": data, "more_body": more})

    await out(head)
    pad = b"a" * _PAD_CHUNK
    for start in range(0, size, _PAD_CHUNK):
        await out(pad[: min(_PAD_CHUNK, size - start)])
    await out(tail, more=False)


async def wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _transport(send: Send) -> asyncio.BaseTransport | None:
    """The client socket's transport behind Hypercorn's ASGI send callable, if reachable.

    ASGI can't express "close without a response": Hypercorn answers 500 for an app that
    returns before starting one. Its send is a bound method whose owner's `send` leads, a
    few hops on, to the connection's StreamWriter; we follow that chain to drop the socket.
    """
    owner: Any = getattr(send, "__self__", None)
    for _ in range(5):
        writer = getattr(owner, "writer", None)
        if isinstance(writer, asyncio.StreamWriter):
            return writer.transport
        owner = getattr(getattr(owner, "send", None), "__self__", None)
    return None


async def drop_connection(send: Send, receive: Receive, body: bytes) -> None:
    """Close the connection before any response byte; failing that, mid-body."""
    transport = _transport(send)
    if transport is None:
        length = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        return
    transport.abort()  # type: ignore[attr-defined]
    try:
        await asyncio.wait_for(wait_for_disconnect(receive), DISCONNECT_GRACE_S)
    except TimeoutError:
        return
