"""Anthropic Messages API: responses, stream events and usage read back into OpenAI shapes.

Request translation lives in `anthropic_request`. Usage is normalised so that prompt tokens
count every input token: Anthropic's `input_tokens` excludes the tokens read from and
written to its prompt cache, which it reports separately (writes split by TTL when the
`cache_creation` breakdown is present).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import orjson

from origin.providers import chunks
from origin.providers.anthropic_request import JSON_ANSWER_TOOL, messages_body
from origin.providers.base import Completion, Endpoint, SSEEvent, StreamState, UpstreamRequest
from origin.providers.failures import bad_response, map_status
from shared.errors import PrismError
from shared.pricing import TokenUsage

KIND: Final = "anthropic"
BASE_URL: Final = "https://api.anthropic.com"
API_VERSION: Final = "2023-06-01"
FINISH: Final[Mapping[str, str]] = MappingProxyType(
    {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "pause_turn": "stop",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "tool_use": "tool_calls",
        "refusal": "content_filter",
    }
)


def usage_of(raw: Any) -> TokenUsage | None:
    if not isinstance(raw, dict):
        return None
    written = chunks.count(raw.get("cache_creation_input_tokens"))
    read = chunks.count(raw.get("cache_read_input_tokens"))
    w5m, w1h = written, 0
    split = raw.get("cache_creation")
    if isinstance(split, dict):
        five = chunks.count(split.get("ephemeral_5m_input_tokens"))
        hour = chunks.count(split.get("ephemeral_1h_input_tokens"))
        if five + hour == written:  # A breakdown that disagrees with the total is ignored.
            w5m, w1h = five, hour
    return chunks.believed(
        TokenUsage(
            prompt_tokens=chunks.count(raw.get("input_tokens")) + written + read,
            completion_tokens=chunks.count(raw.get("output_tokens")),
            cache_read_tokens=read,
            cache_write_5m_tokens=w5m,
            cache_write_1h_tokens=w1h,
        )
    )


class AnthropicAdapter:
    __slots__ = ()
    kind = KIND

    def build_request(
        self,
        endpoint: Endpoint,
        model: str,
        body: Mapping[str, Any],
        stream: bool,
        *,
        prompt_cache: bool = False,
    ) -> UpstreamRequest:
        headers = {
            "content-type": "application/json",
            "x-api-key": endpoint.api_key.reveal(),
            "anthropic-version": API_VERSION,
        }
        if stream:
            headers["accept"] = "text/event-stream"
        return UpstreamRequest(
            "POST",
            f"{endpoint.base_url}/v1/messages",
            headers,
            messages_body(auto_cache_marked(body) if prompt_cache else body, model, stream),
            stream,
        )

    def parse_response(self, payload: Mapping[str, Any], model: str) -> Completion:
        blocks = payload.get("content")
        if not isinstance(blocks, list):
            raise bad_response(KIND, "answered without content", dict(payload))
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        answered_json = False
        for block in blocks:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_use" and block.get("name") == JSON_ANSWER_TOOL:
                # JSON mode's answer: its input is the message (see anthropic_request).
                texts.append(orjson.dumps(block.get("input") or {}).decode())
                answered_json = True
            elif block.get("type") == "tool_use":
                calls.append(
                    chunks.tool_call(
                        str(block.get("id") or chunks.new_call_id()),
                        str(block.get("name") or ""),
                        block.get("input") or {},
                    )
                )
        text = "".join(texts) if texts or not calls else None
        finish = _finish(payload.get("stop_reason"), answered_json and not calls)
        usage = usage_of(payload.get("usage")) or TokenUsage(reported=False)
        body = chunks.completion(
            str(payload.get("id") or ""),
            int(time.time()),
            model,
            [chunks.choice(0, text, calls, finish)],
            usage,
        )
        return Completion(body=body, usage=usage)

    def stream_decoder(self, model: str, chunk_id: str, created: int) -> AnthropicStream:
        return AnthropicStream(model, chunk_id, created)

    def map_error(
        self, status: int, payload: bytes, headers: Mapping[str, str], provider: str | None = None
    ) -> PrismError:
        return map_status(provider or KIND, status, payload, headers)


class AnthropicStream:
    """Named Messages events in, OpenAI chunks out; tool blocks become indexed tool calls."""

    __slots__ = (
        "_created",
        "_done",
        "_id",
        "_json_block",
        "_model",
        "_start_usage",
        "_tools",
        "state",
    )

    def __init__(self, model: str, chunk_id: str, created: int) -> None:
        self.state = StreamState()
        self._model, self._id, self._created = model, chunk_id, created
        self._start_usage: dict[str, Any] | None = None
        self._tools: dict[int, int] = {}  # content block index -> OpenAI tool call index
        self._json_block: int | None = None  # the JSON answer tool's block: message text
        self._done = False

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise bad_response(KIND, "sent a malformed stream event") from None
        if not isinstance(data, dict):
            raise bad_response(KIND, "sent a stream event that is not an object")
        kind = data.get("type") or event.event
        if kind == "content_block_delta":
            return self._delta(data)
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "message_start":
            message = data.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            self._start_usage = usage if isinstance(usage, dict) else None
            self.state.prompt_usage = usage_of(self._start_usage)
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            self._done = True
        elif kind == "error":
            raise bad_response(KIND, "reported an error mid-stream", data)
        return []  # ping, content_block_stop, and event types added after this was written

    def finish(self) -> list[dict[str, Any]]:
        if not self._done and not any(self.state.finish_reasons):
            raise bad_response(KIND, "ended the stream before finishing the answer")
        return []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return chunks.chunk(self._id, self._created, self._model, delta, 0, finish)

    def _block_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        if block.get("type") == "tool_use" and block.get("name") == JSON_ANSWER_TOOL:
            self._json_block = chunks.count(data.get("index"))
            return []
        if block.get("type") == "tool_use":
            index = len(self._tools)
            self._tools[chunks.count(data.get("index"))] = index
            call = {
                "index": index,
                "id": str(block.get("id") or chunks.new_call_id()),
                "type": "function",
                "function": {"name": str(block.get("name") or ""), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        return []

    def _delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        if delta.get("type") == "text_delta":
            return [self._chunk({"content": str(delta.get("text") or "")})]
        if delta.get("type") != "input_json_delta" or not delta.get("partial_json"):
            return []  # thinking and signature deltas have no chat-completions counterpart
        block = chunks.count(data.get("index"))
        if block == self._json_block:
            return [self._chunk({"content": str(delta["partial_json"])})]
        fragment = {
            "index": self._tools.get(block, 0),
            "function": {"arguments": delta["partial_json"]},
        }
        return [self._chunk({"tool_calls": [fragment]})]

    def _message_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        usage = data.get("usage")
        if isinstance(usage, dict):
            # message_start holds the input side; message_delta the final output count (and,
            # from newer API versions, cumulative input counts that supersede the first ones).
            self.state.usage = usage_of({**(self._start_usage or {}), **usage})
        delta = data.get("delta")
        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        if reason is None:
            return []
        finish = _finish(reason, self._json_block is not None and not self._tools)
        chunks.note_finish(self.state, 0, finish)
        return [self._chunk({}, finish)]


def _finish(stop_reason: Any, json_answer_only: bool) -> str:
    # The JSON answer tool is how JSON mode answers, not a call for the client to make.
    if json_answer_only and stop_reason == "tool_use":
        return "stop"
    return FINISH.get(str(stop_reason), "stop")


# About 1024 tokens: Anthropic does not cache a shorter prefix, so marking one only adds noise.
AUTO_CACHE_MIN_CHARS: Final = 4096
AUTO_CACHE_MARKER: Final[Mapping[str, str]] = MappingProxyType({"type": "ephemeral"})


def auto_cache_marked(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """`body` with its long system prompt marked for Anthropic's prompt cache (opt-in,
    `X-Prism-Auto-Cache: on`).

    The system prompt is the stable part of a conversation: marking its last message makes
    tools + system the cached prefix. A body that already carries a `cache_control` marker is
    returned untouched: the client placed its own breakpoints and they are passed as they are.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or _has_marker(messages) or _has_marker(body.get("tools")):
        return body
    system = [
        i
        for i, m in enumerate(messages)
        if isinstance(m, dict) and m.get("role") in ("system", "developer")
    ]
    length = sum(len(_text_of(messages[i].get("content"))) for i in system)
    if not system or length < AUTO_CACHE_MIN_CHARS:
        return body
    marked = list(messages)
    marked[system[-1]] = {**messages[system[-1]], "cache_control": dict(AUTO_CACHE_MARKER)}
    return {**body, "messages": marked}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return ""


def _has_marker(value: Any) -> bool:
    if isinstance(value, dict):
        return "cache_control" in value or any(_has_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_marker(v) for v in value)
    return False
