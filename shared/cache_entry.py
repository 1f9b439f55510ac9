"""The stored form of a cached response, shared by the origin (redis-py) and the edge
(Upstash Redis REST) so that either tier can read what the other wrote.

Layout in Redis (all keys carry the project, so no lookup can cross projects):
    prism:exact:<project_id>:<fingerprint>   JSON entry (below), with a TTL
    prism:tags:<project_id>:<key>=<value>    set of fingerprints written with that tag
    prism:keys:<project_id>                  set of every fingerprint of the project
Semantic entries live in the vector index, in namespace <project_id>, with id <fingerprint>
and metadata {"scope": <scope key>, "text": <final user message>}; the response itself is
always read from the exact entry, so a purge of Redis also empties the semantic layer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.json_depth import json_depth_exceeds
from shared.pricing import Cost, TokenUsage, cost_for_model

ENTRY_VERSION = 1
_NONE = type(None)


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def exact_key(project_id: str, fingerprint: str) -> str:
    return f"prism:exact:{project_id}:{fingerprint}"


def tag_key(project_id: str, key: str, value: str) -> str:
    return f"prism:tags:{project_id}:{key}={value}"


def project_index_key(project_id: str) -> str:
    return f"prism:keys:{project_id}"


def vector_namespace(project_id: str) -> str:
    return project_id


@dataclass(frozen=True)
class CacheEntry:
    model: str  # canonical catalog id of the model that answered
    provider: str
    response: dict[str, Any]  # the OpenAI chat.completion body as first returned
    usage: TokenUsage
    created_at: float
    tags: dict[str, str] | None = None
    question: str | None = None  # the start of the final user message, for the cache inspector

    def saved(self) -> Cost:
        """What a hit avoids: this entry's call at the provider's current catalog prices."""
        return cost_for_model(self.model, self.usage)

    def dumps(self, encode: Callable[[Any], str | bytes] = compact_json) -> str | bytes:
        """The stored form; `encode` is a JSON encoder (the origin passes orjson's, whose
        output any JSON parser reads the same)."""
        return encode(
            {
                "v": ENTRY_VERSION,
                "model": self.model,
                "provider": self.provider,
                "response": self.response,
                "usage": self.usage.to_dict(),
                "created_at": self.created_at,
                "tags": self.tags,
                "question": self.question,
            }
        )

    @classmethod
    def loads(
        cls, text: str | bytes | None, parse: Callable[[str | bytes], Any] = json.loads
    ) -> CacheEntry | None:
        """The entry, or None for anything unreadable: a bad entry is a miss, not an error.
        So is an answer that is not one `cacheable` would have stored, with choices a hit can
        pass on and replay: a value another tool or version wrote is read as absent.
        `parse` is a JSON parser raising ValueError on bad input (the origin passes orjson's)."""
        if not text or json_depth_exceeds(text):
            return None  # too deep to parse safely in Pyodide: a miss, never a crash
        try:
            data = parse(text)
            if data.get("v") != ENTRY_VERSION:
                return None
            return cls(
                model=str(data["model"]),
                provider=str(data["provider"]),
                response=_replayable(data["response"]),
                usage=TokenUsage.from_dict(data["usage"]),
                created_at=float(data["created_at"]),
                tags=data.get("tags"),
                question=data["question"] if isinstance(data.get("question"), str) else None,
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


QUESTION_PREVIEW_CHARS = 120


def _replayable(response: Any) -> dict[str, Any]:
    """`response` if a hit can answer with it, JSON or replayed as a stream; TypeError if not."""
    if not isinstance(response, dict) or not cacheable(response):
        raise TypeError("the stored answer is not a complete chat completion")
    for choice in response["choices"]:
        message = choice.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), (str, _NONE)):
            raise TypeError("a stored choice has no message")
        calls = message.get("tool_calls")
        if calls is not None and not (
            isinstance(calls, list) and all(isinstance(c, dict) for c in calls)
        ):
            raise TypeError("a stored message's tool calls are not objects")
    return response


def question_preview(body: dict[str, Any]) -> str | None:
    """The first characters of the last user message's text, as the cache inspector shows it."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            parts = [p.get("text") for p in content if isinstance(p, dict)]
            content = " ".join(p for p in parts if isinstance(p, str))
        if isinstance(content, str):
            return " ".join(content.split())[:QUESTION_PREVIEW_CHARS] or None
        return None
    return None


def cacheable(response: dict[str, Any]) -> bool:
    """Only complete, successful answers are stored: never a cut or length-limited one."""
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(
        isinstance(c, dict) and c.get("finish_reason") in ("stop", "tool_calls") for c in choices
    )


def hit_response(entry: CacheEntry, response_id: str) -> dict[str, Any]:
    """The cached completion as returned on a hit, under this request's own id."""
    return {**entry.response, "id": response_id, "created": int(time.time())}


def replay_chunks(entry: CacheEntry, response_id: str, include_usage: bool) -> list[dict[str, Any]]:
    """A cached completion as the OpenAI stream chunks a live call would have produced."""
    created = int(time.time())
    model = entry.response.get("model", entry.model)

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **extra,
        }

    out: list[dict[str, Any]] = []
    for choice in entry.response.get("choices", []):
        out.extend(chunk([part]) for part in _streamed_choice(choice))
    if include_usage:
        usage = entry.response.get("usage")
        if isinstance(usage, dict):
            usage = {**usage, "cost_cents": "0"}  # a hit is free, as its X-Prism-Cost-Cents says
        out.append(chunk([], usage=usage))
    return out


def _streamed_choice(choice: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One cached choice as the `choices` of the chunks streaming it: role, content, tool calls,
    finish."""
    index = choice.get("index", 0)
    message = choice.get("message") or {}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    content = message.get("content")
    if isinstance(content, str) and content:
        deltas.append({"content": content})
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        deltas.append({"refusal": message["refusal"]})
    for i, call in enumerate(message.get("tool_calls") or []):
        tool_call = {
            "index": i,
            "id": call.get("id"),
            "type": "function",
            "function": call.get("function"),
        }
        deltas.append({"tool_calls": [tool_call]})
    out = [{"index": index, "delta": delta, "finish_reason": None} for delta in deltas]
    if choice.get("logprobs"):  # the whole answer's, on the chunk holding its text
        out[min(1, len(out) - 1)]["logprobs"] = choice["logprobs"]
    out.append({"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")})
    return out
