"""The one aiohttp session provider calls share, and how its exceptions read as ours.

aiohttp rather than httpx because httpcore's pool bookkeeping walks every pooled connection
on each request start and end, which made one origin worker CPU-bound (bench/README.md).
"""

from __future__ import annotations

import logging
from typing import Final

import aiohttp

from origin.providers.upstream_guard import (
    ADDRESS_REFUSED_CODE,
    AddressRefused,
    GuardedResolver,
    UpstreamPolicy,
)
from origin.providers.wire import WireTimedResponse, timed_connector
from origin.settings import Settings
from shared.errors import PrismError, UpstreamError, UpstreamTimeout, UpstreamUnavailable

log = logging.getLogger("prism.providers")

INTERRUPTED_CODE: Final = "upstream_stream_interrupted"
# Sized well above the concurrency we serve so requests never queue for a socket; providers
# are few hosts, so the per-host limit has to be as generous as the overall one.
MAX_CONNECTIONS: Final = 512
KEEPALIVE_S: Final = 30.0
USER_AGENT: Final = "prism-gateway"
# An error body is only summarised: its first bytes say all we will use.
ERROR_BODY_BYTES: Final = 64 * 1024
_READ_CHUNK: Final = 64 * 1024


class TooLarge(Exception):
    """A response body (as decompressed) went past the limit we read up to."""


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, decompressed, or TooLarge as soon as it passes `limit` bytes.

    Counted after decompression (aiohttp inflates in bounded steps as we read), so a small
    gzip bomb is caught as early as a huge plain body; memory stays about `limit`.
    """
    declared = response.content_length
    if declared is not None and declared > limit:  # compressed or not, it will not fit
        raise TooLarge(f"declared {declared} bytes")
    if declared is not None and "Content-Encoding" not in response.headers:
        return await response.read()  # uncompressed: the declared size is what arrives
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"more than {limit} bytes")
    return bytes(body)


async def read_error_body(response: aiohttp.ClientResponse) -> bytes:
    """The first ERROR_BODY_BYTES of an error response (the rest is never read)."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        body += chunk[: ERROR_BODY_BYTES - len(body)]
        if len(body) >= ERROR_BODY_BYTES:
            break
    return bytes(body)


def open_session(settings: Settings, policy: UpstreamPolicy) -> aiohttp.ClientSession:
    """Call inside the running loop. `connect` covers waiting for a pooled socket as well as
    opening one; `sock_read` bounds every single read, so the wait for the response headers
    and for each stream chunk; the whole-exchange limit is the caller's."""
    connector = timed_connector(
        limit=MAX_CONNECTIONS,
        limit_per_host=MAX_CONNECTIONS,
        keepalive_timeout=KEEPALIVE_S,
        # Every address a host name resolves to is checked before it is connected to.
        resolver=GuardedResolver(policy),
    )
    timeout = aiohttp.ClientTimeout(
        total=None, connect=settings.connect_timeout_s, sock_read=settings.first_byte_timeout_s
    )
    # No cookie jar: a cookie one project's provider call sets must never ride along on
    # another project's call through the same session.
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        cookie_jar=aiohttp.DummyCookieJar(),
        response_class=WireTimedResponse,
        headers={"User-Agent": USER_AGENT},
        auto_decompress=True,
        raise_for_status=False,
        trust_env=False,
    )


def before_first_byte(exc: aiohttp.ClientError, provider: str) -> PrismError:
    """A failure before any answer: another provider may well succeed."""
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, AddressRefused):
        return UpstreamUnavailable(
            f"the {provider} endpoint is {exc.os_error.strerror}", code=ADDRESS_REFUSED_CODE
        )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(f"{provider} timed out connecting")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"{provider} timed out waiting for the first byte")
    if isinstance(exc, aiohttp.ClientConnectionError):
        return UpstreamUnavailable(f"{provider} could not be reached: {describe(exc)}")
    return UpstreamError(f"calling {provider} failed: {describe(exc)}")


def mid_stream(exc: aiohttp.ClientError, provider: str) -> PrismError:
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"{provider} stopped sending mid-stream")
    # The client reads this in the stream's error event; aiohttp's own words ("<TransferEncoding
    # Error: 400, message='Not enough data...'>") name a status that was never sent. Logged.
    log.warning("%s broke off the stream: %s", provider, describe(exc))
    return UpstreamError(
        f"{provider} broke off the stream before the answer ended", code=INTERRUPTED_CODE
    )


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
