"""A cache hit's answer: the stored completion as JSON or replayed as SSE, its receipt
headers, and its usage row (free, with the avoided call's price as the saving)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

from origin.cache.lookup import CacheableCall
from shared import sse
from shared.cache_entry import CacheEntry, hit_response, replay_chunks
from shared.pricing import Cost, format_cents
from shared.usage import CACHE_PROVIDER, CACHE_TASK_TYPE, UsageRow, build_cache_hit_row

_FREE = Cost(Decimal(0), Decimal(0))
_JSON = "application/json"
_SSE = "text/event-stream"


def hit_answer(
    call: CacheableCall,
    entry: CacheEntry,
    status: str,
    similarity: float | None,
    fingerprint: str,
) -> tuple[Response, UsageRow]:
    """The response for `call` from `entry`, and the usage row that records it."""
    saved = entry.saved()
    receipt = call.receipt
    receipt.cache_status, receipt.cache_similarity = status, similarity
    receipt.cache_saved_cents = format_cents(saved.cents)
    receipt.model, receipt.provider, receipt.task_type = (
        entry.model,
        CACHE_PROVIDER,
        CACHE_TASK_TYPE,
    )
    receipt.confidence, receipt.route_reason = None, "cache"
    receipt.cost, receipt.usage_reported = _FREE, True
    response_id = f"chatcmpl-{call.request_id}"
    if call.stream:
        chunks = replay_chunks(entry, response_id, _wants_usage(call.body))
        content = sse.stream(chunks, orjson.dumps)
        media = _SSE
    else:
        content, media = orjson.dumps(hit_response(entry, response_id)), _JSON
    row = build_cache_hit_row(
        request_id=call.request_id,
        caller=call.caller,
        options=call.options,
        model_used=entry.model,
        usage=entry.usage,
        saved=saved,
        latency_ms=call.elapsed_ms(),
        was_streaming=call.stream,
        cache_status=status,
        cache_key=fingerprint,
    )
    return Response(content, media_type=media, headers=receipt.headers()), row


def _wants_usage(body: dict[str, Any]) -> bool:
    stream_options = body.get("stream_options")
    return isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
