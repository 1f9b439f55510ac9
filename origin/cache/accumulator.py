"""A streamed answer collected back into the chat.completion a non-streamed call returns.

The cache stores whole completions; a streamed miss is stored too, but only from what the
client was actually sent, and only when the stream ran to its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from origin.providers import chunks
from origin.providers.base import Completion
from shared.pricing import TokenUsage


@dataclass
class _Choice:
    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    # Kept so that a stored stream answers a later request for them as the live call did:
    # the cache key holds logprobs, and a parse() client reads a refusal instead of content.
    refusal: list[str] = field(default_factory=list)
    logprobs: dict[str, list[Any]] = field(default_factory=dict)


class StreamAccumulator:
    def __init__(self) -> None:
        self._choices: dict[int, _Choice] = {}
        self._id, self._created, self._model = "", 0, ""

    def add(self, chunk: dict[str, Any]) -> None:
        self._id = self._id or str(chunk.get("id") or "")
        self._created = self._created or int(chunk.get("created") or 0)
        self._model = self._model or str(chunk.get("model") or "")
        for part in chunk.get("choices") or ():
            choice = self._choices.setdefault(int(part.get("index") or 0), _Choice())
            delta = part.get("delta") or {}
            if isinstance(delta.get("content"), str):
                choice.text.append(delta["content"])
            if isinstance(delta.get("refusal"), str):
                choice.refusal.append(delta["refusal"])
            _merge_logprobs(choice.logprobs, part.get("logprobs"))
            for call in delta.get("tool_calls") or ():
                _merge_call(choice.calls.setdefault(int(call.get("index") or 0), {}), call)
            if part.get("finish_reason"):
                choice.finish_reason = part["finish_reason"]

    def completion(self, usage: TokenUsage) -> Completion:
        choices = []
        for index in sorted(self._choices):
            choice = self._choices[index]
            calls = [
                chunks.tool_call(c.get("id", ""), c.get("name", ""), c.get("arguments", ""))
                for _, c in sorted(choice.calls.items())
            ]
            # The role chunk's empty content is no text: a refusal or tool calls leave it null.
            joined = "".join(choice.text)
            text = joined if joined or not (calls or choice.refusal) else None
            out = chunks.choice(index, text, calls, choice.finish_reason)
            out["message"]["refusal"] = "".join(choice.refusal) or None
            out["logprobs"] = choice.logprobs or None
            choices.append(out)
        body = chunks.completion(self._id, self._created, self._model, choices, usage)
        return Completion(body=body, usage=usage)


def _merge_call(into: dict[str, Any], delta: dict[str, Any]) -> None:
    # The first fragment of a call names it; later ones only append argument text.
    if delta.get("id"):
        into["id"] = delta["id"]
    function = delta.get("function") or {}
    if function.get("name"):
        into["name"] = function["name"]
    if isinstance(function.get("arguments"), str):
        into["arguments"] = into.get("arguments", "") + function["arguments"]


def _merge_logprobs(into: dict[str, list[Any]], logprobs: Any) -> None:
    # Each chunk carries the logprobs of its own tokens: the whole answer's are their concatenation.
    if not isinstance(logprobs, dict):
        return
    for key in ("content", "refusal"):
        if isinstance(logprobs.get(key), list):
            into.setdefault(key, []).extend(logprobs[key])
