"""One JSON log line as both tiers write it, and the names of a request line's fields.

The origin's JSON formatter and the edge's log handler both build their lines here, so a query
an operator writes over `request_id`, `status`, `latency_ms` or `cache_status` holds for either
tier. Whatever a message says, anything shaped like an API key or a bearer token is masked
before a line is written: the last line of defence behind code that never logs one.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Final

# Prism keys, OpenAI/Anthropic-style keys, Google keys, bearer tokens.
_SECRET: Final = re.compile(
    r"(?<![A-Za-z0-9])(prism_sk_|sk-ant-|sk-|AIza|[Bb]earer\s+)[A-Za-z0-9_\-.~+/=]{6,}"
)
# Substrings every match contains: looking for them is far cheaper than running the pattern,
# and most lines (every request line) contain none.
_TRIGGERS: Final = ("sk_", "sk-", "AIza", "earer")
# Probes and scrapes would drown the request lines (and, at the origin, the request counters).
QUIET_PATHS: Final = frozenset({"/metrics", "/healthz"})


def mask_secrets(text: str) -> str:
    if not any(trigger in text for trigger in _TRIGGERS):
        return text
    return _SECRET.sub(lambda match: f"{match.group(1)}***", text)


def timestamp(created: float) -> str:
    """`created` (seconds since the epoch) in ISO 8601, UTC, to the millisecond."""
    millis = int((created - int(created)) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


def json_line(
    created: float,
    level: str,
    logger: str,
    request_id: str,
    message: str,
    fields: Mapping[str, object] | None = None,
    exception: str | None = None,
) -> str:
    """The line, without its newline: the common keys first, then the event's own fields."""
    entry: dict[str, object] = {
        "ts": timestamp(created),
        "level": level,
        "logger": logger,
        "request_id": request_id,
        "message": message,
    }
    if fields:
        entry.update(fields)
    if exception:
        entry["exception"] = exception
    return mask_secrets(json.dumps(entry, default=str))


def request_fields(method: str, path: str, status: int, latency_ms: float) -> dict[str, object]:
    """The fields every request line starts with, named alike on both tiers."""
    return {"method": method, "path": path, "status": status, "latency_ms": latency_ms}
