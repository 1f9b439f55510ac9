"""The most a request can cost before it is sent, and money as integers for Redis counters.

A budget must never be overshot, so the origin reserves an upper bound of each request's
cost before calling a provider. Prompt tokens are bounded from the request itself: no
tokenizer we know of spends fewer than three UTF-8 bytes per token on ordinary text, so
ceil(bytes / 3) per text (plus a per-message overhead) is at or above what providers report;
media parts count a flat IMAGE_TOKENS. The output is bounded by `max_completion_tokens`,
`max_tokens`, or the model's default output cap from the catalog, times `n`. Prompt tokens
are priced at the dearest prompt-side rate (an Anthropic 1-hour cache write is 2x input).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any, Final

from shared.catalog import MODELS, output_cap, resolve
from shared.pricing import ZERO, Cost, Price, TokenUsage, cost_of

BYTES_PER_TOKEN: Final = 3
MESSAGE_OVERHEAD: Final = 8
IMAGE_TOKENS: Final = 2_000
# Budgets are counted in integer units of 1e-7 cent: every catalog price has at most three
# decimals, so tokens x price / 10^4 cents is always a whole number of units.
UNITS_PER_CENT: Final = 10**7
_MEDIA_PARTS: Final = frozenset({"image_url", "input_audio", "file", "image", "audio"})


def _text_tokens(text: str) -> int:
    return -(-len(text.encode("utf-8", "surrogatepass")) // BYTES_PER_TOKEN)


def _json_tokens(value: Any) -> int:
    return _text_tokens(json.dumps(value, ensure_ascii=False, default=str))


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return _text_tokens(content)
    if not isinstance(content, list):
        return _json_tokens(content) if content is not None else 0
    total = 0
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _MEDIA_PARTS:
            total += IMAGE_TOKENS
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            total += _text_tokens(part["text"])
        else:
            total += _json_tokens(part)
    return total


def prompt_token_bound(body: Mapping[str, Any]) -> int:
    """An upper bound of the prompt tokens a provider will bill for this chat request."""
    total = 0
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        total += MESSAGE_OVERHEAD + _content_tokens(message.get("content"))
        rest = {k: v for k, v in message.items() if k not in ("content", "role")}
        if rest:
            total += _json_tokens(rest)
    for extra in ("tools", "functions", "response_format", "tool_choice"):
        if body.get(extra) is not None:
            total += _json_tokens(body[extra])
    return total


def output_token_bound(body: Mapping[str, Any], model: str) -> int:
    """max_completion_tokens, else max_tokens, else the model's default cap; times n."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or output_cap(model)
    choices = body.get("n") if isinstance(body.get("n"), int) else 1
    return int(limit) * max(1, int(choices or 1))


def worst_case_cents(body: Mapping[str, Any], models: Iterable[str]) -> Decimal:
    """The dearest any of `models` (the route and its fallbacks) could charge for `body`."""
    prompt = prompt_token_bound(body)
    worst = ZERO
    for model in models:
        price = Price.of(model)
        if price is None:
            continue
        prompt_price = max(price.input, price.cache_write_5m, price.cache_write_1h)
        dearest = Price(prompt_price, price.output, prompt_price, prompt_price, prompt_price)
        usage = TokenUsage(prompt, output_token_bound(body, model))
        worst = max(worst, cost_of(dearest, usage).cents)
    return worst


def _milli(price: str | None, fallback: str) -> int:
    return int(Decimal(price if price is not None else fallback) * 1000)


# Per model, (dearest prompt-side price, output price) in units per token: $/M tokens x 1000,
# exact because every catalog price has at most three decimals. Built once, never changed.
_UNIT_PRICES: Final[dict[str, tuple[int, int]]] = {
    name: (
        max(_milli(p[0], p[0]), _milli(p[3], p[0]), _milli(p[4], p[0])),
        _milli(p[1], p[1]),
    )
    for name, p in ((n, m["prices"]) for n, m in MODELS.items())
}


def worst_case_units(
    body: Mapping[str, Any], models: Iterable[str], prompt_tokens: int | None = None
) -> int:
    """`to_units(worst_case_cents(body, models))` in integer arithmetic: on the request path,
    where the Decimal version was the largest part of a budget check's own CPU."""
    prompt = prompt_token_bound(body) if prompt_tokens is None else prompt_tokens
    worst = 0
    for model in models:
        prices = _UNIT_PRICES.get(resolve(model) or "")
        if prices is not None:
            worst = max(worst, prompt * prices[0] + output_token_bound(body, model) * prices[1])
    return worst


def to_units(cents: Decimal) -> int:
    """Cents -> whole 1e-7 cent units, rounded up (a reservation never rounds in our favour)."""
    return int((cents * UNITS_PER_CENT).to_integral_value(rounding=ROUND_CEILING))


def from_units(units: int) -> Decimal:
    return Decimal(units) / UNITS_PER_CENT


def cost_units(cost: Cost | None) -> int:
    return to_units(cost.cents) if cost is not None else 0
