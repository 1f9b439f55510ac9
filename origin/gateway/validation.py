"""Checking a chat-completions body before anything is spent on it.

Bad input is the client's mistake and must come back as a 400 that names the offending
field, never as a provider error, a 500, or a silently ignored value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from origin.gateway.tool_validation import check_tool_use, check_tools
from shared.errors import InvalidRequest
from shared.json_depth import check_json_depth

MAX_MODEL_CHARS = 256
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
_INT_RANGES: dict[str, tuple[int, int]] = {
    "n": (1, 128),
    "max_tokens": (1, 10_000_000),
    "max_completion_tokens": (1, 10_000_000),
    "top_logprobs": (0, 20),
}


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON chat-completions request.")
    check_json_depth(raw)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    validate_chat(body)
    return body


def validate_chat(body: Mapping[str, Any]) -> None:
    validate_messages(body.get("messages"))
    _model(body.get("model"))
    for name, (low, high) in _NUMBER_RANGES.items():
        _number(body, name, low, high)
    for name, (low, high) in _INT_RANGES.items():
        _integer(body, name, low, high)
    for name in ("stream", "logprobs", "parallel_tool_calls"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise InvalidRequest(f"'{name}' must be a boolean.", param=name)
    _stop(body.get("stop"))
    check_tools(body.get("tools"))
    _response_format(body.get("response_format"))
    if body.get("stream_options") is not None and not isinstance(body["stream_options"], dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    if "seed" in body and body["seed"] is not None and not _is_int(body["seed"]):
        raise InvalidRequest("'seed' must be an integer.", param="seed")


def validate_messages(messages: Any) -> None:
    """A chat's messages as every provider adapter reads them (roles, content, tool use)."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"'{where}' must be an object.", param=where)
        role = message.get("role")
        # Checked as a string first: an array or object here is unhashable, not just unknown.
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidRequest(
                f"'{where}.role' must be one of {', '.join(sorted(ROLES))}.", param=f"{where}.role"
            )
        content = message.get("content")
        if content is None and not message.get("tool_calls") and message["role"] != "assistant":
            raise InvalidRequest(f"'{where}.content' is required.", param=f"{where}.content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidRequest(
                f"'{where}.content' must be a string or an array of parts.",
                param=f"{where}.content",
            )
        if isinstance(content, list) and not all(
            isinstance(p, dict) and isinstance(p.get("type"), str) for p in content
        ):
            raise InvalidRequest(
                f"Each part of '{where}.content' must be an object with a type.",
                param=f"{where}.content",
            )
        check_tool_use(message, where)


def _model(model: Any) -> None:
    if model is None:
        return
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    # The model name comes back in X-Prism-Model: a name that is not a valid header value
    # would fail the response after the provider had been paid for it.
    if len(model) > MAX_MODEL_CHARS or not all("!" <= c <= "~" for c in model):
        raise InvalidRequest(
            f"'model' must be at most {MAX_MODEL_CHARS} printable ASCII characters without spaces.",
            param="model",
        )


def _stop(stop: Any) -> None:
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
        raise InvalidRequest(
            "'stop' must be a string or an array of up to 4 strings.", param="stop"
        )


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    kinds = ("text", "json_object", "json_schema")
    if not isinstance(fmt, dict) or fmt.get("type") not in kinds:
        raise InvalidRequest(
            "'response_format.type' must be text, json_object or json_schema.",
            param="response_format",
        )
    if fmt["type"] == "json_schema" and not isinstance(fmt.get("json_schema"), dict):
        raise InvalidRequest(
            "'response_format.json_schema' must be an object.", param="response_format"
        )


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidRequest(f"'{name}' must be a number from {low:g} to {high:g}.", param=name)


def _integer(body: Mapping[str, Any], name: str, low: int, high: int) -> None:
    value = body.get(name)
    if value is None:
        return
    if not _is_int(value) or not low <= value <= high:
        raise InvalidRequest(f"'{name}' must be an integer from {low} to {high}.", param=name)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
