"""Pure-ASGI middleware: it must not buffer, because streamed completions pass through it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PayloadTooLarge


class BodyLimit:
    """Stops reading a request body once it passes `limit` bytes, declared length or not.

    The error is raised from `receive`, i.e. inside the endpoint that reads the body, so the
    app's one exception handler renders it as a 413 envelope. Before raising, the rest of a
    moderately oversized body is read and discarded: a client that is still sending when the
    server answers and closes sees a connection reset instead of our 413.
    """

    DRAIN_FACTOR = 8

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        drain_cap = self.limit * self.DRAIN_FACTOR
        hopeless = declared.isdigit() and int(declared) > drain_cap
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if hopeless:
                raise PayloadTooLarge(self._message())
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    while message.get("more_body") and received <= drain_cap:
                        message = await receive()
                        received += len(message.get("body", b""))
                    raise PayloadTooLarge(self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"The request body is larger than the {self.limit} bytes this gateway accepts."
