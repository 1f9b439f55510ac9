"""All network I/O to providers: one pooled HTTP client, timeouts, and error translation.

Adapters decide what to send and how to read the answer; this module sends it. Every
httpx exception is translated here and nowhere else, and the endpoint's key is scrubbed
from any message that leaves. Nothing per request is built that could be built once.

Timeouts: `connect_timeout_s` to open a connection; `first_byte_timeout_s` for any single
read (so also the wait for response headers, and for each stream chunk); and
`total_timeout_s` for the whole exchange, stream included.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Final

import httpx
import orjson

from origin.providers.base import Adapter, Completion, Endpoint, StreamState, UpstreamRequest
from origin.providers.failures import bad_response
from origin.providers.registry import build_adapters
from origin.settings import Settings
from origin.sse import SSEError, SSEParser
from shared.errors import (
    InvalidRequest,
    PrismError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

INTERRUPTED_CODE: Final = "upstream_stream_interrupted"
# What reading a well-formed but oddly shaped upstream body can raise inside an adapter.
UNEXPECTED_SHAPE: Final = (KeyError, IndexError, TypeError, ValueError, AttributeError)
_PHASES: Final = {
    httpx.ConnectTimeout: "connecting",
    httpx.WriteTimeout: "sending the request",
    httpx.PoolTimeout: "waiting for a free connection",
}


class ProviderClient:
    """Created once per app; `aclose()` at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self._total_s = settings.total_timeout_s
        timeout = httpx.Timeout(connect=settings.connect_timeout_s,
                                read=settings.first_byte_timeout_s,
                                write=settings.first_byte_timeout_s,
                                pool=settings.connect_timeout_s)
        # Sized well above the concurrency we serve so requests never queue for a socket.
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=256,
                              keepalive_expiry=30.0)
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False,
                                       headers={"user-agent": "prism-gateway"})
        self._adapters = build_adapters()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def complete(self, endpoint: Endpoint, model: str, body: Mapping[str, Any]) -> Completion:
        """The whole answer; nothing has reached the client yet, so every failure is ours to
        fail over from."""
        try:
            return await self._complete(endpoint, model, body)
        except PrismError as exc:
            raise scrubbed(exc, endpoint) from None

    async def _complete(self, endpoint: Endpoint, model: str,
                        body: Mapping[str, Any]) -> Completion:
        adapter = self._adapters[endpoint.kind]
        upstream = translated(adapter, endpoint, model, body, stream=False)
        try:
            async with asyncio.timeout(self._total_s):
                response = await self._http.send(self.build(upstream))
        except httpx.HTTPError as exc:
            raise before_first_byte(exc, endpoint.provider) from None
        except TimeoutError:
            raise total_timeout(endpoint.provider, self._total_s) from None
        if response.status_code >= 400:
            raise adapter.map_error(response.status_code, response.content, response.headers,
                                    endpoint.provider)
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise bad_response(endpoint.provider, "sent a response that is not JSON") from None
        if not isinstance(payload, dict):
            raise bad_response(endpoint.provider, "sent a response that is not an object")
        try:
            return adapter.parse_response(payload, model)
        except UNEXPECTED_SHAPE as exc:
            raise bad_response(endpoint.provider,
                               f"sent an unexpected response ({exc!r})") from None

    def stream(self, endpoint: Endpoint, model: str, body: Mapping[str, Any], chunk_id: str,
               created: int) -> ProviderStream:
        """`async with client.stream(...) as chunks: async for chunk in chunks: ...`"""
        adapter = self._adapters[endpoint.kind]
        return ProviderStream(self, adapter, endpoint, model, body, chunk_id, created)

    def build(self, upstream: UpstreamRequest) -> httpx.Request:
        try:
            content = orjson.dumps(upstream.json)
        except TypeError as exc:  # e.g. an integer beyond 64 bits in the client's body
            raise InvalidRequest(f"the request body cannot be encoded: {exc}") from None
        return self._http.build_request(upstream.method, upstream.url, headers=upstream.headers,
                                        content=content)

    async def open(self, request: httpx.Request) -> httpx.Response:
        return await self._http.send(request, stream=True)

    @property
    def total_timeout_s(self) -> float:
        return self._total_s


class ProviderStream:
    """An upstream stream: entering it gets the response headers (so failures before the
    first byte can still fail over); iterating yields OpenAI chunk dicts."""

    def __init__(self, client: ProviderClient, adapter: Adapter, endpoint: Endpoint, model: str,
                 body: Mapping[str, Any], chunk_id: str, created: int) -> None:
        self._client, self._adapter, self._endpoint = client, adapter, endpoint
        self._model, self._body = model, body
        self._decoder = adapter.stream_decoder(model, chunk_id, created)
        self.state: StreamState = self._decoder.state
        self._parser = SSEParser()
        self._pending: deque[dict[str, Any]] = deque()
        self._response: httpx.Response | None = None
        self._raw: AsyncIterator[bytes] | None = None
        self._deadline = 0.0
        self._ended = False
        self._failure: PrismError | None = None

    async def __aenter__(self) -> ProviderStream:
        try:
            await self._open()
        except PrismError as exc:
            await self._close()
            raise scrubbed(exc, self._endpoint) from None
        except BaseException:  # cancelled: callers that never entered won't call __aexit__
            await self._close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._close()

    def __aiter__(self) -> ProviderStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._pending:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise scrubbed(failure, self._endpoint)
            if self._ended or self._raw is None:
                raise StopAsyncIteration
            try:
                await self._pull(self._raw)
            except PrismError as exc:
                # Chunks decoded before the failure still go out; the error follows them.
                self._ended, self._failure = True, exc
        return self._pending.popleft()

    async def _open(self) -> None:
        provider = self._endpoint.provider
        upstream = translated(self._adapter, self._endpoint, self._model, self._body, stream=True)
        self._deadline = asyncio.get_running_loop().time() + self._client.total_timeout_s
        try:
            async with asyncio.timeout_at(self._deadline):
                self._response = await self._client.open(self._client.build(upstream))
                if self._response.status_code >= 400:
                    payload = await self._response.aread()
                    raise self._adapter.map_error(self._response.status_code, payload,
                                                  self._response.headers, provider)
        except httpx.HTTPError as exc:
            raise before_first_byte(exc, provider) from None
        except TimeoutError:
            raise total_timeout(provider, self._client.total_timeout_s) from None
        self._raw = self._response.aiter_bytes()

    async def _pull(self, raw: AsyncIterator[bytes]) -> None:
        provider = self._endpoint.provider
        try:
            async with asyncio.timeout_at(self._deadline):
                data = await anext(raw, None)
        except httpx.HTTPError as exc:
            raise mid_stream(exc, provider) from None
        except TimeoutError:
            raise total_timeout(provider, self._client.total_timeout_s) from None
        try:
            events = self._parser.feed(data) if data is not None else self._parser.close()
        except SSEError as exc:
            raise bad_response(provider, f"sent an unreadable stream ({exc})") from None
        try:
            for event in events:
                self._pending.extend(self._decoder.feed(event))
            if data is None:
                self._ended = True
                self._pending.extend(self._decoder.finish())
        except UNEXPECTED_SHAPE as exc:
            raise bad_response(provider, f"sent an unexpected stream event ({exc!r})") from None

    async def _close(self) -> None:
        raw, self._raw = self._raw, None
        response, self._response = self._response, None
        if raw is not None and hasattr(raw, "aclose"):
            await raw.aclose()
        if response is not None:
            await response.aclose()


def translated(adapter: Adapter, endpoint: Endpoint, model: str, body: Mapping[str, Any],
               stream: bool) -> UpstreamRequest:
    try:
        return adapter.build_request(endpoint, model, body, stream)
    except UNEXPECTED_SHAPE as exc:
        # Validation upstream of us checks the common shapes; what slips through is the
        # client's malformed request, not our failure.
        raise InvalidRequest(f"the request cannot be sent to {endpoint.provider}: "
                             f"{type(exc).__name__}: {exc}") from None


def before_first_byte(exc: httpx.HTTPError, provider: str) -> PrismError:
    """A failure before any answer: another provider may well succeed."""
    if isinstance(exc, httpx.TimeoutException):
        phase = _PHASES.get(type(exc), "waiting for the first byte")
        return UpstreamTimeout(f"{provider} timed out {phase}")
    if isinstance(exc, httpx.TransportError):
        return UpstreamUnavailable(f"{provider} could not be reached: {_describe(exc)}")
    return UpstreamError(f"calling {provider} failed: {_describe(exc)}")


def mid_stream(exc: httpx.HTTPError, provider: str) -> PrismError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"{provider} stopped sending mid-stream")
    return UpstreamError(f"{provider} broke off the stream: {_describe(exc)}",
                         code=INTERRUPTED_CODE)


def total_timeout(provider: str, seconds: float) -> UpstreamTimeout:
    return UpstreamTimeout(f"{provider} did not finish within {seconds:g}s")


def scrubbed(exc: PrismError, endpoint: Endpoint) -> PrismError:
    """The same error with the endpoint's key cut out of its message, wherever it came from."""
    key = endpoint.api_key.reveal()
    if key and key in exc.message:
        exc.message = exc.message.replace(key, "***")
        exc.args = (exc.message,)
    return exc


def _describe(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__
