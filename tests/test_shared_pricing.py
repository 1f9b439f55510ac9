"""Exact Decimal pricing: hand-computed golden rows per provider family and cache mode, the
catalog's integrity, and properties of the cost function."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.catalog import ALIASES, MODELS, resolve
from shared.pricing import Cost, Price, TokenUsage, cost_for_model, cost_of, format_cents

D = Decimal

# Arithmetic: tokens x $/Mtok = millionths of a dollar (µ$); cents = µ$ x 100 / 1e6 = µ$ / 1e4.
# Usage is the normalised form: prompt_tokens counts every input token, cached ones included.
GOLDEN: list[tuple[str, str, TokenUsage, str, str]] = [
    # gpt-4o 2.50/10.00/1.25: 1000x2.50 + 200x10 = 2500 + 2000 = 4500 µ$ -> 0.45c, saved 0.
    ("openai uncached", "gpt-4o", TokenUsage(1000, 200), "0.45", "0"),
    # 976x2.50 + 1024x1.25 + 100x10 = 2440 + 1280 + 1000 = 4720 µ$ -> 0.472c;
    # saved 1024 x (2.50 - 1.25) = 1280 µ$ -> 0.128c.
    (
        "openai cached_tokens",
        "gpt-4o",
        TokenUsage(2000, 100, cache_read_tokens=1024),
        "0.472",
        "0.128",
    ),
    # gpt-5.4-mini 0.75/4.50/0.075: 2000x0.75 + 8000x0.075 + 500x4.50 = 1500 + 600 + 2250
    # = 4350 µ$ -> 0.435c; saved 8000 x 0.675 = 5400 µ$ -> 0.54c.
    (
        "openai mini cached",
        "gpt-5.4-mini",
        TokenUsage(10_000, 500, cache_read_tokens=8000),
        "0.435",
        "0.54",
    ),
    # via alias gpt-5-5 -> gpt-5.5 5.00/30.00: 100x5 + 10x30 = 500 + 300 = 800 µ$ -> 0.08c.
    ("openai via alias", "gpt-5-5", TokenUsage(100, 10), "0.08", "0"),
    # claude-sonnet-4-6 3.00/15.00/0.30/3.75/6.00: 1200x3 + 300x15 = 3600 + 4500 = 8100 µ$.
    ("anthropic uncached", "claude-sonnet-4-6", TokenUsage(1200, 300), "0.81", "0"),
    # input 200 + creation 5000 = 5200: 200x3 + 5000x3.75 + 100x15 = 600 + 18750 + 1500
    # = 20850 µ$ -> 2.085c; a write saves nothing.
    (
        "anthropic cache write 5m",
        "claude-sonnet-4-6",
        TokenUsage(5200, 100, cache_write_5m_tokens=5000),
        "2.085",
        "0",
    ),
    # 200x3 + 5000x6 + 100x15 = 600 + 30000 + 1500 = 32100 µ$ -> 3.21c.
    (
        "anthropic cache write 1h",
        "claude-sonnet-4-6",
        TokenUsage(5200, 100, cache_write_1h_tokens=5000),
        "3.21",
        "0",
    ),
    # 200x3 + 5000x0.30 + 100x15 = 600 + 1500 + 1500 = 3600 µ$ -> 0.36c;
    # saved 5000 x (3 - 0.30) = 13500 µ$ -> 1.35c (uncached 5200x3 + 1500 = 17100 -> 1.71c).
    (
        "anthropic cache read",
        "claude-sonnet-4-6",
        TokenUsage(5200, 100, cache_read_tokens=5000),
        "0.36",
        "1.35",
    ),
    # claude-haiku-4-5 1/5/0.10/1.25/2: uncached 10000-6000-2000-1000 = 1000 -> 1000x1 = 1000;
    # 6000x0.10 = 600; 2000x1.25 = 2500; 1000x2 = 2000; 50x5 = 250; total 6350 µ$ -> 0.635c;
    # saved 6000 x 0.90 = 5400 µ$ -> 0.54c.
    (
        "anthropic read and both writes",
        "claude-haiku-4-5",
        TokenUsage(10_000, 50, 6000, 2000, 1000),
        "0.635",
        "0.54",
    ),
    # claude-opus via alias 5/25/0.50/6.25/10: 0x5 + 1000x6.25 + 0 = 6250 µ$ -> 0.625c.
    (
        "anthropic write only, alias",
        "claude-opus",
        TokenUsage(1000, 0, cache_write_5m_tokens=1000),
        "0.625",
        "0",
    ),
    # gemini-2.5-flash 0.30/2.50/0.03, promptTokenCount 4000 incl. cachedContentTokenCount 3000:
    # 1000x0.30 + 3000x0.03 + 400x2.50 = 300 + 90 + 1000 = 1390 µ$ -> 0.139c;
    # saved 3000 x 0.27 = 810 µ$ -> 0.081c.
    (
        "gemini cachedContentTokenCount",
        "gemini-2.5-flash",
        TokenUsage(4000, 400, cache_read_tokens=3000),
        "0.139",
        "0.081",
    ),
    # gemini-2.5-pro 1.25/10: 1000x1.25 + 1000x10 = 1250 + 10000 = 11250 µ$ -> 1.125c.
    ("gemini uncached", "gemini-2.5-pro", TokenUsage(1000, 1000), "1.125", "0"),
    # groq llama-3.1-8b-instant 0.05/0.08: 1000x0.05 + 1000x0.08 = 50 + 80 = 130 µ$ -> 0.013c.
    ("groq", "groq/llama-3.1-8b-instant", TokenUsage(1000, 1000), "0.013", "0"),
    # Same by alias; groq has no cached price so reads bill at input and save nothing:
    # 500x0.05 + 500x0.05 + 1000x0.08 = 25 + 25 + 80 = 130 µ$ -> 0.013c.
    (
        "groq alias, cached reported",
        "groq-llama-8b",
        TokenUsage(1000, 1000, cache_read_tokens=500),
        "0.013",
        "0",
    ),
    # groq llama-3.3-70b 0.59/0.79: 3x0.59 + 7x0.79 = 1.77 + 5.53 = 7.30 µ$ -> 0.00073c.
    ("groq tiny call", "groq-llama-70b", TokenUsage(3, 7), "0.00073", "0"),
    # deepseek-chat 0.27/1.10/0.07: 400x0.27 + 600x0.07 + 100x1.10 = 108 + 42 + 110 = 260 µ$
    # -> 0.026c; saved 600 x 0.20 = 120 µ$ -> 0.012c.
    (
        "deepseek cache hit",
        "deepseek-chat",
        TokenUsage(1000, 100, cache_read_tokens=600),
        "0.026",
        "0.012",
    ),
    # Nothing used costs nothing.
    ("zero usage", "gpt-4o", TokenUsage(), "0", "0"),
    ("unknown model", "no-such-model", TokenUsage(1000, 1000), "0", "0"),
]


@pytest.mark.parametrize(
    ("model", "usage", "cents", "saved"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN]
)
def test_golden_costs(model: str, usage: TokenUsage, cents: str, saved: str) -> None:
    cost = cost_for_model(model, usage)
    assert isinstance(cost.cents, Decimal) and isinstance(cost.native_saved_cents, Decimal)
    assert cost.cents == D(cents)
    assert cost.native_saved_cents == D(saved)
    assert format_cents(cost.cents) == cents
    assert cost.uncached_cents == D(cents) + D(saved)


FORMAT_CASES: list[tuple[Decimal, str]] = [
    (D("0.45"), "0.45"),
    (D("0.4500"), "0.45"),
    (D("5E-6"), "0.000005"),
    (D("1.3E-12"), "0.0000000000013"),
    (D("1E+3"), "1000"),
    (D("100"), "100"),
    (D("0E-10"), "0"),
    (D("-0"), "0"),
    (D("0"), "0"),
    (D("12345678.9"), "12345678.9"),
]


@pytest.mark.parametrize(("value", "text"), FORMAT_CASES)
def test_format_cents(value: Decimal, text: str) -> None:
    assert format_cents(value) == text


BAD_USAGE: list[tuple[str, dict[str, object]]] = [
    ("negative prompt", {"prompt_tokens": -1}),
    ("negative completion", {"completion_tokens": -5}),
    ("negative read", {"prompt_tokens": 10, "cache_read_tokens": -1}),
    ("negative write", {"prompt_tokens": 10, "cache_write_1h_tokens": -1}),
    ("read above prompt", {"prompt_tokens": 10, "cache_read_tokens": 11}),
    (
        "writes above prompt",
        {"prompt_tokens": 10, "cache_write_5m_tokens": 6, "cache_write_1h_tokens": 5},
    ),
    (
        "read plus write above prompt",
        {"prompt_tokens": 10, "cache_read_tokens": 5, "cache_write_5m_tokens": 6},
    ),
    ("float count", {"prompt_tokens": 1.0}),
    ("bool count", {"completion_tokens": True}),
    ("string count", {"prompt_tokens": "10"}),
]


@pytest.mark.parametrize("fields", [b[1] for b in BAD_USAGE], ids=[b[0] for b in BAD_USAGE])
def test_bad_usage_raises_value_error(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TokenUsage(**fields)  # type: ignore[arg-type]


def test_usage_dict_round_trip_ignores_unknown_keys() -> None:
    usage = TokenUsage(100, 20, 30, 10, 5, reported=False)
    assert TokenUsage.from_dict({**usage.to_dict(), "total_tokens": 120}) == usage
    assert usage.uncached_prompt_tokens == 55 and usage.cache_writes == 15


BUCKETS = {"small", "medium", "large", "code", "reasoning"}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_catalog_model_is_priced(model: str) -> None:
    info = MODELS[model]
    price = Price.of(model)
    assert price is not None and resolve(model) == model
    assert info["bucket"] in BUCKETS and info["provider"] and info["upstream"]
    assert info["context"] > 0
    assert all(isinstance(p, str) for p in info["prices"][:2])
    assert min(price.input, price.output, price.cache_read) >= 0
    assert price.cache_read <= price.input


ANTHROPIC = sorted(m for m, info in MODELS.items() if info["provider"] == "anthropic")


@pytest.mark.parametrize("model", ANTHROPIC)
def test_anthropic_cache_multipliers(model: str) -> None:
    price = Price.of(model)
    assert price is not None
    assert price.cache_write_5m == price.input * D("1.25")
    assert price.cache_write_1h == price.input * 2
    assert price.cache_read == price.input * D("0.10")


@pytest.mark.parametrize("model", sorted(set(MODELS) - set(ANTHROPIC)))
def test_non_anthropic_models_have_no_write_price(model: str) -> None:
    assert MODELS[model]["prices"][3:] == (None, None)


@pytest.mark.parametrize(("alias", "target"), sorted(ALIASES.items()))
def test_every_alias_resolves_to_a_catalog_id(alias: str, target: str) -> None:
    assert alias not in MODELS
    assert resolve(alias) == target and target in MODELS
    assert Price.of(alias) == Price.of(target)


@pytest.mark.parametrize("name", ["", "GPT-4O", "gpt-4o ", "openai/gpt-4o", "auto"])
def test_unknown_names_do_not_resolve(name: str) -> None:
    assert resolve(name) is None and Price.of(name) is None


MODEL_NAMES = st.sampled_from(sorted(MODELS) + sorted(ALIASES))
COUNT = st.integers(0, 10**9)


@st.composite
def usages(draw: st.DrawFn) -> TokenUsage:
    """Usage built from native counts, so cache tokens never exceed prompt tokens."""
    uncached, read, w5, w1 = draw(COUNT), draw(COUNT), draw(COUNT), draw(COUNT)
    return TokenUsage(uncached + read + w5 + w1, draw(COUNT), read, w5, w1)


@settings(max_examples=400, deadline=None)
@given(MODEL_NAMES, usages())
def test_cost_is_never_negative(model: str, usage: TokenUsage) -> None:
    cost = cost_for_model(model, usage)
    assert cost.cents >= 0 and cost.native_saved_cents >= 0
    assert cost.uncached_cents >= cost.cents


# Growing one native count: uncached input, a cache read, a write, or output.
GROW = st.sampled_from(["uncached", "read", "w5", "w1", "completion"])


def _grown(usage: TokenUsage, field: str, by: int) -> TokenUsage:
    read, w5, w1 = usage.cache_read_tokens, usage.cache_write_5m_tokens, usage.cache_write_1h_tokens
    extra = {"read": (by, 0, 0), "w5": (0, by, 0), "w1": (0, 0, by)}.get(field, (0, 0, 0))
    prompt = usage.prompt_tokens + (0 if field == "completion" else by)
    completion = usage.completion_tokens + (by if field == "completion" else 0)
    return TokenUsage(prompt, completion, read + extra[0], w5 + extra[1], w1 + extra[2])


@settings(max_examples=400, deadline=None)
@given(MODEL_NAMES, usages(), GROW, st.integers(1, 10**6))
def test_cost_is_monotone_in_each_count(model: str, usage: TokenUsage, field: str, by: int) -> None:
    assert (
        cost_for_model(model, _grown(usage, field, by)).cents >= cost_for_model(model, usage).cents
    )


@settings(max_examples=300, deadline=None)
@given(MODEL_NAMES, usages())
def test_uncached_cents_is_the_price_without_reads(model: str, usage: TokenUsage) -> None:
    """Reads billed at the input price instead give exactly cost + saving."""
    price = Price.of(model)
    assert price is not None
    no_read_discount = Price(
        price.input,
        price.output,
        max(price.input, price.cache_read),
        price.cache_write_5m,
        price.cache_write_1h,
    )
    assert cost_of(no_read_discount, usage).cents == cost_of(price, usage).uncached_cents


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(-(10**6), -1),
    st.sampled_from(
        [
            "prompt_tokens",
            "completion_tokens",
            "cache_read_tokens",
            "cache_write_5m_tokens",
            "cache_write_1h_tokens",
        ]
    ),
)
def test_negative_counts_raise(prompt: int, completion: int, negative: int, field: str) -> None:
    fields = {"prompt_tokens": prompt, "completion_tokens": completion, field: negative}
    with pytest.raises(ValueError):
        TokenUsage(**fields)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(1, 10**6),
    st.sampled_from(["cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens"]),
)
def test_cache_tokens_above_prompt_raise(prompt: int, over: int, field: str) -> None:
    with pytest.raises(ValueError):
        TokenUsage(prompt_tokens=prompt, **{field: prompt + over})  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=12, min_value=-(10**9), max_value=10**9
    )
)
def test_format_cents_is_plain_and_exact(value: Decimal) -> None:
    text = format_cents(value)
    assert "E" not in text.upper() and D(text) == value
    if "." in text:
        assert not text.endswith(("0", "."))


def test_cost_is_a_value() -> None:
    assert Cost(D("1.5"), D("0.5")).uncached_cents == D("2.0")
