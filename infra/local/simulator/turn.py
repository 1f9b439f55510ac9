"""One chat request reduced to what the simulator needs, whatever wire format it came in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class BadRequest(Exception):
    """The request is malformed; each wire format renders this as its own 400 error."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CacheMark:
    """A prompt prefix ending at an Anthropic block: a cache_control breakpoint when ttl is set,
    else a boundary only looked up (upstream finds earlier cached prefixes behind a breakpoint)."""

    tokens: int
    key: bytes
    ttl: str | None = None


@dataclass(slots=True)
class Turn:
    model: str
    stream: bool
    prompt_tokens: int
    user_text: str
    tool: ToolSpec | None = None
    max_tokens: int | None = None
    stops: tuple[str, ...] = ()
    choices: int = 1
    json_mode: bool = False
    json_schema: dict[str, Any] | None = None
    include_usage: bool = False
    sse: bool = True
    # Automatic (OpenAI/Gemini) caching: tokens of tools + all messages but the last,
    # and the objects that make up that prefix (hashed only when the prompt is long enough).
    prefix_tokens: int = 0
    prefix_source: Any = None
    marks: list[CacheMark] = field(default_factory=list)
    thinking: bool = False  # Anthropic's extended thinking: a thinking block opens the answer


@dataclass(slots=True)
class Counts:
    """Prompt-side token accounting; prompt_tokens includes every cached token."""

    prompt_tokens: int
    cached_tokens: int = 0
    creation_5m: int = 0
    creation_1h: int = 0

    @property
    def creation(self) -> int:
        return self.creation_5m + self.creation_1h

    @property
    def uncached(self) -> int:
        return self.prompt_tokens - self.cached_tokens - self.creation


def as_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer")
    return value


def as_stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(s for s in value if s)
    raise BadRequest("stop sequences must be a string or a list of strings")
