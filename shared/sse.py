"""The one server-sent-events encoder, for every stream Prism sends a client.

OpenAI-style streams are `data: <json>` events and a final `data: [DONE]`. The JSON
serialiser is the caller's: the origin passes orjson (streams are its hot path), the edge the
standard library's; the framing is the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Final

Dumps = Callable[[Any], bytes]
DONE: Final = b"data: [DONE]\n\n"


def compact_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def data_event(payload: Any, dumps: Dumps = compact_json) -> bytes:
    """One `data:` event carrying a JSON value."""
    return b"data: " + dumps(payload) + b"\n\n"


def comment(text: str = "") -> bytes:
    """A comment line: clients ignore it, proxies see traffic (a keep-alive)."""
    return b": " + text.replace("\n", " ").replace("\r", " ").encode("utf-8") + b"\n\n"


def stream(chunks: Iterable[Any], dumps: Dumps = compact_json) -> bytes:
    """A whole stream at once: every chunk as an event, then [DONE]."""
    return b"".join(data_event(chunk, dumps) for chunk in chunks) + DONE
