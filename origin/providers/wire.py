"""How long a provider kept a call waiting, as the connection sees it: from the request's
last byte written to the response's last byte received.

Timing around `session.request()` and the body read would also count our own client's CPU
(building the request, checking out a connection, writing it from a separate task, parsing
the response), which a gateway's client experiences as the gateway's time, not the
provider's. The connection's protocol sees the two moments that bound the provider's share:
aiohttp calls its `start_timeout()` right after the request is written (that starts the read
timeout) and its `data_received()` with every read. The response remembers its connection's
protocol, because a connection goes back to the pool as soon as the whole body has arrived,
often before `session.request()` even returns.

The moment the request is written is also when the caller's own CPU can overlap the
provider's wait: `after_sent` runs a callback on the loop's next turn after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from contextvars import Context, ContextVar, copy_context
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.connector import Connection

# Set around a call's attempts; aiohttp's writer task runs in a copy of the caller's context.
_AFTER_SENT: ContextVar[tuple[Callable[[], None], Context] | None] = ContextVar(
    "prism_after_sent", default=None
)


class WireTimedHandler(ResponseHandler):
    """aiohttp's client protocol, noting when a request went out and its answer came in."""

    sent_at = 0.0
    received_at = 0.0

    def start_timeout(self) -> None:
        self.sent_at = time.perf_counter()
        super().start_timeout()
        then = _AFTER_SENT.get()
        if then is not None:
            asyncio.get_running_loop().call_soon(then[0], context=then[1])

    def data_received(self, data: bytes) -> None:
        self.received_at = time.perf_counter()
        super().data_received(data)


class WireTimedResponse(aiohttp.ClientResponse):
    """A response that keeps its connection's protocol and when its request went out."""

    wire: WireTimedHandler | None = None
    sent_at = 0.0

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        handler = connection.protocol
        response = await super().start(connection)
        # Not yet yielded since the headers arrived: the connection is still this exchange's.
        if isinstance(handler, WireTimedHandler):
            self.wire, self.sent_at = handler, handler.sent_at
        return response


def timed_connector(**options: Any) -> aiohttp.TCPConnector:
    """A TCPConnector whose connections are WireTimedHandlers. Call inside the running loop."""
    connector = aiohttp.TCPConnector(**options)
    # aiohttp has no public setting for the protocol class; the connector builds every
    # connection (plain or TLS) from this factory. tests/test_providers_wire_time.py fails if
    # a new aiohttp stops using it.
    loop = asyncio.get_running_loop()
    # (functools.partial is invariant in mypy's eyes; a WireTimedHandler is a ResponseHandler.)
    connector._factory = functools.partial(WireTimedHandler, loop=loop)  # type: ignore[assignment]
    return connector


def waited(response: aiohttp.ClientResponse, since: float) -> float:
    """Seconds the provider held the exchange, once its whole answer is read: from the request
    written to the last byte received. When the connection cannot say (not ours, or already
    reused by the next exchange), the time since `since`, our own included."""
    if isinstance(response, WireTimedResponse) and (wire := response.wire) is not None:
        sent = response.sent_at
        if wire.sent_at == sent and since <= sent <= wire.received_at:
            return wire.received_at - sent
    return time.perf_counter() - since


@contextlib.contextmanager
def after_sent(callback: Callable[[], None] | None) -> Iterator[None]:
    """Within: each provider request, once written, has `callback` run on the loop's next turn,
    while the provider works (aiohttp yields before writing, so the turn after the call starts
    is too early). It may run once per attempt, or not at all (a failure before any write). It
    runs in the context of the `with` (its trace span), not in the attempt's."""
    if callback is None:
        yield
        return
    token = _AFTER_SENT.set((callback, copy_context()))
    try:
        yield
    finally:
        _AFTER_SENT.reset(token)
