"""One bounded JSON exchange with a backend REST API (Upstash, PostgREST) over the edge's fetch."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from edge.web import FetchError, FetchTimeout, Headers, HttpClient, read_body
from shared.breaker import Breaker
from shared.json_depth import json_depth_exceeds


class BackendError(Exception):
    """A backend could not give a usable answer: unreachable, slow, refusing or talking nonsense.

    The edge never turns this into a client error: whatever needed the answer is left to the
    origin instead.
    """


async def exchange(
    http: HttpClient,
    method: str,
    url: str,
    headers: Headers,
    payload: Any,
    timeout_s: float,
    breaker: Breaker | None = None,
) -> tuple[int, bytes]:
    """Send `payload` as JSON (None: no body) and return (status, body), all within `timeout_s`.

    The fetch timeout covers only the response headers, so the whole exchange is bounded too:
    a backend that stalls mid-body must cost a bounded delay, not a hung request. With a
    `breaker`, a timeout trips it and the exchange is refused at once while it is open.
    """
    if breaker is not None and breaker.skip():
        raise BackendError(f"{method} {_where(url)}: skipped, it timed out moments ago")
    body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    sent = [*headers, ("content-type", "application/json")] if body is not None else headers

    async def run() -> tuple[int, bytes]:
        reply = await http.fetch(method, url, sent, body, timeout_s)
        return reply.status, await read_body(reply.body)

    try:
        answer = await asyncio.wait_for(run(), timeout_s)
    except (TimeoutError, FetchTimeout) as exc:
        if breaker is not None:
            breaker.failed()
        raise BackendError(f"{method} {_where(url)}: no answer within {timeout_s}s") from exc
    except FetchError as exc:
        if breaker is not None:
            breaker.succeeded()  # refused at once: down, not hung, and cheap to try again
        raise BackendError(str(exc) or f"{method} {_where(url)} failed") from exc
    if breaker is not None:
        breaker.succeeded()
    return answer


def decode(status: int, body: bytes, url: str) -> Any:
    """The JSON of a 2xx answer; anything else is a BackendError."""
    if not 200 <= status < 300:
        raise BackendError(f"{_where(url)} answered HTTP {status}: {body[:200]!r}")
    if json_depth_exceeds(body):
        # Stored answers came from providers; none may take the isolate down when read back.
        raise BackendError(f"{_where(url)} answered with JSON nested too deeply")
    try:
        return json.loads(body) if body.strip() else None
    except ValueError as exc:
        raise BackendError(f"{_where(url)} answered with invalid JSON") from exc


def _where(url: str) -> str:
    # Enough to find the failing backend in a log; never a query string, which may carry data.
    return url.split("?", 1)[0]
