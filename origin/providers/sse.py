"""Server-sent events: an incremental parser for provider streams and the encoder for ours.

The parser follows the WHATWG event-stream rules that matter for LLM providers: lines end
in LF, CRLF or a lone CR; `data:` lines of one event join with LF; `event:` names it;
lines starting with `:` are comments (keep-alive pings); a blank line dispatches. It is
fed raw byte chunks cut anywhere, so it only ever decodes whole lines, and a CR at the
very end of a chunk is held back until we know whether an LF follows it.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from origin.providers.base import SSEEvent

_EOL: Final = re.compile(rb"\r\n|\r|\n")
_BOM: Final = "\ufeff"
DONE: Final = b"data: [DONE]\n\n"
DEFAULT_MAX_LINE_BYTES: Final = 16 * 1024 * 1024


class SSEError(ValueError):
    """The stream broke the framing rules badly enough that we cannot go on parsing it."""


class SSEParser:
    """Bytes in, whole events out; one parser per upstream response."""

    __slots__ = ("_buf", "_data", "_event", "_max_line", "_started")

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._started = False
        self._max_line = max_line_bytes

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk if self._buf else chunk
        events: list[SSEEvent] = []
        pos = 0
        end = len(buf)
        for match in _EOL.finditer(buf):
            if match.end() == end and buf[-1:] == b"\r":
                break  # May be the first half of a CRLF split across chunks.
            self._line(buf[pos : match.start()], events)
            pos = match.end()
        self._buf = buf[pos:]
        if len(self._buf) > self._max_line:
            raise SSEError(f"an SSE line exceeded {self._max_line} bytes")
        return events

    def close(self) -> list[SSEEvent]:
        """Events still pending when the stream ends, including one without its blank line."""
        events: list[SSEEvent] = []
        rest, self._buf = self._buf, b""
        for line in _EOL.split(rest):
            if line:
                self._line(line, events)
        self._line(b"", events)
        return events

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            if self._data:
                events.append(SSEEvent(event=self._event, data="\n".join(self._data)))
            self._data = []
            self._event = None
            return
        line = raw.decode("utf-8", errors="replace")
        if not self._started:
            self._started = True
            line = line.removeprefix(_BOM)
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value or None
        # `id` and `retry` only matter to reconnecting browsers; we never resume a stream.


def encode_data(payload: dict[str, Any]) -> bytes:
    """One `data:` event carrying a JSON object, as we send chunks to clients."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def encode_comment(text: str = "") -> bytes:
    """A comment line: clients ignore it, proxies see traffic (a keep-alive)."""
    return b": " + text.replace("\n", " ").replace("\r", " ").encode() + b"\n\n"
