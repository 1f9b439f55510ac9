"""The exact-cache key of a chat request, and the scope key of the semantic cache.

Two requests share a fingerprint exactly when they would get the same answer. The key is
SHA-256 over canonical JSON (sorted keys, no whitespace, integral floats as ints) of:

Kept: every field of the body except the ignored ones below, so anything that reaches a
provider (a vendor extension such as top_k or min_p included) is part of the key. The fields
known to change the answer are: model (the requested one; absent means "auto"), messages
(system included), tools, tool_choice, functions, function_call, parallel_tool_calls,
response_format, temperature, top_p, the output limit (max_completion_tokens, else
max_tokens: one value, the same one the adapters send), stop, seed, n, frequency_penalty,
presence_penalty, logit_bias, logprobs, top_logprobs, reasoning_effort, verbosity,
modalities, audio, prediction, web_search_options. Plus the routing inputs that pick the
model for "auto" (X-Prism-Mode, X-Prism-Model-Prefer), the prompt version
(X-Prism-Cache-Version) and the project.
Ignored (they change how or for whom an answer is delivered, never what it says):
    stream, stream_options, user, metadata, store, service_tier, safety_identifier,
    prompt_cache_key, prompt_cache_retention, and every `cache_control` marker.
Normalised:
    key order and JSON whitespace; defaults (temperature 1, top_p 1, n 1, penalties 0,
    parallel_tool_calls true, logprobs false, tool_choice "auto" with tools) and null values
    are dropped; a string stop becomes a one-item list; content that is a single text part
    becomes a plain string; surrounding whitespace of message text is trimmed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from shared.embedding_window import read_whole
from shared.errors import InvalidRequest

IGNORED_FIELDS = (
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "cache_control",
)
# The output limit under either of OpenAI's names is one field of the key.
LIMIT_FIELDS = ("max_completion_tokens", "max_tokens")
_DEFAULTS: dict[str, Any] = {
    "temperature": 1,
    "top_p": 1,
    "n": 1,
    "frequency_penalty": 0,
    "presence_penalty": 0,
    "parallel_tool_calls": True,
    "logprobs": False,
}


def fingerprint(
    project_id: str,
    body: Mapping[str, Any],
    *,
    mode: str = "balanced",
    model_prefer: str | None = None,
    version: str | None = None,
) -> str:
    """Hex SHA-256 exact-cache key; raises InvalidRequest for a body that is not a request."""
    canonical = canonical_request(body)
    envelope = {"project": project_id, "mode": mode, "prefer": model_prefer, "version": version}
    return _digest({"request": canonical, **envelope})


def semantic_scope(
    project_id: str,
    body: Mapping[str, Any],
    *,
    mode: str = "balanced",
    model_prefer: str | None = None,
    version: str | None = None,
) -> tuple[str, str] | None:
    """(scope key, final user text) for a semantic lookup, or None when the request has none
    or the embedding would not read all of it (shared.embedding_window).

    The scope key digests everything that changes the answer except the wording of the final
    user message, so a semantic hit can only differ from the request in that wording.
    """
    canonical = canonical_request(body)
    messages = canonical.get("messages") or []
    if not messages or messages[-1].get("role") != "user":
        return None
    last = messages[-1].get("content")
    if not isinstance(last, str) or not last or not read_whole(last):
        return None
    earlier = {**canonical, "messages": messages[:-1]}
    envelope = {"project": project_id, "mode": mode, "prefer": model_prefer, "version": version}
    return _digest({"request": earlier, **envelope}), last


def canonical_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer-relevant part of a request, normalised; raises InvalidRequest otherwise."""
    try:
        return _canonical(body)
    except RecursionError as exc:
        # Copying is recursive (two frames per level), so JSON that parsed fine at a few
        # hundred levels can still overflow here; that is the client's request, not our bug.
        raise InvalidRequest("The request body is nested too deeply.") from exc


def _canonical(body: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, Mapping) for m in messages):
        raise InvalidRequest("'messages' must be an array of message objects.", param="messages")
    out: dict[str, Any] = {}
    for field, value in body.items():
        if field in _IGNORED or field in LIMIT_FIELDS:
            continue
        if value is None or _is_default(field, value):
            continue
        out[str(field)] = _strip_markers(value)
    limit = output_limit(body)
    if limit is not None:
        out["max_tokens"] = _strip_markers(limit)
    out.setdefault("model", "auto")  # absent or null; "" or false is the origin's 400
    out["messages"] = [_message(m) for m in out.get("messages", [])]
    if isinstance(out.get("stop"), str):
        out["stop"] = [out["stop"]]
    if out.get("tool_choice") == "auto" and out.get("tools"):
        del out["tool_choice"]
    return out


_MISSING = object()
_IGNORED = frozenset(IGNORED_FIELDS)


def _is_default(field: str, value: Any) -> bool:
    """Whether `value` is the field's default. Python says True == 1 and False == 0, but the
    origin refuses "temperature": true or "logprobs": 0; read as defaults they would match a
    stored entry, and the edge would answer from cache what the origin answers with a 400."""
    default = _DEFAULTS.get(field, _MISSING)
    return isinstance(value, bool) == isinstance(default, bool) and value == default


def output_limit(body: Mapping[str, Any]) -> Any:
    """The client's output limit: max_completion_tokens, else max_tokens (None if neither).

    Adapters send this value and no other, so the key and the request cannot disagree.
    """
    for name in LIMIT_FIELDS:
        value = body.get(name)
        if value is not None:
            return value
    return None


def _message(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list) and len(content) == 1 and isinstance(content[0], dict):
        part = content[0]
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            content = part["text"]
    if isinstance(content, str):
        content = content.strip()
    elif isinstance(content, list):
        content = [_text_part(p) for p in content]
    return {**message, "content": content}


def _text_part(part: Any) -> Any:
    if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
        return {**part, "text": part["text"].strip()}
    return part


def _strip_markers(value: Any) -> Any:
    """Copy of a JSON value without cache_control markers, with integral floats as ints."""
    if isinstance(value, Mapping):
        return {str(k): _strip_markers(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, (list, tuple)):
        return [_strip_markers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _digest(value: Any) -> str:
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidRequest(f"The request contains a value that is not valid JSON: {exc}") from exc
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
