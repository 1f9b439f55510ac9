"""The response cache's knobs, taken from the one Settings object (PRISM_CACHE_* variables).

The defaults are the product's (issue 4): a lookup may add at most tens of milliseconds when a
backend is sick.
"""

from __future__ import annotations

from dataclasses import dataclass

from origin.settings import Settings
from shared.semantic_guard import DEFAULT_MAX_USER_TURNS, DEFAULT_TOP_K


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool = True
    semantic: bool = True
    # The origin's pair verifier for candidates below the threshold (needs the MiniLM weights).
    verifier: bool = True
    # A verification is milliseconds of CPU; past this (a starved worker) it is a miss.
    verifier_timeout_s: float = 0.5
    # The stored questions' encodings it keeps (about 22 kB each), per worker.
    verifier_memory_bytes: int = 8 << 20
    # "onnx-int8" (8-bit weights on onnxruntime: what the verifier is trained on, about twice
    # as fast as numpy); "onnx" and "numpy" run the float32 reference, about 28 MB and 0 MB
    # more per worker, and give features within about 4e-4 of it.
    verifier_engine: str = "onnx-int8"
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
    def from_settings(cls, settings: Settings) -> CacheConfig:
        return cls(
            enabled=settings.cache_enabled,
            semantic=settings.semantic_cache,
            verifier=settings.semantic_verifier,
            verifier_timeout_s=settings.semantic_verifier_timeout_s,
            verifier_memory_bytes=settings.semantic_verifier_memory_mb << 20,
            verifier_engine=settings.semantic_verifier_engine,
            redis_timeout_s=settings.cache_redis_timeout_s,
            vector_timeout_s=settings.cache_vector_timeout_s,
            max_user_turns=settings.cache_max_user_turns,
            top_k=settings.cache_top_k,
            cooldown_s=settings.cache_cooldown_s,
        )
