"""The response cache's own settings, read once from the environment.

Kept apart from origin.settings so the cache's knobs live with the cache; the defaults are the
product's (issue 4): a lookup may add at most tens of milliseconds when a backend is sick.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.semantic_guard import DEFAULT_MAX_USER_TURNS, DEFAULT_TOP_K


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool = True
    semantic: bool = True
    # Per Redis command; a local Redis answers in well under a millisecond.
    redis_timeout_s: float = 0.05
    # Per vector query, embedding included (the index embeds server-side).
    vector_timeout_s: float = 0.15
    # Storing is off the response path, so it may wait longer than a lookup.
    store_timeout_s: float = 2.0
    max_user_turns: int = DEFAULT_MAX_USER_TURNS
    top_k: int = DEFAULT_TOP_K
    # After a backend failure, lookups skip it this long instead of each paying the timeout.
    cooldown_s: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CacheConfig:
        env = os.environ if env is None else env
        d = cls()

        def number(name: str, default: float) -> float:
            return float(env.get(name) or default)

        return cls(
            enabled=_flag(env.get("PRISM_CACHE"), d.enabled),
            semantic=_flag(env.get("PRISM_SEMANTIC_CACHE"), d.semantic),
            redis_timeout_s=number("PRISM_CACHE_REDIS_TIMEOUT_MS", d.redis_timeout_s * 1000) / 1000,
            vector_timeout_s=number("PRISM_CACHE_VECTOR_TIMEOUT_MS", d.vector_timeout_s * 1000)
            / 1000,
            max_user_turns=int(number("PRISM_CACHE_MAX_USER_TURNS", d.max_user_turns)),
            top_k=int(number("PRISM_CACHE_TOP_K", d.top_k)),
            cooldown_s=number("PRISM_CACHE_COOLDOWN_MS", d.cooldown_s * 1000) / 1000,
        )


def _flag(raw: str | None, default: bool) -> bool:
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() not in ("0", "off", "false", "no")
