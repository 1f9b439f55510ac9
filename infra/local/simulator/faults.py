"""Scripted faults: what the next matching upstream call should do instead of answering normally.

``POST /_sim/script`` takes ``{provider?, model?, times?: int = 1, fault: {...}}`` and queues
the fault for the next ``times`` requests whose provider (the ``/p/<provider>`` segment) and
model match (absent = any). The first queued match wins (FIFO). Fault kinds:

  * ``{"kind": "status", "status": 500, "retry_after"?: secs, "message"?: str}``: that status
    with a body in the provider's own error shape; 429 always sends Retry-After (default 1),
    other statuses only when retry_after is given.
  * ``{"kind": "hang"}``: no response at all until the client goes away.
  * ``{"kind": "slow_first_byte", "delay_ms": N}``: wait N ms before the status line, then answer.
  * ``{"kind": "slow_first_chunk", "delay_ms": N}``: streaming: send the status line and
    headers at once, then wait N ms before the first event. JSON: like slow_first_byte.
  * ``{"kind": "disconnect", "after_chunks": N}``: streaming: send N SSE events, then cut the
    connection without ending the body (N = 0: a 200 with headers and no event at all).
    JSON: drop the connection before any response byte.
  * ``{"kind": "malformed_chunk"}``: streaming: after the first event, one extra event whose
    data line is the first half of the next event's JSON. JSON: 200 with the body cut in half.
  * ``{"kind": "no_usage"}``: the response carries no usage block at all.
  * ``{"kind": "usage", "usage": {...}}``: report exactly this provider-native usage block
    (OpenAI ``usage``, Anthropic ``usage``, Gemini ``usageMetadata``; Anthropic streams put
    its non-output fields on message_start and its output_tokens on message_delta).
  * ``{"kind": "reply", "text": "..."}``: answer with exactly this text.
  * ``{"kind": "echo_key", "status"?: 401, "form"?: "json" | "text" | "stream"}``: repeat the
    request's Authorization / x-api-key / x-goog-api-key values back (see echo.py): in the
    error message of a provider-shaped body (json), a plain-text body (text) or an error event
    of a 200 stream (stream); always in an x-echo-credentials header and a simulator log line.
  * ``{"kind": "extra_event", "data": {...} | "...", "event"?: name, "after_chunks"?: N,
    "end"?: bool}``: streaming: after N events (default 0), one more whose data line is this
    object as JSON (a string as is), named ``event`` if given, then the rest of the stream,
    or with ``end`` a clean end of the body right there: a provider's mid-stream error event,
    a chunk of an odd shape, or a stream that says ``[DONE]`` with nothing before it.
  * ``{"kind": "body", "body": {...}}``: JSON: answer 200 with exactly this object (a string
    is sent as it is: JSON that a re-encoder could not write, say).
  * ``{"kind": "huge_body", "bytes": N, "gzip"?: bool}``: JSON: a well-formed answer whose
    text is N bytes long, streamed out without holding it; with gzip, sent compressed
    (Content-Encoding: gzip), so a few hundred KB on the wire inflate to N bytes: a zip bomb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = frozenset(
    {
        "status",
        "hang",
        "slow_first_byte",
        "slow_first_chunk",
        "disconnect",
        "malformed_chunk",
        "no_usage",
        "usage",
        "reply",
        "echo_key",
        "huge_body",
        "extra_event",
        "body",
    }
)
ECHO_FORMS = frozenset({"json", "text", "stream"})


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    status: int = 500
    retry_after: float | None = None
    message: str | None = None
    delay_ms: int = 0
    after_chunks: int = 0
    usage: dict[str, Any] | None = None
    text: str | None = None
    form: str = "json"
    size: int = 0
    gzip: bool = False
    data: Any = None  # extra_event's data, or body's object
    event: str | None = None
    end: bool = False


def _number(raw: dict[str, Any], name: str, default: float) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"fault.{name} must be a non-negative number")
    return value


def parse_fault(raw: Any) -> Fault:
    """Validate a fault object from the control API; ValueError says what is wrong."""
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        raise ValueError(f"fault.kind must be one of {sorted(KINDS)}")
    kind = raw["kind"]
    status = int(_number(raw, "status", 401 if kind == "echo_key" else 500))
    if kind in ("status", "echo_key") and not 400 <= status <= 599:
        raise ValueError("fault.status must be 400-599")
    if kind == "usage" and not isinstance(raw.get("usage"), dict):
        raise ValueError("fault.usage must be an object")
    if kind == "reply" and not isinstance(raw.get("text"), str):
        raise ValueError("fault.text must be a string")
    form = raw.get("form", "json")
    if kind == "echo_key" and form not in ECHO_FORMS:
        raise ValueError(f"fault.form must be one of {sorted(ECHO_FORMS)}")
    if kind == "huge_body" and "bytes" not in raw:
        raise ValueError("fault.bytes is required for huge_body")
    if kind == "extra_event" and not isinstance(raw.get("data"), (dict, str)):
        raise ValueError("fault.data must be an object or a string")
    if kind == "body" and not isinstance(raw.get("body"), (dict, str)):
        raise ValueError("fault.body must be an object or a string")
    if not isinstance(raw.get("event", ""), str):
        raise ValueError("fault.event must be a string")
    retry = raw.get("retry_after")
    return Fault(
        kind=kind,
        status=status,
        retry_after=None if retry is None else _number(raw, "retry_after", 0),
        message=raw.get("message") if isinstance(raw.get("message"), str) else None,
        delay_ms=int(_number(raw, "delay_ms", 0)),
        after_chunks=int(_number(raw, "after_chunks", 0)),
        usage=raw.get("usage"),
        text=raw.get("text"),
        form=form if isinstance(form, str) else "json",
        size=int(_number(raw, "bytes", 0)),
        gzip=raw.get("gzip") is True,
        data=raw.get("body") if kind == "body" else raw.get("data"),
        event=raw.get("event") or None,
        end=raw.get("end") is True,
    )


@dataclass(slots=True)
class Script:
    fault: Fault
    provider: str | None
    model: str | None
    remaining: int

    def matches(self, provider: str, model: str) -> bool:
        return (self.provider is None or self.provider == provider) and (
            self.model is None or self.model == model
        )


class ScriptQueue:
    """Queued faults, consumed first-in first-out by the requests they match."""

    def __init__(self) -> None:
        self._items: list[Script] = []

    def __len__(self) -> int:
        return sum(s.remaining for s in self._items)

    def clear(self) -> None:
        self._items.clear()

    def add(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise TypeError("body must be an object")
        times = raw.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        provider, model = raw.get("provider"), raw.get("model")
        if not all(v is None or isinstance(v, str) for v in (provider, model)):
            raise ValueError("provider and model must be strings")
        self._items.append(Script(parse_fault(raw.get("fault")), provider, model, times))

    def take(self, provider: str, model: str) -> Fault | None:
        if not self._items:
            return None
        for index, script in enumerate(self._items):
            if script.matches(provider, model):
                script.remaining -= 1
                if script.remaining == 0:
                    del self._items[index]
                return script.fault
        return None
