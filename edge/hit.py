"""The response to a request answered from the cache at the edge: the stored completion (or its
SSE replay for `stream: true`) under this request's own id, with the Prism receipt headers."""

from __future__ import annotations

import json

from edge.chat import ChatRequest
from edge.lookup import Hit
from edge.web import Headers, Response
from shared import headers as H
from shared import sse
from shared.cache_entry import hit_response, replay_chunks
from shared.pricing import format_cents
from shared.usage import CACHE_PROVIDER, CACHE_TASK_TYPE


def response_id(request_id: str) -> str:
    """The completion id a client sees, formed as the origin forms it."""
    return f"chatcmpl-{request_id}"


def cached_response(hit: Hit, chat: ChatRequest, request_id: str) -> Response:
    answer_id = response_id(request_id)
    if chat.stream:
        body = sse.stream(replay_chunks(hit.entry, answer_id, chat.include_usage))
        kind: Headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
    else:
        body = json.dumps(hit_response(hit.entry, answer_id), separators=(",", ":")).encode()
        kind = [("content-type", "application/json")]
    # x-request-id, as the origin's middleware adds to all its answers, is not on its receipt.
    ids = [(H.OPENAI_REQUEST_ID, request_id)]
    return Response(200, [*kind, *receipt(hit, chat, request_id), *ids], body)


def receipt(hit: Hit, chat: ChatRequest, request_id: str) -> Headers:
    """The receipt the origin gives its own cache hits, with the edge's cache status."""
    headers = [
        (H.REQUEST_ID, request_id),
        (H.FEEDBACK_ID, request_id),
        (H.MODE, chat.options.mode),
        (H.MODEL, hit.entry.model),
        (H.PROVIDER, CACHE_PROVIDER),
        (H.TASK_TYPE, CACHE_TASK_TYPE),
        (H.ROUTE_REASON, "cache"),
        (H.COST_CENTS, "0"),
        (H.NATIVE_CACHE_SAVED_CENTS, "0"),
        (H.USAGE_REPORTED, "true"),
        (H.CACHE_STATUS, hit.status),
        (H.CACHE_SAVED_CENTS, format_cents(hit.entry.saved().cents)),
    ]
    if hit.similarity is not None:
        headers.append((H.CACHE_SIMILARITY, f"{hit.similarity:.4f}"))
    return headers
