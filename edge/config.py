"""The Worker's bindings and secrets, read from the runtime's `env` for each request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

# Every name the Worker reads from `env`: wrangler.toml [vars] or `wrangler secret put`.
BINDINGS: Final = (
    "ORIGIN_URL",
    "ORIGIN_TIMEOUT_S",
    "SUPABASE_URL",
    # The edge's own least-privilege JWT (role prism_edge): resolve keys, insert hit rows.
    "SUPABASE_EDGE_KEY",
    # The project's public anon key, which hosted Supabase's gateway wants as `apikey`.
    "SUPABASE_ANON_KEY",
    "UPSTASH_REDIS_REST_URL",
    "UPSTASH_REDIS_REST_TOKEN",
    "UPSTASH_VECTOR_REST_URL",
    "UPSTASH_VECTOR_REST_TOKEN",
)

# Time to the origin's response headers. Generous because a non-streamed reasoning call
# produces its headers only after the whole completion; streams send headers at once.
DEFAULT_ORIGIN_TIMEOUT_S: Final = 300.0

Lookup = Callable[[str], str | None]


class ConfigError(Exception):
    """A binding is missing or malformed; the Worker cannot serve until it is fixed."""


@dataclass(frozen=True)
class EdgeConfig:
    origin_url: str
    origin_timeout_s: float = DEFAULT_ORIGIN_TIMEOUT_S
    supabase_url: str | None = None
    supabase_edge_key: str | None = field(default=None, repr=False)
    supabase_anon_key: str | None = field(default=None, repr=False)
    redis_url: str | None = None
    redis_token: str | None = field(default=None, repr=False)
    vector_url: str | None = None
    vector_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_lookup(cls, lookup: Lookup) -> EdgeConfig:
        def get(name: str) -> str | None:
            value = lookup(name)
            return (value.strip() or None) if isinstance(value, str) else None

        return cls(
            origin_url=_origin_url(get("ORIGIN_URL")),
            origin_timeout_s=_timeout(get("ORIGIN_TIMEOUT_S")),
            supabase_url=get("SUPABASE_URL"),
            supabase_edge_key=get("SUPABASE_EDGE_KEY"),
            supabase_anon_key=get("SUPABASE_ANON_KEY"),
            redis_url=get("UPSTASH_REDIS_REST_URL"),
            redis_token=get("UPSTASH_REDIS_REST_TOKEN"),
            vector_url=get("UPSTASH_VECTOR_REST_URL"),
            vector_token=get("UPSTASH_VECTOR_REST_TOKEN"),
        )


def _origin_url(raw: str | None) -> str:
    if raw is None:
        raise ConfigError("ORIGIN_URL is not set")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError("ORIGIN_URL must be an http(s) URL without query or fragment")
    return raw.rstrip("/")


def _timeout(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_ORIGIN_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError("ORIGIN_TIMEOUT_S must be a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise ConfigError("ORIGIN_TIMEOUT_S must be positive and finite")
    return seconds
