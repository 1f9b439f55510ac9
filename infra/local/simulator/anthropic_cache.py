"""How the simulated Claude counts a prompt and reads its cache_control breakpoints: the prompt
in upstream order (tools, system, messages), one unit per block, and a cache mark at every block
boundary up to the last marker, keyed by the prefix's content."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from .tokens import MESSAGE_OVERHEAD, json_text, tokens
from .turn import BadRequest, CacheMark


def blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and all(isinstance(b, dict) for b in content):
        return content
    raise BadRequest("content must be a string or a list of content blocks")


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return tokens(block.get("text") or "")
    if kind == "tool_use":
        return tokens(json_text(block.get("input") or {}))
    if kind == "tool_result":
        inner = block.get("content") or ""
        return (
            tokens(inner)
            if isinstance(inner, str)
            else sum(_block_tokens(b) for b in blocks(inner))
        )
    return 0


def _unmarked(item: dict[str, Any]) -> dict[str, Any]:
    return (
        {k: v for k, v in item.items() if k != "cache_control"} if "cache_control" in item else item
    )


def prompt_units(
    body: dict[str, Any], tools: list[dict[str, Any]]
) -> list[tuple[int, dict[str, Any]]]:
    """The prompt in upstream order, one (tokens, block) per tool or content block."""
    units = [(tokens(json_text(_unmarked(t))), t) for t in tools]
    system = body.get("system")
    turns = ([blocks(system)] if system else []) + [
        blocks(m.get("content")) for m in body["messages"]
    ]
    for parts in turns:
        if not parts:
            units.append((MESSAGE_OVERHEAD, {}))
        for index, block in enumerate(parts):
            units.append(((MESSAGE_OVERHEAD if index == 0 else 0) + _block_tokens(block), block))
    return units


def _ttl(block: dict[str, Any]) -> str | None:
    control = block.get("cache_control")
    if control is None:
        return None
    return str(control.get("ttl") or "5m") if isinstance(control, dict) else "5m"


def cache_marks(units: list[tuple[int, dict[str, Any]]]) -> list[CacheMark]:
    """Every block boundary up to the last cache_control marker, keyed by the prefix's content."""
    last = max((i for i, (_, block) in enumerate(units) if "cache_control" in block), default=-1)
    hasher, total, marks = hashlib.blake2b(digest_size=16), 0, []
    for count, block in units[: last + 1]:
        hasher.update(orjson.dumps(_unmarked(block)) + b"\x1e")
        total += count
        marks.append(CacheMark(tokens=total, key=hasher.digest(), ttl=_ttl(block)))
    return marks
