"""What the client receives for an answered call: the JSON body, and a stream's usage chunk."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.responses import Response

from origin.gateway.call import Call
from origin.providers.base import Completion
from shared.pricing import Cost, TokenUsage, format_cents

JSON_HEADERS = {"content-type": "application/json"}


def completion_response(call: Call, completion: Completion) -> Response:
    body = {**completion.body, "id": f"chatcmpl-{call.request_id}"}
    return Response(orjson.dumps(body), headers={**JSON_HEADERS, **call.receipt.headers()})


def wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def usage_chunk(
    call: Call, model: str, usage: TokenUsage | None, cost: Cost | None
) -> dict[str, Any]:
    """The final chunk `include_usage` asks for. A stream's cost is known only here, so its
    `usage` also carries `cost_cents`: what X-Prism-Cost-Cents says of a whole answer."""
    chunk: dict[str, Any] = {
        "id": f"chatcmpl-{call.request_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": None,
    }
    if usage is not None:
        chunk["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        }
        if cost is not None:
            chunk["usage"]["cost_cents"] = format_cents(cost.cents)
    return chunk
