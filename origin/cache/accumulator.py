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
            text = "".join(choice.text) if choice.text or not calls else None
            choices.append(chunks.choice(index, text, calls, choice.finish_reason))
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
