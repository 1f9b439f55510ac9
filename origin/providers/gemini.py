"""Google Gemini generateContent: responses, `alt=sse` events and usage in OpenAI shapes.

Request translation lives in `gemini_request`. Gemini's prompt count already includes the
cached tokens (`cachedContentTokenCount`), and its thinking tokens are billed as output,
so completion tokens are candidates + thoughts. Gemini names no tool calls, so their ids
are minted here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote

import orjson

from origin.providers import chunks
from origin.providers.base import Completion, Endpoint, SSEEvent, StreamState, UpstreamRequest
from origin.providers.failures import bad_response, map_status
from origin.providers.gemini_request import generate_body
from shared.errors import PrismError
from shared.pricing import TokenUsage

KIND: Final = "gemini"
BASE_URL: Final = "https://generativelanguage.googleapis.com"
_FILTERED: Final = (
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
)
FINISH: Final[Mapping[str, str]] = MappingProxyType(
    {"STOP": "stop", "MAX_TOKENS": "length", **{reason: "content_filter" for reason in _FILTERED}}
)


def usage_of(raw: Any) -> TokenUsage | None:
    if not isinstance(raw, dict):
        return None
    prompt = chunks.count(raw.get("promptTokenCount"))
    output = chunks.count(raw.get("candidatesTokenCount")) + chunks.count(
        raw.get("thoughtsTokenCount")
    )
    cached = min(chunks.count(raw.get("cachedContentTokenCount")), prompt)
    return chunks.believed(
        TokenUsage(prompt_tokens=prompt, completion_tokens=output, cache_read_tokens=cached)
    )


def _finish(candidate: dict[str, Any], called: bool) -> str | None:
    reason = candidate.get("finishReason")
    if reason is None:
        return None
    if called and reason == "STOP":
        return "tool_calls"
    return FINISH.get(str(reason), "stop")


def _parts(candidate: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A candidate's visible text and its function calls (thought summaries left out)."""
    body = candidate.get("content")
    parts = body.get("parts") if isinstance(body, dict) else None
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict) or part.get("thought"):
            continue
        if "text" in part:
            texts.append(str(part["text"]))
        call = part.get("functionCall")
        if isinstance(call, dict):
            calls.append(
                chunks.tool_call(
                    str(call.get("id") or chunks.new_call_id()),
                    str(call.get("name") or ""),
                    call.get("args") or {},
                )
            )
    return "".join(texts), calls


def _candidates(payload: Mapping[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    raw = payload.get("candidates")
    found = raw if isinstance(raw, list) else []
    out = []
    for i, candidate in enumerate(found):
        if not isinstance(candidate, dict):
            continue
        index = chunks.choice_index(candidate.get("index", i))
        if index is None:  # garbage, and one a stream decoder would size its slots by
            raise bad_response(KIND, "sent a candidate with an impossible index")
        out.append((index, candidate))
    return out


class GeminiAdapter:
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
        name = quote(model.removeprefix("models/"), safe="-._~")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        headers = {"content-type": "application/json", "x-goog-api-key": endpoint.api_key.reveal()}
        if stream:
            headers["accept"] = "text/event-stream"
        return UpstreamRequest(
            "POST",
            f"{endpoint.base_url}/v1beta/models/{name}:{action}",
            headers,
            generate_body(body, model),
            stream,
        )

    def parse_response(self, payload: Mapping[str, Any], model: str) -> Completion:
        candidates = _candidates(payload)
        feedback = payload.get("promptFeedback")
        if not candidates and not (isinstance(feedback, dict) and feedback.get("blockReason")):
            raise bad_response(KIND, "answered without candidates", dict(payload))
        choices = []
        for index, candidate in candidates:
            text, calls = _parts(candidate)
            finish = _finish(candidate, bool(calls)) or ("tool_calls" if calls else "stop")
            choices.append(chunks.choice(index, text if text or not calls else None, calls, finish))
        if not choices:  # The prompt itself was blocked.
            choices.append(chunks.choice(0, "", [], "content_filter"))
        usage = usage_of(payload.get("usageMetadata")) or TokenUsage(reported=False)
        body = chunks.completion(
            str(payload.get("responseId") or ""), int(time.time()), model, choices, usage
        )
        return Completion(body=body, usage=usage)

    def stream_decoder(self, model: str, chunk_id: str, created: int) -> GeminiStream:
        return GeminiStream(model, chunk_id, created)

    def map_error(
        self, status: int, payload: bytes, headers: Mapping[str, str], provider: str | None = None
    ) -> PrismError:
        return map_status(provider or KIND, status, payload, headers, retry_delay)


class GeminiStream:
    """Each SSE event is a whole GenerateContentResponse holding the next piece of text."""

    __slots__ = ("_calls", "_created", "_id", "_model", "_started", "state")

    def __init__(self, model: str, chunk_id: str, created: int) -> None:
        self.state = StreamState()
        self._model, self._id, self._created = model, chunk_id, created
        self._calls: dict[int, int] = {}  # candidate index -> tool calls sent so far
        self._started: set[int] = set()

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        try:
            payload = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise bad_response(KIND, "sent a malformed stream chunk") from None
        if not isinstance(payload, dict):
            raise bad_response(KIND, "sent a stream chunk that is not an object")
        if "error" in payload:
            raise bad_response(KIND, "reported an error mid-stream", payload)
        usage = usage_of(payload.get("usageMetadata"))
        if usage is not None:
            self.state.usage = usage  # Running totals: the last one seen is the final count.
        out: list[dict[str, Any]] = []
        for index, candidate in _candidates(payload):
            out.extend(self._candidate(index, candidate))
        return out

    def finish(self) -> list[dict[str, Any]]:
        if not any(self.state.finish_reasons):
            raise bad_response(KIND, "ended the stream before finishing the answer")
        return []

    def _candidate(self, index: int, candidate: dict[str, Any]) -> list[dict[str, Any]]:
        text, calls = _parts(candidate)
        delta: dict[str, Any] = {}
        if index not in self._started:
            self._started.add(index)
            delta["role"] = "assistant"
        if text:
            delta["content"] = text
        if calls:
            first = self._calls.get(index, 0)
            self._calls[index] = first + len(calls)
            delta["tool_calls"] = [{"index": first + n, **call} for n, call in enumerate(calls)]
        out = []
        if delta:
            out.append(chunks.chunk(self._id, self._created, self._model, delta, index))
        finish = _finish(candidate, index in self._calls)
        if finish is not None:
            chunks.note_finish(self.state, index, finish)
            out.append(chunks.chunk(self._id, self._created, self._model, {}, index, finish))
        return out


def retry_delay(payload: bytes) -> float | None:
    """Gemini puts its retry hint in the error body (google.rpc.RetryInfo), not a header."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(0.0, float(delay[:-1]))
            except ValueError:
                return None
    return None
