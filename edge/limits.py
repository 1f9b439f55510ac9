"""How much of a request body the edge accepts, and how much it is willing to parse.

Two limits. A body larger than the origin would accept (`PRISM_MAX_BODY_BYTES`, the origin's
own setting and binding name, 4 MiB by default) is refused with a 413 from `Content-Length`
alone, before a byte of it is read; without a declared length it is read only until it passes
the limit. A body under that but over `PARSE_LIMIT_BYTES` is forwarded to the origin untouched:
the edge answers only cache hits, which are small chat requests, and parsing (then hashing) a
multi-megabyte body in Pyodide costs seconds of the isolate's CPU for nothing.
"""

from __future__ import annotations

from typing import Final

from edge.config import Lookup
from edge.web import Headers, header_value
from shared.errors import PayloadTooLarge

DEFAULT_MAX_BODY_BYTES: Final = 4 * 1024 * 1024
PARSE_LIMIT_BYTES: Final = 256 * 1024
MAX_BODY_BINDING: Final = "PRISM_MAX_BODY_BYTES"


def max_body_bytes(lookup: Lookup) -> int:
    """The origin's body limit, from the binding when it is a positive integer."""
    raw = (lookup(MAX_BODY_BINDING) or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BODY_BYTES


def declared_length(headers: Headers) -> int | None:
    """Content-Length when it is one plain non-negative integer; None when absent or odd."""
    raw = (header_value(headers, "content-length") or "").strip()
    return int(raw) if raw.isdigit() else None


def too_large(limit: int) -> PayloadTooLarge:
    # The origin's wording, so a client cannot tell which tier refused.
    return PayloadTooLarge(
        f"The request body is larger than the {limit} bytes this gateway accepts."
    )


def parseable(body: bytes) -> bool:
    """Whether the edge may parse this body at all (otherwise it goes to the origin as is)."""
    return len(body) <= PARSE_LIMIT_BYTES
