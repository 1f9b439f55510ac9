"""The Anthropic Messages wire format, with cache_control breakpoints and named SSE events."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import orjson

from . import anthropic_thinking
from .anthropic_cache import blocks, cache_marks, prompt_units
from .cache import PromptCache
from .content import Reply, split
from .turn import BadRequest, Counts, ToolSpec, Turn, as_int, as_stops
from .wire import EVENT_STREAM, Headers, sse

STOP = MappingProxyType(
    {
        "stop": "end_turn",
        "stop_sequence": "stop_sequence",
        "length": "max_tokens",
        "tool": "tool_use",
    }
)
ERRORS = MappingProxyType(
    {
        400: ("invalid_request_error", "Invalid request."),
        401: ("authentication_error", "invalid x-api-key"),
        402: ("billing_error", "Your credit balance is too low."),
        403: (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404: ("not_found_error", "The requested resource could not be found."),
        413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
        500: ("api_error", "Internal server error"),
        504: ("timeout_error", "Request timed out"),
        529: ("overloaded_error", "Overloaded"),
    }
)


def check_headers(headers: dict[str, str], query: dict[str, str]) -> tuple[int, str] | None:
    # Upstream takes the key as x-api-key or, as current official SDKs send it, a Bearer token.
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if not (headers.get("x-api-key", "").strip() or (scheme.lower() == "bearer" and token.strip())):
        return 401, "x-api-key header is required"
    if not headers.get("anthropic-version"):
        return 400, "anthropic-version: header is required"
    return None


def error(status: int, message: str | None = None) -> bytes:
    kind, default = ERRORS.get(status, ERRORS[500] if status >= 500 else ERRORS[400])
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message or default}})


def model_not_found(model: str) -> bytes:
    return orjson.dumps(
        {"type": "error", "error": {"type": "not_found_error", "message": f"model: {model}"}}
    )


def _user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            texts = [
                b.get("text") or ""
                for b in blocks(message.get("content"))
                if b.get("type") == "text"
            ]
            if texts:
                return " ".join(texts)
    return ""


def _tool(tools: list[dict[str, Any]], choice: Any, last: dict[str, Any]) -> ToolSpec | None:
    answered = last.get("role") == "user" and any(
        b.get("type") == "tool_result" for b in blocks(last.get("content"))
    )
    kind = choice.get("type") if isinstance(choice, dict) else None
    if not tools or kind == "none" or answered:
        return None
    wanted = choice.get("name") if kind == "tool" else None
    chosen = next((t for t in tools if t.get("name") == wanted), None if wanted else tools[0])
    if chosen is None:
        raise BadRequest(f"tool_choice: tool '{wanted}' not found in tools")
    return ToolSpec(name=str(chosen.get("name", "")), schema=chosen.get("input_schema") or {})


def parse(body: Any, path_model: str | None, path_stream: bool, query: dict[str, str]) -> Turn:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    model, messages, max_tokens = body.get("model"), body.get("messages"), body.get("max_tokens")
    if not isinstance(model, str) or not model:
        raise BadRequest("model: Field required")
    if max_tokens is None:
        raise BadRequest("max_tokens: Field required")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        raise BadRequest("messages: at least one message is required")
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    units = prompt_units(body, tools)
    schema = _output_schema(body.get("output_config"))
    limit = as_int(max_tokens, "max_tokens")
    return Turn(
        model=model,
        stream=bool(body.get("stream")),
        prompt_tokens=sum(count for count, _ in units),
        user_text=_user_text(messages),
        tool=_tool(tools, body.get("tool_choice"), messages[-1]),
        max_tokens=limit,
        stops=as_stops(body.get("stop_sequences")),
        json_mode=schema is not None,
        json_schema=schema,
        marks=cache_marks(units),
        thinking=anthropic_thinking.check(body, limit or 0),
    )


def _output_schema(config: Any) -> dict[str, Any] | None:
    """The schema of structured output (output_config.format), or None without one."""
    if config is None:
        return None
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise BadRequest("output_config.format.type: Input should be 'json_schema'")
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise BadRequest("output_config.format.schema: Field required")
    return schema


def account(cache: PromptCache, provider: str, turn: Turn) -> Counts:
    return cache.explicit(provider, turn)


def usage(counts: Counts, reply: Reply, turn: Turn) -> dict[str, Any]:
    return {
        "input_tokens": counts.uncached,
        "cache_creation_input_tokens": counts.creation,
        "cache_read_input_tokens": counts.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": counts.creation_5m,
            "ephemeral_1h_input_tokens": counts.creation_1h,
        },
        # Thinking is billed as output, in the same count.
        "output_tokens": reply.output_tokens
        + (anthropic_thinking.THOUGHT_TOKENS if turn.thinking else 0),
        "service_tier": "standard",
    }


def _block(reply: Reply, rid: int) -> dict[str, Any]:
    if reply.is_tool:
        return {
            "type": "tool_use",
            "id": f"toolu_sim{rid:016d}",
            "name": reply.tool_name,
            "input": reply.arguments,
        }
    return {"type": "text", "text": reply.text}


def _message(turn: Turn, rid: int) -> dict[str, Any]:
    return {"id": f"msg_sim{rid:016d}", "type": "message", "role": "assistant", "model": turn.model}


def render(turn: Turn, reply: Reply, usage: dict[str, Any] | None, rid: int) -> bytes:
    message = _message(turn, rid)
    thought = [anthropic_thinking.block()] if turn.thinking else []
    message.update(
        content=[*thought, _block(reply, rid)],
        stop_reason=STOP[reply.finish],
        stop_sequence=reply.stop_sequence,
    )
    if usage is not None:
        message["usage"] = usage
    return orjson.dumps(message)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return sse(orjson.dumps({"type": name, **data}), name)


def _block_events(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> list[bytes]:
    return [
        _event("content_block_start", {"index": index, "content_block": start}),
        _event("ping", {}),
        *(_event("content_block_delta", {"index": index, "delta": d}) for d in deltas),
        _event("content_block_stop", {"index": index}),
    ]


def _content_events(reply: Reply, rid: int, thinking: bool) -> list[bytes]:
    if reply.is_tool:
        start = {**_block(reply, rid), "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in ["", *split(reply.text)]]
    else:
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in split(reply.text)]
    if not thinking:
        return _block_events(0, start, deltas)
    thought = {**anthropic_thinking.block(), "thinking": "", "signature": ""}
    return [
        *_block_events(0, thought, anthropic_thinking.deltas()),
        *_block_events(1, start, deltas),
    ]


def events(turn: Turn, reply: Reply, usage: dict[str, Any] | None, rid: int) -> list[bytes]:
    message: dict[str, Any] = {
        **_message(turn, rid),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    delta: dict[str, Any] = {
        "delta": {"stop_reason": STOP[reply.finish], "stop_sequence": reply.stop_sequence}
    }
    if usage is not None:
        # Upstream reports a placeholder output count up front and the real one at the end.
        message["usage"] = {**usage, "output_tokens": min(1, usage.get("output_tokens", 0))}
        delta["usage"] = {k: usage[k] for k in ("output_tokens",) if k in usage}
    return [
        _event("message_start", {"message": message}),
        *_content_events(reply, rid, turn.thinking),
        _event("message_delta", delta),
        _event("message_stop", {}),
    ]


def stream_type(turn: Turn) -> bytes:
    return EVENT_STREAM


def id_headers(rid: int) -> Headers:
    return [(b"request-id", f"req_sim{rid:016d}".encode())]
