"""CPython implementations of the edge's runtime interfaces, for testing edge logic off-Pyodide."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import httpx

from edge.web import FetchError, FetchTimeout, Headers, Response


class HttpxClient:
    """`edge.web.HttpClient` on httpx, with the runtime fetch's semantics (decoded bodies)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def fetch(
        self, method: str, url: str, headers: Headers, body: bytes | None, timeout_s: float
    ) -> Response:
        request = self._client.build_request(method, url, headers=headers, content=body)
        try:
            # Like the runtime: the limit covers the wait for headers, not the body stream.
            async with asyncio.timeout(timeout_s):
                reply = await self._client.send(request, stream=True, follow_redirects=False)
        except TimeoutError as exc:
            raise FetchTimeout(f"no response from {url} within {timeout_s}s") from exc
        except httpx.TransportError as exc:
            raise FetchError(f"{method} {url}: {exc!r}") from exc
        return Response(reply.status_code, list(reply.headers.multi_items()), _chunks(reply))


async def _chunks(reply: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in reply.aiter_bytes():
            yield chunk
    finally:
        await reply.aclose()


class TaskBackground:
    """`edge.context.Background` on asyncio tasks; `settled()` waits like the runtime would."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()
        self.failures: list[BaseException] = []

    def wait_until(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures.append(task.exception())  # type: ignore[arg-type]

    async def settled(self) -> None:
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
