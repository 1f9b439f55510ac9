"""Forward a request to the origin as received and hand its response back as a stream."""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import urlsplit

from edge.context import EdgeContext
from edge.errors import error_response
from edge.hops import forwardable
from edge.web import FetchError, FetchTimeout, Request, Response
from shared.errors import UpstreamError, UpstreamTimeout

log = logging.getLogger("prism.edge.passthrough")

# Fetch rejects a body on these, and no client of ours sends one.
BODYLESS_METHODS: Final = frozenset({"GET", "HEAD"})


def origin_target(origin_url: str, request_url: str) -> str:
    """The origin URL for a request: same path and raw query, so nothing is re-encoded."""
    parts = urlsplit(request_url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{origin_url}{parts.path or '/'}{query}"


async def passthrough(request: Request, ctx: EdgeContext) -> Response:
    target = origin_target(ctx.config.origin_url, request.url)
    body = None if request.method.upper() in BODYLESS_METHODS else request.body
    try:
        upstream = await ctx.http.fetch(
            request.method, target, forwardable(request.headers), body, ctx.config.origin_timeout_s
        )
    except FetchTimeout:
        log.warning(
            "origin gave no response within %ss: %s %s",
            ctx.config.origin_timeout_s,
            request.method,
            target,
        )
        return error_response(
            UpstreamTimeout("The Prism origin did not respond in time.", code="origin_timeout")
        )
    except FetchError as exc:
        # The origin's address is deployment detail: log it, never show it to the client.
        log.warning("origin unreachable: %s %s: %s", request.method, target, exc)
        return error_response(
            UpstreamError("The Prism origin could not be reached.", code="origin_unreachable")
        )
    # The body object is handed on untouched, so the runtime streams it without buffering.
    return Response(upstream.status, forwardable(upstream.headers), upstream.body)
