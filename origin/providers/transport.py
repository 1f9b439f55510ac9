"""All network I/O to providers: one pooled HTTP client, timeouts, and error translation.

Adapters decide what to send and how to read the answer; this module sends it. Every
aiohttp exception is translated here (through `origin.providers.http`) and nowhere else, and
the endpoint's key is scrubbed from any message that leaves. Nothing per request is built
that could be built once.

Timeouts: `connect_timeout_s` to open a connection; `first_byte_timeout_s` for any single
read (so also the wait for response headers, and for each stream chunk); and
`total_timeout_s` for the whole exchange, stream included.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson

from origin.observability import context
from origin.providers.base import Adapter, Completion, Endpoint, StreamState, UpstreamRequest
from origin.providers.encoding import encoded, translated
from origin.providers.failures import UNEXPECTED_SHAPE, bad_response, scrubbed, total_timeout
from origin.providers.http import (
    TooLarge,
    before_first_byte,
    mid_stream,
    open_session,
    read_error_body,
    read_limited,
)
from origin.providers.registry import build_adapters
from origin.providers.sse import SSEError, SSEParser
from origin.providers.upstream_guard import ADDRESS_REFUSED_CODE, UpstreamPolicy, UpstreamRefused
from origin.providers.wire import waited
from origin.settings import Settings
from shared.errors import PrismError, UpstreamUnavailable


class ProviderClient:
    """Created once per app; `aclose()` at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._total_s = settings.total_timeout_s
        # An aiohttp session belongs to the loop it was made in, and this object may be
        # built before one runs; the first call makes the session, and every later one shares it.
        self._http: aiohttp.ClientSession | None = None
        self._adapters = build_adapters()
        self._policy = UpstreamPolicy(settings.upstream_allowlist)

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    async def complete(
        self,
        endpoint: Endpoint,
        model: str,
        body: Mapping[str, Any],
        *,
        prompt_cache: bool = False,
    ) -> Completion:
        """The whole answer; nothing has reached the client yet, so every failure is ours to
        fail over from. `prompt_cache`: see Adapter.build_request."""
        try:
            return await self._complete(endpoint, model, body, prompt_cache)
        except PrismError as exc:
            raise scrubbed(exc, endpoint) from None

    async def _complete(
        self, endpoint: Endpoint, model: str, body: Mapping[str, Any], prompt_cache: bool
    ) -> Completion:
        adapter = self._adapters[endpoint.kind]
        upstream = translated(adapter, endpoint, model, body, False, prompt_cache)
        content = encoded(upstream)
        asked = time.perf_counter()
        try:
            async with asyncio.timeout(self._total_s):
                response = await self.open(upstream, content)
                try:
                    raw = await self._read(response)
                finally:
                    let_go(response)
                provider_s = waited(response, asked)
        except aiohttp.ClientError as exc:  # first: aiohttp's own timeouts are TimeoutErrors too
            raise before_first_byte(exc, endpoint.provider) from None
        except TimeoutError:
            raise total_timeout(endpoint.provider, self._total_s) from None
        except TooLarge as exc:
            raise bad_response(endpoint.provider, f"sent a response too large ({exc})") from None
        if response.status >= 400:
            raise adapter.map_error(response.status, raw, response.headers, endpoint.provider)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise bad_response(endpoint.provider, "sent a response that is not JSON") from None
        if not isinstance(payload, dict):
            raise bad_response(endpoint.provider, "sent a response that is not an object")
        try:
            completion = adapter.parse_response(payload, model)
        except UNEXPECTED_SHAPE as exc:
            raise bad_response(
                endpoint.provider, f"sent an unexpected response ({exc!r})"
            ) from None
        # Only an answer's wait is counted here; a failed attempt counts whole (gateway.dispatch).
        context.waited_on_provider(provider_s)
        return completion

    def stream(
        self,
        endpoint: Endpoint,
        model: str,
        body: Mapping[str, Any],
        chunk_id: str,
        created: int,
        *,
        prompt_cache: bool = False,
    ) -> ProviderStream:
        """`async with client.stream(...) as chunks: async for chunk in chunks: ...`"""
        adapter = self._adapters[endpoint.kind]
        return ProviderStream(
            self, adapter, endpoint, model, body, chunk_id, created, prompt_cache=prompt_cache
        )

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        if response.status >= 400:
            return await read_error_body(response)
        return await read_limited(response, self._settings.max_response_bytes)

    @property
    def max_response_bytes(self) -> int:
        return self._settings.max_response_bytes

    async def open(self, upstream: UpstreamRequest, content: bytes) -> aiohttp.ClientResponse:
        """The response with its headers read and its body not; the caller releases it."""
        try:
            # Every call: the URL came from a database row, which may have changed since.
            self._policy.check_url(upstream.url)
        except UpstreamRefused as exc:
            raise UpstreamUnavailable(
                f"the provider endpoint is refused: {exc}", code=ADDRESS_REFUSED_CODE
            ) from None
        if self._http is None:
            self._http = open_session(self._settings, self._policy)
        return await self._http.request(
            upstream.method,
            upstream.url,
            headers=upstream.headers,
            data=content,
            allow_redirects=False,
        )

    @property
    def total_timeout_s(self) -> float:
        return self._total_s


class ProviderStream:
    """An upstream stream: entering it gets the response headers (so failures before the
    first byte can still fail over); iterating yields OpenAI chunk dicts."""

    def __init__(
        self,
        client: ProviderClient,
        adapter: Adapter,
        endpoint: Endpoint,
        model: str,
        body: Mapping[str, Any],
        chunk_id: str,
        created: int,
        *,
        prompt_cache: bool = False,
    ) -> None:
        self._client, self._adapter, self._endpoint = client, adapter, endpoint
        self._model, self._body, self._prompt_cache = model, body, prompt_cache
        self._decoder = adapter.stream_decoder(model, chunk_id, created)
        self.state: StreamState = self._decoder.state
        self._parser = SSEParser(client.max_response_bytes)
        self._pending: deque[dict[str, Any]] = deque()
        self._response: aiohttp.ClientResponse | None = None
        self._deadline = 0.0
        self._ended = False
        self._failure: PrismError | None = None

    async def __aenter__(self) -> Self:
        try:
            await self._open()
        except PrismError as exc:
            await self._close()
            raise scrubbed(exc, self._endpoint) from None
        except BaseException:  # cancelled: callers that never entered won't call __aexit__
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    def __aiter__(self) -> ProviderStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._pending:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise scrubbed(failure, self._endpoint)
            if self._ended or self._response is None:
                raise StopAsyncIteration
            try:
                await self._pull(self._response.content)
            except PrismError as exc:
                # Chunks decoded before the failure still go out; the error follows them.
                self._ended, self._failure = True, exc
        return self._pending.popleft()

    async def _open(self) -> None:
        provider = self._endpoint.provider
        upstream = translated(
            self._adapter, self._endpoint, self._model, self._body, True, self._prompt_cache
        )
        content = encoded(upstream)
        self._deadline = asyncio.get_running_loop().time() + self._client.total_timeout_s
        try:
            async with asyncio.timeout_at(self._deadline):
                self._response = await self._client.open(upstream, content)
                if self._response.status >= 400:
                    payload = await read_error_body(self._response)
                    raise self._adapter.map_error(
                        self._response.status, payload, self._response.headers, provider
                    )
        except aiohttp.ClientError as exc:  # first: aiohttp's own timeouts are TimeoutErrors too
            raise before_first_byte(exc, provider) from None
        except TimeoutError:
            raise total_timeout(provider, self._client.total_timeout_s) from None

    async def _pull(self, raw: aiohttp.StreamReader) -> None:
        provider = self._endpoint.provider
        try:
            async with asyncio.timeout_at(self._deadline):
                # Whatever has arrived, without waiting to fill a buffer; b"" only at the end.
                data: bytes | None = await raw.readany() or None
        except aiohttp.ClientError as exc:
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
        response, self._response = self._response, None
        if response is not None:
            let_go(response)


def let_go(response: aiohttp.ClientResponse) -> None:
    if response.content.at_eof():
        response.release()  # read to its end: the socket goes back to the pool
    else:
        response.close()  # an unread rest would corrupt the next exchange on that socket
