"""What the simulated model says: deterministic text, JSON, or a tool call built from a schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .tokens import tokens, truncate
from .turn import Turn

SCALARS = MappingProxyType(
    {"string": "sim", "integer": 1, "number": 1, "boolean": True, "null": None}
)


@dataclass(frozen=True, slots=True)
class Reply:
    """One choice's output. finish is stop | stop_sequence | length | tool."""

    text: str
    finish: str
    tool_name: str | None = None
    stop_sequence: str | None = None

    @property
    def is_tool(self) -> bool:
        return self.tool_name is not None

    @property
    def arguments(self) -> Any:
        return json.loads(self.text) if self.is_tool else None

    @property
    def output_tokens(self) -> int:
        return tokens(self.text)


def example(schema: Any) -> Any:
    """A minimal value that satisfies a JSON schema: required properties, first enum value."""
    if not isinstance(schema, dict):
        return None
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = kind.lower() if isinstance(kind, str) else ("object" if "properties" in schema else None)
    if kind == "array":
        return []
    if kind != "object":
        return SCALARS.get(kind or "null")
    props = schema.get("properties") or {}
    return {name: example(props[name]) for name in schema.get("required") or () if name in props}


def default_text(turn: Turn) -> str:
    return f"Simulated {turn.model} reply: {turn.user_text[:60]}"


def plan(turn: Turn, scripted: str | None = None) -> Reply:
    """The reply for a turn; a scripted text is returned exactly, with no cuts or wrapping."""
    if scripted is not None:
        return Reply(text=scripted, finish="stop")
    if turn.tool is not None:
        return Reply(
            text=json.dumps(example(turn.tool.schema)), finish="tool", tool_name=turn.tool.name
        )
    text = default_text(turn)
    if turn.json_schema is not None:
        text = json.dumps(example(turn.json_schema))
    elif turn.json_mode:
        text = json.dumps({"reply": text})
    finish, matched = "stop", None
    cut = min(((text.find(s), s) for s in turn.stops if s in text), default=None)
    if cut is not None:
        text, finish, matched = text[: cut[0]], "stop_sequence", cut[1]
    if turn.max_tokens is not None and tokens(text) > turn.max_tokens:
        text, finish, matched = truncate(text, turn.max_tokens), "length", None
    return Reply(text=text, finish=finish, stop_sequence=matched)


def split(text: str, pieces: int = 3) -> list[str]:
    """Cut text into about `pieces` consecutive non-empty chunks, as a stream would deliver it."""
    if not text:
        return []
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]
