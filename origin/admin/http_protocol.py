"""uvicorn's HTTP/1.1 protocol (httptools) with bounds on a request's head, in size and in
time, and its refusals of malformed HTTP in the OpenAI envelope like every other error.

httptools keeps accepting a request line and headers for as long as a client sends them (a
13 MB header was read whole in a probe), so one slow client could hold any amount of a
worker's memory. A head past MAX_HEAD_BYTES is answered 431 in the OpenAI envelope and the
connection closed. Counted per chunk as it arrives, so memory stays within the bound plus one
read (uvloop reads at most 256 KiB at a time). A head must also arrive within HEAD_TIMEOUT_S
of its first byte (or of the connection opening): uvicorn only times out idle keep-alive
connections, so a client trickling a head a byte at a time could hold a connection forever.

It also notes when each request's first bytes arrived and hands that to the app in the scope
(`origin.observability.context.RECEIVED_AT`): a request's latency, as its client sees it,
includes the parsing, scope building and task scheduling that happen before the app runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from origin.admin.joined_writes import JoinedWrites
from origin.observability.context import RECEIVED_AT
from shared.errors import error_envelope

MAX_HEAD_BYTES: Final = 64 * 1024
HEAD_TIMEOUT_S: Final = 10.0


def _refusal(status: bytes, message: str, code: str) -> bytes:
    body = orjson.dumps(error_envelope(message, "invalid_request_error", code, None))
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


_HEAD_TOO_LARGE: Final = _refusal(
    b"431 Request Header Fields Too Large",
    f"The request line and headers are larger than {MAX_HEAD_BYTES // 1024} KiB.",
    "request_header_fields_too_large",
)
_HEAD_TOO_SLOW: Final = _refusal(
    b"408 Request Timeout",
    f"The request line and headers did not arrive within {HEAD_TIMEOUT_S:g} s.",
    "request_timeout",
)
_MALFORMED: Final = _refusal(
    b"400 Bad Request", "The request is not valid HTTP/1.1.", "invalid_http"
)


class BoundedHeadProtocol(HttpToolsProtocol):
    _in_head = True  # the connection starts waiting for a request's head
    _head_bytes = 0
    _head_timer: asyncio.TimerHandle | None = None
    _received_at = 0.0  # perf_counter() when the current head's first bytes arrived
    _joined: JoinedWrites | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._joined = JoinedWrites(transport, self.loop)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if not self._head_bytes:
                self._received_at = time.perf_counter()
            self._head_bytes += len(data)
            self._arm_head_timer()
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._close_with(_HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A request pipelined behind another in the same read arrived with it.
        self.scope[RECEIVED_AT] = self._received_at  # type: ignore[typeddict-unknown-key]

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        self._disarm_head_timer()
        super().on_headers_complete()
        if self.cycle is not None and self._joined is not None:
            # Its head and body leave in one send (origin.admin.joined_writes).
            self._joined.next_response()
            self.cycle.transport = self._joined  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # the next head's clock starts with its bytes

    def send_400_response(self, msg: str) -> None:
        """What uvicorn answers a request httptools cannot parse (text/plain there)."""
        self._close_with(_MALFORMED)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._close_with(_HEAD_TOO_SLOW)

    def _close_with(self, refusal: bytes) -> None:
        self._in_head = False
        self._disarm_head_timer()
        if self._joined is not None:
            self._joined.flush()  # a held answer to the request before goes first
        if not self.transport.is_closing():
            self.transport.write(refusal)
            self.transport.close()
