"""Capability buckets: which catalog models can stand in for one another.

Every catalog model sits in its catalog bucket (small, medium, large, code, reasoning) and in
any of the extra buckets below: frontier (the strongest of each provider), code and reasoning
for general models that are good at those too, and long-context (a window of at least
LONG_CONTEXT tokens, computed from the catalog). A request fails over along the buckets of
the model it was routed to, cheapest-alike first and across providers, skipping models that
lack a feature the request uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from shared.catalog import MODELS, ModelInfo

BUCKETS: Final = ("small", "medium", "large", "frontier", "code", "reasoning", "long-context")
LONG_CONTEXT: Final = 200_000
# Memberships beyond each model's catalog bucket.
EXTRA: Final[Mapping[str, tuple[str, ...]]] = {
    "frontier": ("gpt-5.5", "claude-opus-4-7", "gemini-2.5-pro", "grok-4", "gpt-5.4"),
    "code": ("deepseek-chat", "claude-sonnet-4-6", "gpt-5.4", "mistral-medium-latest"),
    "reasoning": ("gpt-5.5", "claude-opus-4-7", "gemini-2.5-pro", "grok-3-mini", "grok-4"),
    "medium": ("gpt-5.4-mini", "gemini-2.5-flash"),
}
# Models that accept image input (OpenAI `image_url` content parts).
VISION: Final = frozenset(
    {
        "gpt-5.5",
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-4o",
        "gpt-4o-mini",
        "claude-opus-4-7",
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "grok-4",
        "mistral-medium-latest",
    }
)


def buckets_of(model: str, info: ModelInfo) -> tuple[str, ...]:
    """The model's buckets, its catalog bucket first."""
    out = [info["bucket"]]
    out += [b for b, members in EXTRA.items() if model in members and b not in out]
    if info["context"] >= LONG_CONTEXT:
        out.append("long-context")
    return tuple(out)


def membership(models: Mapping[str, ModelInfo] = MODELS) -> dict[str, tuple[str, ...]]:
    """Bucket name -> its models, for every bucket (the admin view and tests read this)."""
    table: dict[str, list[str]] = {b: [] for b in BUCKETS}
    for model, info in models.items():
        for bucket in buckets_of(model, info):
            table[bucket].append(model)
    return {b: tuple(ms) for b, ms in table.items()}
