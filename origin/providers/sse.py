"""Server-sent events: an incremental parser for provider streams (ours are encoded by
`shared.sse`).

The parser follows the WHATWG event-stream rules that matter for LLM providers: lines end
in LF, CRLF or a lone CR; `data:` lines of one event join with LF; `event:` names it;
lines starting with `:` are comments (keep-alive pings); a blank line dispatches. It is
fed raw byte chunks cut anywhere, so it only ever decodes whole lines, and a CR at the
very end of a chunk ends the line at once but swallows an LF that opens the next chunk.
"""

from __future__ import annotations

import re
from typing import Final

from origin.providers.base import SSEEvent

_EOL: Final = re.compile(rb"\r\n|\r|\n")
_BOM: Final = "\ufeff"
DEFAULT_MAX_LINE_BYTES: Final = 16 * 1024 * 1024


class SSEError(ValueError):
    """The stream broke the framing rules badly enough that we cannot go on parsing it."""


class SSEParser:
    """Bytes in, whole events out; one parser per upstream response.

    Linear in what it is fed, however the bytes are cut: each chunk is scanned once, a line
    split over many chunks is kept as its pieces and joined once, when it ends. (Joining the
    pending rest to every new chunk and rescanning it made a long line fed in small pieces
    quadratic: a provider trickling one huge line could pin a worker's CPU.) `max_line_bytes`
    bounds both one line and one event's data, so memory is bounded too.
    """

    __slots__ = (
        "_after_cr",
        "_data",
        "_data_size",
        "_event",
        "_max_line",
        "_parts",
        "_parts_size",
        "_started",
        "examined",
    )

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._parts: list[bytes] = []  # the current line so far, as it arrived
        self._parts_size = 0
        self._after_cr = False  # the last chunk ended in CR: an LF opening the next belongs to it
        self._data: list[str] = []
        self._data_size = 0
        self._event: str | None = None
        self._started = False
        self._max_line = max_line_bytes
        # Bytes scanned plus bytes copied so far: stays within a small multiple of the bytes
        # fed, whatever the chunking (what keeps the parser linear, and what tests check).
        self.examined = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if not chunk:
            return events
        pos = 1 if self._after_cr and chunk[:1] == b"\n" else 0
        self._after_cr = False
        end = len(chunk)
        self.examined += end
        for match in _EOL.finditer(chunk, pos):
            self._line(self._take_line(chunk[pos : match.start()]), events)
            pos = match.end()
        if pos and chunk[pos - 1 : pos] == b"\r" and pos == end:
            self._after_cr = True
        if pos < end:
            self._parts.append(chunk[pos:])
            self._parts_size += end - pos
            if self._parts_size > self._max_line:
                raise SSEError(f"an SSE line exceeded {self._max_line} bytes")
        return events

    def close(self) -> list[SSEEvent]:
        """Events still pending when the stream ends, including one without its blank line."""
        events: list[SSEEvent] = []
        if self._parts:
            self._line(self._take_line(b""), events)
        self._line(b"", events)
        return events

    def _take_line(self, tail: bytes) -> bytes:
        if not self._parts:
            return tail
        self._parts.append(tail)
        line = b"".join(self._parts)
        self.examined += len(line)
        self._parts, self._parts_size = [], 0
        return line

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            if self._data:
                events.append(SSEEvent(event=self._event, data="\n".join(self._data)))
            self._data, self._data_size = [], 0
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
            self._data_size += len(value) + 1
            if self._data_size > self._max_line:
                raise SSEError(f"an SSE event's data exceeded {self._max_line} bytes")
            self._data.append(value)
        elif name == "event":
            self._event = value or None
        # `id` and `retry` only matter to reconnecting browsers; we never resume a stream.
