"""A response's head and body leave in one send: the transport uvicorn's request cycle writes to.

uvicorn writes a response's status line and headers in one `transport.write` and its body in
another; on an idle socket each is its own `send` system call and TCP segment (and over
loopback a `send` also runs the receiver's side of TCP in the sender's time). Here the head is
held and goes out with the body's first write, or at the end of the event
loop's turn it was written in if no body came in that turn (a streamed answer's head, whose
chunks come as the provider sends them), or when the cycle closes the connection.
"""

from __future__ import annotations

import asyncio
from typing import Any


class JoinedWrites:
    """The connection's transport, as its request cycles see it (one per connection)."""

    __slots__ = ("_expect_head", "_head", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._head = b""
        self._expect_head = False

    def next_response(self) -> None:
        """The next write is a response's head: hold it for its body."""
        self._expect_head = True

    def write(self, data: bytes) -> None:
        if self._expect_head:
            self._expect_head, self._head = False, data
            self._loop.call_soon(self.flush)  # a head whose body is not in this turn
        elif self._head:
            data, self._head = self._head + data, b""
            self._write(data)
        else:
            self._write(data)

    def flush(self) -> None:
        if self._head:
            data, self._head = self._head, b""
            self._write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def _write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        # Anything else a cycle might ask of its transport is the real one's.
        return getattr(self._transport, name)
