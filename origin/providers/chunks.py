"""Builders for the OpenAI response shapes every adapter produces.

Clients only ever see OpenAI `chat.completion` and `chat.completion.chunk` objects, so the
non-OpenAI adapters build them here rather than each spelling the dicts out.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from origin.providers.base import StreamState
from shared.pricing import TokenUsage


def chunk(
    chunk_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    index: int = 0,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    return {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [
            {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ],
    }


def completion(
    completion_id: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    usage: TokenUsage,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage_block(usage) if usage.reported else None,
    }


def choice(
    index: int, content: str | None, tool_calls: list[dict[str, Any]], finish_reason: str | None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish_reason}


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    """An OpenAI tool call; `arguments` is re-serialised to the JSON string clients expect."""
    text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def new_call_id() -> str:
    """An id for a tool call the provider didn't name (Gemini), unique across turns."""
    return "call_" + uuid.uuid4().hex[:24]


def usage_block(usage: TokenUsage) -> dict[str, Any]:
    """OpenAI's usage object for normalised usage (cache writes have no OpenAI field)."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }


# Far beyond any real count, but small enough that sums and prices of such counts stay
# ordinary numbers; the usage row clamps further, to its columns, and flags it.
COUNT_CEILING = 10**15


def count(value: Any) -> int:
    """A token count from an upstream field: non-negative int, 0 when missing or garbage."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return 0
    return COUNT_CEILING if value >= COUNT_CEILING else int(value)


# More tokens than any request can read or write (a 2M-token context, or 128 choices of 128k
# output each, is a fraction of it). A report past it is the provider's garbage, not a bill:
# priced, it would show millions of dollars on the dashboard and spend the project's budgets
# for the rest of their period. It is taken as no report at all (flagged, worst case charged).
MAX_BELIEVED_TOKENS = 100_000_000


def believed(usage: TokenUsage) -> TokenUsage | None:
    """`usage`, or None (no usage reported) when a count is past MAX_BELIEVED_TOKENS."""
    if max(usage.prompt_tokens, usage.completion_tokens) > MAX_BELIEVED_TOKENS:
        return None
    return usage


# OpenAI's (and our validation's) ceiling on `n`. A choice index past it is garbage from the
# provider; bounding it matters because a decoder keeps one slot per choice up to the index,
# and an index of 10**12 would allocate until the worker died.
MAX_CHOICES = 128


def choice_index(value: Any) -> int | None:
    """A choice (or tool call) index from an upstream field; None when it is not a small
    non-negative integer. A missing one is 0, as OpenAI's single-choice answers imply."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_CHOICES:
        return None
    return value


def note_finish(state: StreamState, index: int, reason: str | None) -> None:
    """Record that choice `index` finished, keeping one slot per choice (`index` is one
    `choice_index` accepted)."""
    reasons = state.finish_reasons
    if len(reasons) <= index:
        reasons.extend([None] * (index + 1 - len(reasons)))
    reasons[index] = reason
