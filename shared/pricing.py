"""Exact cost of a call from its token usage, in cents, with Decimal arithmetic.

Usage is normalised before pricing so one formula serves every provider:
    prompt_tokens      every input token, cached and cache-written ones included
                       (OpenAI and Gemini report it this way; for Anthropic add
                       input_tokens + cache_creation_input_tokens + cache_read_input_tokens);
    cache_read_tokens  tokens served from the provider's prompt cache;
    cache_write_5m / cache_write_1h  tokens written to it (Anthropic only).
The uncached remainder bills at the input price, reads at the cached price, writes at the
write price (Anthropic: 1.25x / 2x input), completion tokens at the output price.

The native-cache saving is what the reads saved against the input price. A write premium is
not subtracted from it: it is already in the cost, so the saving is never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.catalog import MODELS, resolve

_MILLION = Decimal(1_000_000)
_CENTS = Decimal(100)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal

    @classmethod
    def of(cls, model: str) -> Price | None:
        canonical = resolve(model)
        if canonical is None:
            return None
        inp, out, read, w5, w1 = MODELS[canonical]["prices"]
        base = Decimal(inp)
        return cls(
            input=base,
            output=Decimal(out),
            cache_read=Decimal(read) if read is not None else base,
            cache_write_5m=Decimal(w5) if w5 is not None else base,
            cache_write_1h=Decimal(w1) if w1 is not None else base,
        )


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reported: bool = True

    def __post_init__(self) -> None:
        counts = (
            self.prompt_tokens,
            self.completion_tokens,
            self.cache_read_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
        )
        if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in counts):
            raise ValueError(f"token counts must be non-negative integers: {counts}")
        if self.cache_read_tokens + self.cache_writes > self.prompt_tokens:
            raise ValueError("cached and cache-written tokens cannot exceed prompt tokens")

    @property
    def cache_writes(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def uncached_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.cache_read_tokens - self.cache_writes

    def to_dict(self) -> dict[str, Any]:
        # By field, not dataclasses.asdict: that deep-copies recursively, and every cached
        # answer's usage is serialised on the request path.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenUsage:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclass(frozen=True)
class Cost:
    cents: Decimal
    native_saved_cents: Decimal

    @property
    def uncached_cents(self) -> Decimal:
        """What the same call would have cost without the provider's prompt cache."""
        return self.cents + self.native_saved_cents


def cost_of(price: Price, usage: TokenUsage) -> Cost:
    dollars_millionths = (
        usage.uncached_prompt_tokens * price.input
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_5m_tokens * price.cache_write_5m
        + usage.cache_write_1h_tokens * price.cache_write_1h
        + usage.completion_tokens * price.output
    )
    saved = usage.cache_read_tokens * max(ZERO, price.input - price.cache_read)
    return Cost(cents=_cents(dollars_millionths), native_saved_cents=_cents(saved))


def cost_for_model(model: str, usage: TokenUsage) -> Cost:
    """Cost at the catalog price of `model`; zero for a model the catalog doesn't price."""
    price = Price.of(model)
    if price is None:
        return Cost(ZERO, ZERO)
    return cost_of(price, usage)


# What an "auto" request is priced against for routing savings: the model a team would otherwise
# send every request of that mode to.
REFERENCE_MODELS: dict[str, str] = {
    "eco": "gpt-4o-mini",
    "balanced": "gpt-4o",
    "sport": "gpt-5.5",
}


def routing_saving(
    requested_model: str | None, mode: str, usage: TokenUsage | None, paid: Cost | None
) -> tuple[str | None, Decimal]:
    """(reference model, its price for this usage minus what was paid), exact in cents.

    The reference is the catalog model the caller asked for, else the mode's reference model
    when the caller asked for "auto" (or nothing). A custom model has no catalog price, and a
    request without reported usage has nothing to price: both save 0. The same usage, cache
    reads included, is priced at both models, so provider-cache savings are not counted twice.
    Negative when the request cost more than the reference (a failover to a dearer model).
    """
    asked = requested_model.strip() if isinstance(requested_model, str) else ""
    if asked.lower() in ("", "auto"):
        reference = REFERENCE_MODELS.get(mode)
    else:
        reference = resolve(asked)
    if reference is None or usage is None or not usage.reported or paid is None:
        return reference, ZERO
    return reference, cost_for_model(reference, usage).cents - paid.cents


def format_cents(value: Decimal) -> str:
    """Plain decimal text for headers and JSON, never exponent notation."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _cents(dollar_millionths: Decimal) -> Decimal:
    return dollar_millionths * _CENTS / _MILLION
