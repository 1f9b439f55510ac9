"""The model catalog and price list: data only, read by pricing, routing and /v1/models.

Kept as a Python literal rather than JSON so the Worker bundle (which ships Python modules
only) carries the very same prices the origin uses. Prices are US dollars per million
tokens: input, output, cached input (cache read), cache write 5 min, cache write 1 h; None
where the provider has no such price. Anthropic writes bill 1.25x (5 min) and 2x (1 h) the
input price and reads 0.10x; OpenAI-style providers cache automatically and have no write
price. Edit prices here; every cost Prism reports is computed from this table.

Buckets: "small", "medium", "large", "code", "reasoning" (what the router may pick a model for).

`reasoning` says whether the model honours OpenAI's `reasoning_effort` (sent as it is, or as a
thinking budget by the Claude and Gemini adapters). Its real API rejects the parameter when
the flag is off, so routing never sends such a request there (origin.routing.candidates).
What each flag rests on is noted beside the model.
"""

from __future__ import annotations

from typing import Final, TypedDict


class ModelInfo(TypedDict):
    provider: str
    upstream: str
    bucket: str
    context: int
    prices: tuple[str, str, str | None, str | None, str | None]
    tools: bool
    json: bool
    reasoning: bool


def _m(
    provider: str,
    upstream: str,
    bucket: str,
    context: int,
    prices: tuple[str, str, str | None, str | None, str | None],
    tools: bool = True,
    json: bool = True,
    reasoning: bool = False,
) -> ModelInfo:
    return ModelInfo(
        provider=provider,
        upstream=upstream,
        bucket=bucket,
        context=context,
        prices=prices,
        tools=tools,
        json=json,
        reasoning=reasoning,
    )


def _claude(
    upstream: str, bucket: str, prices: tuple[str, str, str | None, str | None, str | None]
) -> ModelInfo:
    """A Claude model: 200k context. JSON mode is translated (origin.providers.anthropic_request):
    json_schema to Claude's structured output, json_object to a JSON answer tool. Every Claude 4
    model has extended thinking, which reasoning_effort becomes (anthropic_request)."""
    return _m("anthropic", upstream, bucket, 200_000, prices, reasoning=True)


# Canonical id -> model. Canonical ids are what usage rows record in model_used.
MODELS: Final[dict[str, ModelInfo]] = {
    # The GPT-5 family are OpenAI's reasoning models and take reasoning_effort; gpt-4o and
    # gpt-4o-mini answer 400 "Unrecognized request argument supplied: reasoning_effort".
    "gpt-5.5": _m(
        "openai",
        "gpt-5.5",
        "large",
        1_000_000,
        ("5.00", "30.00", "0.50", None, None),
        reasoning=True,
    ),
    "gpt-5.4": _m(
        "openai",
        "gpt-5.4",
        "large",
        1_000_000,
        ("2.50", "15.00", "0.25", None, None),
        reasoning=True,
    ),
    "gpt-5.4-mini": _m(
        "openai",
        "gpt-5.4-mini",
        "small",
        400_000,
        ("0.75", "4.50", "0.075", None, None),
        reasoning=True,
    ),
    "gpt-4o": _m("openai", "gpt-4o", "large", 128_000, ("2.50", "10.00", "1.25", None, None)),
    "gpt-4o-mini": _m(
        "openai", "gpt-4o-mini", "small", 128_000, ("0.15", "0.60", "0.075", None, None)
    ),
    "claude-opus-4-7": _claude(
        "claude-opus-4-7", "large", ("5.00", "25.00", "0.50", "6.25", "10.00")
    ),
    "claude-sonnet-4-6": _claude(
        "claude-sonnet-4-6", "medium", ("3.00", "15.00", "0.30", "3.75", "6.00")
    ),
    "claude-haiku-4-5": _claude(
        "claude-haiku-4-5", "small", ("1.00", "5.00", "0.10", "1.25", "2.00")
    ),
    # Gemini 2.5 models think; reasoning_effort becomes a thinking budget (gemini_request).
    "gemini-2.5-pro": _m(
        "gemini",
        "gemini-2.5-pro",
        "large",
        1_048_576,
        ("1.25", "10.00", "0.125", None, None),
        reasoning=True,
    ),
    "gemini-2.5-flash": _m(
        "gemini",
        "gemini-2.5-flash",
        "small",
        1_048_576,
        ("0.30", "2.50", "0.03", None, None),
        reasoning=True,
    ),
    # Groq's Llama models refuse reasoning_effort ("is not supported with this model"); Groq's
    # reasoning guide lists qwen/qwen3-32b as taking it, as "none" or "default" (origin.providers
    # .openai maps OpenAI's values onto those two).
    "groq/llama-3.1-8b-instant": _m(
        "groq", "llama-3.1-8b-instant", "small", 131_072, ("0.05", "0.08", None, None, None)
    ),
    "groq/llama-3.3-70b-versatile": _m(
        "groq", "llama-3.3-70b-versatile", "medium", 131_072, ("0.59", "0.79", None, None, None)
    ),
    "groq/qwen3-32b": _m(
        "groq",
        "qwen/qwen3-32b",
        "reasoning",
        131_072,
        ("0.29", "0.59", None, None, None),
        reasoning=True,
    ),
    # DeepSeek documents no reasoning_effort: deepseek-chat does not reason, and
    # deepseek-reasoner always reasons at full length (its guide says the control "will be
    # available soon"), so neither honours one.
    "deepseek-chat": _m(
        "deepseek", "deepseek-chat", "medium", 128_000, ("0.27", "1.10", "0.07", None, None)
    ),
    "deepseek-reasoner": _m(
        "deepseek", "deepseek-reasoner", "reasoning", 128_000, ("0.55", "2.19", "0.14", None, None)
    ),
    # Llama 3.3 on Fireworks and Cerebras is not a reasoning model. Mistral documents
    # reasoning_effort for mistral-medium-3-5 and mistral-small only, and its reasoning
    # answers' content is a list of thinking and text chunks, which this adapter passes through
    # and OpenAI clients cannot read; mistral-medium-latest and codestral are left off.
    "fireworks/llama-v3p3-70b-instruct": _m(
        "fireworks",
        "accounts/fireworks/models/llama-v3p3-70b-instruct",
        "medium",
        131_072,
        ("0.90", "0.90", None, None, None),
    ),
    "cerebras/llama-3.3-70b": _m(
        "cerebras", "llama-3.3-70b", "medium", 65_536, ("0.85", "1.20", None, None, None)
    ),
    "codestral-latest": _m(
        "mistral", "codestral-latest", "code", 256_000, ("0.30", "0.90", None, None, None)
    ),
    "mistral-medium-latest": _m(
        "mistral", "mistral-medium-latest", "medium", 128_000, ("0.40", "2.00", None, None, None)
    ),
    # xAI: grok-4 always reasons and refuses reasoning_effort; grok-3-mini takes "low" or
    # "high" (origin.providers.openai maps OpenAI's values onto those two).
    "grok-4": _m("xai", "grok-4", "large", 256_000, ("3.00", "15.00", "0.75", None, None)),
    "grok-3-mini": _m(
        "xai",
        "grok-3-mini",
        "small",
        131_072,
        ("0.30", "0.50", "0.075", None, None),
        reasoning=True,
    ),
    # Perplexity's sonar and sonar-pro are search models without a reasoning control.
    "sonar": _m(
        "perplexity", "sonar", "small", 127_072, ("1.00", "1.00", None, None, None), tools=False
    ),
    "sonar-pro": _m(
        "perplexity",
        "sonar-pro",
        "medium",
        200_000,
        ("3.00", "15.00", None, None, None),
        tools=False,
    ),
}

# Short names clients and the routing table use, resolved to canonical ids.
ALIASES: Final[dict[str, str]] = {
    "groq-llama-8b": "groq/llama-3.1-8b-instant",
    "groq-llama-70b": "groq/llama-3.3-70b-versatile",
    "groq-qwen-32b": "groq/qwen3-32b",
    "llama-3.1-8b-instant": "groq/llama-3.1-8b-instant",
    "llama-3.3-70b-versatile": "groq/llama-3.3-70b-versatile",
    "codestral": "codestral-latest",
    "mistral-medium": "mistral-medium-latest",
    "mistral-medium-3-5": "mistral-medium-latest",
    "claude-opus": "claude-opus-4-7",
    "claude-sonnet": "claude-sonnet-4-6",
    "claude-haiku": "claude-haiku-4-5",
    "gemini-pro": "gemini-2.5-pro",
    "gemini-flash": "gemini-2.5-flash",
    "gpt-5-4": "gpt-5.4",
    "gpt-5-4-mini": "gpt-5.4-mini",
    "gpt-5-5": "gpt-5.5",
}


def resolve(name: str) -> str | None:
    """Canonical id for a model name or alias, or None when the catalog doesn't know it."""
    if name in MODELS:
        return name
    return ALIASES.get(name)


# Most tokens a model writes in one answer when the request sets no max_tokens: what a budget
# reserves for a request that leaves its length open. Models not listed use DEFAULT_OUTPUT_CAP.
OUTPUT_CAPS: Final[dict[str, int]] = {
    "gpt-5.5": 128_000,
    "gpt-5.4": 128_000,
    "gpt-5.4-mini": 128_000,
    "gpt-4o": 16_384,
    "gpt-4o-mini": 16_384,
    "claude-opus-4-7": 32_000,
    "claude-sonnet-4-6": 64_000,
    "claude-haiku-4-5": 64_000,
    "gemini-2.5-pro": 65_536,
    "gemini-2.5-flash": 65_536,
    "groq/llama-3.1-8b-instant": 8_192,
    "groq/llama-3.3-70b-versatile": 32_768,
    "groq/qwen3-32b": 40_960,
    "deepseek-chat": 8_192,
    "deepseek-reasoner": 64_000,
    "fireworks/llama-v3p3-70b-instruct": 16_384,
    "cerebras/llama-3.3-70b": 8_192,
    "codestral-latest": 32_768,
    "mistral-medium-latest": 32_768,
    "grok-4": 64_000,
    "grok-3-mini": 32_768,
    "sonar": 8_192,
    "sonar-pro": 8_192,
}
DEFAULT_OUTPUT_CAP: Final = 16_384


def output_cap(name: str) -> int:
    canonical = resolve(name)
    return OUTPUT_CAPS.get(canonical or "", DEFAULT_OUTPUT_CAP)
