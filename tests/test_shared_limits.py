"""The pure arithmetic both tiers share: windows, reset texts, worst-case cost, money units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.simulator.tokens import message_tokens
from shared.catalog import ALIASES, MODELS
from shared.limits import limit_keys, reset_text, window_bounds
from shared.worst_case import (
    from_units,
    prompt_token_bound,
    to_units,
    worst_case_cents,
    worst_case_units,
)

MOMENT = datetime(2026, 12, 31, 23, 59, 30, 500_000, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    "window,start,end",
    [
        ("minute", datetime(2026, 12, 31, 23, 59), datetime(2027, 1, 1, 0, 0)),
        ("day", datetime(2026, 12, 31), datetime(2027, 1, 1)),
        ("week", datetime(2026, 12, 28), datetime(2027, 1, 4)),  # Monday to Monday
        ("month", datetime(2026, 12, 1), datetime(2027, 1, 1)),  # December rolls the year
    ],
)
def test_window_bounds(window: str, start: datetime, end: datetime) -> None:
    assert window_bounds(window, MOMENT) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["minute", "day", "week", "month"]),
)
def test_every_moment_is_in_exactly_its_window(moment: datetime, window: str) -> None:
    now = moment.replace(tzinfo=UTC)
    start, end = window_bounds(window, now)
    assert start <= now < end
    assert window_bounds(window, end)[0] == end  # windows tile time
    assert window_bounds(window, end - timedelta(microseconds=1))[0] == start


def test_limit_keys_are_shared_per_window() -> None:
    project, key = "p", "k"
    noon = datetime(2026, 12, 31, 12, 0, 45, tzinfo=UTC)
    same = limit_keys(project, key, noon)
    later = limit_keys(project, key, noon + timedelta(seconds=29))  # next minute, same day
    assert same[1:3] == later[1:3] and same[0] != later[0]
    assert all("{p}" in k for k in same)  # one cluster slot per project


@pytest.mark.parametrize(
    "seconds,text", [(0.2, "1s"), (1, "1s"), (59.5, "1m0s"), (360, "6m0s"), (7384, "2h3m4s")]
)
def test_reset_text(seconds: float, text: str) -> None:
    assert reset_text(seconds) == text


def test_worst_case_by_hand() -> None:
    # "hello" = 5 bytes -> 2 tokens, + 8 overhead = 10 prompt tokens; 100 out.
    body = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 100}
    assert prompt_token_bound(body) == 10
    # gpt-4o-mini: 10 x 0.15 + 100 x 0.60 = 61.5 millionths of a dollar = 0.00615 cents.
    assert worst_case_cents(body, ["gpt-4o-mini"]) == Decimal("0.00615")
    # claude-haiku-4-5 prompt at its 1 h cache-write price 2.00: 10 x 2 + 100 x 5 = 520.
    assert worst_case_cents(body, ["gpt-4o-mini", "claude-haiku-4-5"]) == Decimal("0.052")
    # No max_tokens: the model's default cap (gpt-4o-mini 16,384), times n.
    assert worst_case_cents({**body, "max_tokens": None, "n": 2}, ["gpt-4o-mini"]) == (
        (10 * Decimal("0.15") + 2 * 16_384 * Decimal("0.60")) / 10_000
    )
    assert worst_case_cents(body, ["ollama/llama3"]) == 0  # unpriced: never blocked


@given(st.lists(st.text(max_size=300), min_size=1, max_size=6))
def test_the_prompt_bound_covers_what_the_simulator_bills(texts: list[str]) -> None:
    body = {"messages": [{"role": "user", "content": t} for t in texts]}
    assert prompt_token_bound(body) >= sum(message_tokens([t]) for t in texts)


@given(st.decimals(min_value=0, max_value=10**6, places=9))
def test_units_round_up_and_never_lose_a_cent(cents: Decimal) -> None:
    units = to_units(cents)
    assert from_units(units) >= cents > from_units(units) - Decimal("0.0000001")


@given(
    st.lists(st.text(max_size=200), min_size=1, max_size=4),
    st.lists(st.sampled_from([*MODELS, *ALIASES, "ollama/llama3"]), max_size=4),
    st.one_of(st.none(), st.integers(min_value=1, max_value=200_000)),
    st.integers(min_value=1, max_value=4),
)
def test_the_integer_worst_case_is_exactly_the_decimal_one(
    texts: list[str], models: list[str], max_tokens: int | None, n: int
) -> None:
    body = {
        "messages": [{"role": "user", "content": t} for t in texts],
        "max_tokens": max_tokens,
        "n": n,
    }
    assert worst_case_units(body, models) == to_units(worst_case_cents(body, models))
