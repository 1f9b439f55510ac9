"""Which model each mode picks for each task type: data only, read once by the router.

Each cell is an ordered list of catalog ids (aliases allowed). The first is the preferred
pick; the rest are models of about the same quality from other providers, used when a
project has no key for the first one's provider, or when it can't serve the request (tools,
JSON mode, context length), and later as failover targets. The first column of each cell is
the calibrated table Prism starts from; recalibrating means editing this file only.

eco picks the cheapest adequate model, balanced trades a little cost for quality, and sport
picks the strongest model regardless of price.
"""

from __future__ import annotations

from typing import Final

ROUTING_TABLE: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "eco": {
        "simple": (
            "groq-llama-8b",
            "gpt-4o-mini",
            "gemini-flash",
            "grok-3-mini",
            "deepseek-chat",
            "claude-haiku",
        ),
        "code": (
            "codestral",
            "deepseek-chat",
            "fireworks/llama-v3p3-70b-instruct",
            "gpt-4o-mini",
            "gemini-flash",
        ),
        "reasoning": (
            "groq-llama-8b",
            "grok-3-mini",
            "gemini-flash",
            "gpt-4o-mini",
            "deepseek-chat",
        ),
        "complex": (
            "groq-llama-70b",
            "cerebras/llama-3.3-70b",
            "fireworks/llama-v3p3-70b-instruct",
            "deepseek-chat",
            "mistral-medium",
            "gemini-flash",
        ),
    },
    "balanced": {
        "simple": (
            "groq-llama-8b",
            "gpt-4o-mini",
            "gemini-flash",
            "claude-haiku",
            "grok-3-mini",
            "gpt-5-4-mini",
        ),
        "code": (
            "codestral",
            "deepseek-chat",
            "gpt-5-4-mini",
            "gemini-flash",
            "claude-haiku",
            "grok-3-mini",
        ),
        "reasoning": (
            "groq-qwen-32b",
            "deepseek-reasoner",
            "grok-3-mini",
            "gemini-flash",
            "gpt-5-4-mini",
            "claude-haiku",
        ),
        "complex": (
            "gpt-4o",
            "gemini-pro",
            "claude-sonnet",
            "mistral-medium",
            "deepseek-chat",
            "groq-llama-70b",
            "cerebras/llama-3.3-70b",
        ),
    },
    "sport": {
        "simple": ("claude-opus", "gpt-5-5", "gemini-pro", "grok-4"),
        "code": (
            "mistral-medium-3-5",
            "claude-sonnet",
            "gpt-5-4",
            "gemini-pro",
            "grok-4",
            "deepseek-chat",
        ),
        "reasoning": ("claude-opus", "gpt-5-5", "gemini-pro", "grok-4", "deepseek-reasoner"),
        "complex": ("gemini-pro", "claude-opus", "gpt-5-5", "grok-4", "gpt-5-4"),
    },
}
