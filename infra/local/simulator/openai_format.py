"""The OpenAI chat-completions wire format, also spoken by groq, deepseek, mistral, xai, etc."""

from __future__ import annotations

import time
from types import MappingProxyType
from typing import Any

import orjson

from shared.catalog import MODELS as CATALOG

from .cache import PromptCache
from .content import Reply, split
from .tokens import json_text, message_tokens, tokens
from .turn import BadRequest, Counts, ToolSpec, Turn, as_int, as_stops
from .wire import EVENT_STREAM, Headers

FINGERPRINT = "fp_sim0001"
MODELS = ("sim-small", "sim-medium", "sim-large")
# What upstream refuses of reasoning_effort, so tests prove Prism never sends it there: the
# catalog's models without its reasoning flag refuse it outright, and these take few values.
NO_REASONING = frozenset(m["upstream"] for m in CATALOG.values() if not m["reasoning"])
EFFORTS = MappingProxyType({"grok-3-mini": ("low", "high"), "qwen/qwen3-32b": ("none", "default")})
FINISH = MappingProxyType(
    {"stop": "stop", "stop_sequence": "stop", "length": "length", "tool": "tool_calls"}
)
ERRORS = MappingProxyType(
    {
        400: ("invalid_request_error", None, "Invalid request."),
        401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
        403: ("permission_error", None, "You are not allowed to use this resource."),
        404: ("invalid_request_error", None, "Not found."),
        429: (
            "requests",
            "rate_limit_exceeded",
            "Rate limit reached for requests. Please try again shortly.",
        ),
        500: ("server_error", None, "The server had an error while processing your request."),
        503: (
            "server_error",
            None,
            "The service is temporarily overloaded. Please try again later.",
        ),
    }
)


def check_headers(headers: dict[str, str], query: dict[str, str]) -> tuple[int, str] | None:
    scheme, _, key = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return 401, "No API key provided. Send it as 'Authorization: Bearer <key>'."
    return None


def error(status: int, message: str | None = None) -> bytes:
    kind, code, default = ERRORS.get(status, ERRORS[500] if status >= 500 else ERRORS[400])
    return orjson.dumps(
        {"error": {"message": message or default, "type": kind, "param": None, "code": code}}
    )


def model_not_found(model: str) -> bytes:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return orjson.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        }
    )


def models(provider: str) -> bytes:
    data = [
        {"id": m, "object": "model", "created": 1700000000, "owned_by": provider} for m in MODELS
    ]
    return orjson.dumps({"object": "list", "data": data})


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text"
        ]
    return []


def _parts(message: Any) -> list[str]:
    if not isinstance(message, dict):
        raise BadRequest("each message must be an object")
    parts = _texts(message.get("content"))
    for call in message.get("tool_calls") or ():
        arguments = (
            (call.get("function") or {}).get("arguments", "") if isinstance(call, dict) else ""
        )
        parts.append(arguments if isinstance(arguments, str) else json_text(arguments))
    return parts


def _user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and (texts := _texts(message.get("content"))):
            return " ".join(texts)
    return ""


def _tool(tools: list[dict[str, Any]], choice: Any, last_role: Any) -> ToolSpec | None:
    functions = [
        t["function"]
        for t in tools
        if t.get("type") == "function" and isinstance(t.get("function"), dict)
    ]
    if not functions or choice == "none" or last_role in ("tool", "function"):
        return None
    wanted = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    chosen = next(
        (f for f in functions if f.get("name") == wanted), None if wanted else functions[0]
    )
    if chosen is None:
        raise BadRequest(f"tool_choice names an unknown function: {wanted}")
    return ToolSpec(name=str(chosen.get("name", "")), schema=chosen.get("parameters") or {})


def _response_format(body: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    fmt = body.get("response_format") or {}
    if not isinstance(fmt, dict):
        raise BadRequest("response_format must be an object")
    if fmt.get("type") == "json_schema":
        return True, ((fmt.get("json_schema") or {}).get("schema") or {})
    return fmt.get("type") == "json_object", None


def _check_effort(model: str, effort: Any) -> None:
    if effort is None:
        return
    if model in NO_REASONING:
        raise BadRequest("Unrecognized request argument supplied: reasoning_effort")
    allowed = EFFORTS.get(model)
    if allowed and effort not in allowed:
        raise BadRequest(f"reasoning_effort must be one of: {', '.join(allowed)}")


def parse(body: Any, path_model: str | None, path_stream: bool, query: dict[str, str]) -> Turn:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise BadRequest("you must provide a model parameter")
    _check_effort(model, body.get("reasoning_effort"))
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array")
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    tool_tokens = sum(tokens(json_text(t)) for t in tools)
    per_message = [message_tokens(_parts(m)) for m in messages]
    choices = as_int(body.get("n"), "n") or 1
    if choices < 1:
        raise BadRequest("n must be at least 1")
    json_mode, schema = _response_format(body)
    max_tokens = as_int(body.get("max_completion_tokens"), "max_completion_tokens")
    return Turn(
        model=model,
        stream=bool(body.get("stream")),
        prompt_tokens=tool_tokens + sum(per_message),
        user_text=_user_text(messages),
        tool=_tool(tools, body.get("tool_choice"), messages[-1].get("role")),
        max_tokens=max_tokens
        if max_tokens is not None
        else as_int(body.get("max_tokens"), "max_tokens"),
        stops=as_stops(body.get("stop")),
        choices=choices,
        json_mode=json_mode,
        json_schema=schema,
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        prefix_tokens=tool_tokens + sum(per_message[:-1]),
        prefix_source=(tools, messages[:-1]),
    )


def account(cache: PromptCache, provider: str, turn: Turn) -> Counts:
    return cache.automatic(provider, turn)


def usage(counts: Counts, reply: Reply, turn: Turn) -> dict[str, Any]:
    completion = reply.output_tokens * turn.choices
    return {
        "prompt_tokens": counts.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": counts.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": counts.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _call(reply: Reply, rid: int, index: int, arguments: str) -> dict[str, Any]:
    return {
        "id": f"call_sim{rid:08d}{index:02d}",
        "type": "function",
        "function": {"name": reply.tool_name, "arguments": arguments},
    }


def _message(reply: Reply, rid: int, index: int) -> dict[str, Any]:
    if reply.is_tool:
        calls = [_call(reply, rid, index, reply.text)]
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": calls,
            "refusal": None,
            "annotations": [],
        }
    return {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}


def _envelope(turn: Turn, rid: int, kind: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-sim{rid:012d}",
        "object": kind,
        "created": int(time.time()),
        "model": turn.model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def render(turn: Turn, reply: Reply, usage: dict[str, Any] | None, rid: int) -> bytes:
    completion = _envelope(turn, rid, "chat.completion")
    completion["choices"] = [
        {
            "index": i,
            "message": _message(reply, rid, i),
            "logprobs": None,
            "finish_reason": FINISH[reply.finish],
        }
        for i in range(turn.choices)
    ]
    if usage is not None:
        completion["usage"] = usage
    return orjson.dumps(completion)


def _deltas(reply: Reply, rid: int, index: int) -> list[dict[str, Any]]:
    if reply.is_tool:
        call = {"index": 0, **_call(reply, rid, index, "")}
        first: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [call],
            "refusal": None,
        }
        rest = [
            {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in split(reply.text)
        ]
        return [first, *rest]
    return [
        {"role": "assistant", "content": "", "refusal": None},
        *({"content": p} for p in split(reply.text)),
    ]


def events(turn: Turn, reply: Reply, usage: dict[str, Any] | None, rid: int) -> list[bytes]:
    envelope = _envelope(turn, rid, "chat.completion.chunk")
    if turn.include_usage:
        envelope["usage"] = None

    def chunk(index: int, delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**envelope, "choices": [choice]}) + b"\n\n"

    out: list[bytes] = []
    for index in range(turn.choices):
        out.extend(chunk(index, delta, None) for delta in _deltas(reply, rid, index))
        out.append(chunk(index, {}, FINISH[reply.finish]))
    if turn.include_usage and usage is not None:
        out.append(b"data: " + orjson.dumps({**envelope, "choices": [], "usage": usage}) + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def stream_type(turn: Turn) -> bytes:
    return EVENT_STREAM


def id_headers(rid: int) -> Headers:
    return [(b"x-request-id", f"req_sim{rid:012d}".encode())]
