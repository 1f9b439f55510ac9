"""The plain-Python HTTP vocabulary the edge speaks: requests, responses and an HTTP client.

The Workers runtime (entry.py) and the CPython tests each implement `HttpClient`, so handler
logic never sees a runtime object and runs unchanged under both.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Protocol

# Ordered (name, value) pairs: a list keeps repeated headers such as Set-Cookie intact.
Headers = list[tuple[str, str]]

# A body is either fully in memory or a stream of chunks read exactly once.
Body = bytes | AsyncIterable[bytes]


class FetchError(Exception):
    """The peer could not be reached or the exchange broke before a response arrived."""


class FetchTimeout(FetchError):
    """No response headers arrived within the time allowed."""


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Headers = field(default_factory=list)
    # Buffered: chat requests are bounded JSON, and the cache stages need the bytes to key on.
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Headers = field(default_factory=list)
    body: Body = b""

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


class HttpClient(Protocol):
    async def fetch(
        self, method: str, url: str, headers: Headers, body: bytes | None, timeout_s: float
    ) -> Response:
        """Send one request without following redirects; the response body streams.

        `timeout_s` bounds the wait for response headers only, so a long stream is never cut.
        Raises FetchTimeout or FetchError instead of returning when no response arrives.
        """
        ...


def header_value(headers: Headers, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


async def read_body(body: Body) -> bytes:
    if isinstance(body, bytes):
        return body
    return b"".join([chunk async for chunk in body])
