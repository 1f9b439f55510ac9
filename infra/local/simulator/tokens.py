"""The simulator's token arithmetic: a fixed four-characters-per-token rule anyone can recompute."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

MESSAGE_OVERHEAD = 4


def tokens(text: str) -> int:
    """ceil(len(text) / 4): 0 for the empty string, at least 1 otherwise."""
    return (len(text) + 3) // 4


def json_text(obj: Any) -> str:
    """Compact JSON with non-ASCII kept, i.e.
    json.dumps(obj, separators=(",", ":"), ensure_ascii=False)."""
    return orjson.dumps(obj).decode()


def message_tokens(parts: Iterable[str]) -> int:
    return MESSAGE_OVERHEAD + sum(tokens(p) for p in parts)


def truncate(text: str, limit: int) -> str:
    """The longest prefix of text that is at most `limit` tokens."""
    return text[: max(limit, 0) * 4]
