"""The Worker's entry module, and the only one that touches the Workers runtime.

It turns the runtime's request into an `edge.web.Request`, runs `edge.handler.handle`, and
turns the answer back into a runtime response. It also gives the handler an HTTP client on the
runtime's fetch and a `wait_until` on the request's execution context.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Coroutine
from typing import Any, ClassVar, Final

import js
from js import Object
from pyodide.ffi import JsException, JsProxy, create_proxy, to_js
from workers import Response as WorkersResponse
from workers import WorkerEntrypoint

from edge import logs
from edge.callers import CallerCache
from edge.context import Runtime
from edge.cooldowns import Cooldowns
from edge.handler import handle, refuse
from edge.limits import DEFAULT_MAX_BODY_BYTES, declared_length, max_body_bytes, too_large
from edge.passthrough import BODYLESS_METHODS
from edge.web import FetchError, FetchTimeout, Headers, Request, Response
from shared.errors import PayloadTooLarge

# Once per isolate: the edge's lines go out as JSON, each with its request's id (edge.logs).
logs.configure()

# Statuses whose responses carry no body by definition; the Response constructor rejects one.
NULL_BODY_STATUSES: Final = frozenset({101, 103, 204, 205, 304})


class Default(WorkerEntrypoint):
    # The runtime makes one instance per request but keeps the isolate (and so this class) for
    # many: the class is the only scope an "in-instance" cache can live in. It holds key hashes
    # and the ids they resolve to, nothing secret, and bounds its size and age itself. The
    # cooldowns remember which backend timed out lately, so one hang costs one request its wait.
    callers: ClassVar[CallerCache] = CallerCache()
    cooldowns: ClassVar[Cooldowns] = Cooldowns()

    async def fetch(self, request: Any) -> WorkersResponse:
        started = time.perf_counter()
        runtime = self.runtime()
        try:
            edge_request = await to_edge_request(request, max_body_bytes(runtime.binding))
        except PayloadTooLarge as exc:
            js_request = getattr(request, "js_object", request)
            refusal = refuse(str(js_request.method), str(js_request.url), exc, runtime, started)
            return to_runtime_response(refusal)
        response = await handle(edge_request, runtime, started=started)
        return to_runtime_response(response)

    def runtime(self) -> Runtime:
        return Runtime(
            binding=self.binding,
            http=RuntimeHttp(),
            background=RuntimeBackground(self.ctx),
            callers=self.callers,
            cooldowns=self.cooldowns,
        )

    def binding(self, name: str) -> str | None:
        # Read from env on every call, never cached at module level: the runtime may hand
        # each request a different env, and secrets must not outlive it.
        value = getattr(self.env, name, None)
        return value if isinstance(value, str) else None


class RuntimeBackground:
    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def wait_until(self, work: Coroutine[Any, Any, object]) -> None:
        self._ctx.waitUntil(work)


class RuntimeBody:
    """A runtime ReadableStream as an async iterable of bytes, or passed on without copying."""

    def __init__(self, stream: Any) -> None:
        self.stream = None if stream is None or not isinstance(stream, JsProxy) else stream
        self.touched = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        self.touched = True
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self.stream is None:
            return
        reader = self.stream.getReader()
        try:
            while not (result := await reader.read()).done:
                yield result.value.to_bytes()
        finally:
            reader.releaseLock()


class RuntimeHttp:
    async def fetch(
        self, method: str, url: str, headers: Headers, body: bytes | None, timeout_s: float
    ) -> Response:
        controller = js.AbortController.new()
        abort = create_proxy(lambda *_: controller.abort())
        timer = js.setTimeout(abort, max(1, int(timeout_s * 1000)))
        init: dict[str, Any] = {
            "method": method,
            "headers": js.Headers.new(to_js(headers)),
            "signal": controller.signal,
            # A proxy hands redirects to its client; following them would change the meaning.
            "redirect": "manual",
        }
        if body is not None:
            init["body"] = to_js(body)
        try:
            reply = await js.fetch(url, to_js(init, dict_converter=Object.fromEntries))
        except JsException as exc:
            if controller.signal.aborted:
                raise FetchTimeout(f"no response from {url} within {timeout_s}s") from exc
            raise FetchError(f"{method} {url}: {exc}") from exc
        finally:
            # Headers are in; from here the body may stream for as long as it takes.
            js.clearTimeout(timer)
            abort.destroy()
        return Response(
            int(reply.status), [(k, v) for k, v in reply.headers], RuntimeBody(reply.body)
        )


async def to_edge_request(request: Any, limit: int = DEFAULT_MAX_BODY_BYTES) -> Request:
    """The request with its body read, or PayloadTooLarge once the body passes `limit` bytes."""
    js_request = getattr(request, "js_object", request)
    method = str(js_request.method)
    headers = [(str(k), str(v)) for k, v in js_request.headers]
    body = b"" if method in BODYLESS_METHODS else await _bounded_body(js_request, headers, limit)
    return Request(method=method, url=str(js_request.url), headers=headers, body=body)


async def _bounded_body(js_request: Any, headers: Headers, limit: int) -> bytes:
    declared = declared_length(headers)
    if declared is not None and declared > limit:
        # Refused unread: the platform discards what the client is still sending.
        raise too_large(limit)
    if declared is not None:
        # The runtime delivers exactly the declared length, so one copy is all it costs.
        return bytes((await js_request.arrayBuffer()).to_bytes())
    stream = js_request.body
    if stream is None or not hasattr(stream, "getReader"):  # None, or the runtime's null
        return b""
    chunks: list[bytes] = []
    size = 0
    reader = stream.getReader()
    try:
        while not (result := await reader.read()).done:
            chunk = result.value.to_bytes()
            size += len(chunk)
            if size > limit:
                # Not cancelled: that would reset the connection before the client reads the
                # 413. The host discards the rest, as the platform does.
                raise too_large(limit)
            chunks.append(chunk)
    finally:
        reader.releaseLock()
    return b"".join(chunks)


def to_runtime_response(response: Response) -> WorkersResponse:
    init = to_js(
        {"status": response.status, "headers": js.Headers.new(to_js(response.headers))},
        dict_converter=Object.fromEntries,
    )
    return WorkersResponse(js.Response.new(_js_body(response), init))


def _js_body(response: Response) -> Any:
    body = response.body
    if response.status in NULL_BODY_STATUSES:
        return None
    if isinstance(body, bytes):
        return to_js(body)
    if isinstance(body, RuntimeBody) and not body.touched:
        # The origin's own stream goes straight back out: no Python in the byte path.
        return body.stream
    return readable_stream(body)


def readable_stream(chunks: AsyncIterable[bytes]) -> Any:
    """A runtime ReadableStream that pulls from a Python async iterable on demand."""
    iterator = aiter(chunks)

    async def pull(controller: Any) -> None:
        try:
            chunk = await anext(iterator)
            while not chunk:
                chunk = await anext(iterator)
        except StopAsyncIteration:
            release()
            controller.close()
            return
        except BaseException:
            release()
            raise
        controller.enqueue(to_js(chunk))

    async def cancel(_reason: Any) -> None:
        release()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()

    proxies = [create_proxy(pull), create_proxy(cancel)]

    def release() -> None:
        while proxies:
            proxies.pop().destroy()

    source = {"pull": proxies[0], "cancel": proxies[1]}
    return js.ReadableStream.new(to_js(source, dict_converter=Object.fromEntries))
