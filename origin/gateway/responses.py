"""What the client receives for an answered call: the JSON body, and a stream's usage chunk."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.responses import Response

from origin.gateway.call import Call
from origin.providers.base import Completion
from origin.providers.failures import bad_response
from shared.pricing import Cost, TokenUsage, format_cents

JSON_HEADERS = {"content-type": "application/json"}


def completion_bytes(call: Call, completion: Completion, provider: str) -> bytes:
    """The answer's body as the client gets it, encoded before the request's row is written:
    orjson reads JSON nested up to 1024 deep but writes only 254, and an answer that cannot be
    passed on is the provider's bad response, not a success row followed by our 500."""
    body = {**completion.body, "id": f"chatcmpl-{call.request_id}"}
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        raise bad_response(provider, "answered with JSON nested too deeply to pass on") from None


def completion_response(call: Call, data: bytes) -> Response:
    """The encoded answer with the receipt's headers, which its row completes."""
    return Response(data, headers={**JSON_HEADERS, **call.receipt.headers()})


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
