"""How the dashboard writes money: rounded half-up, never a non-zero amount as $0.00."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from origin.dashboard.fmt import money

# The longest an amount under a cent may print: "-$0.000000012" (two significant digits of the
# ledger's smallest unit, a micro-cent) and ">-$0.00000001" for anything smaller.
SUB_CENT_WIDTH = 13


@pytest.mark.parametrize(
    ("cents", "shown"),
    [
        (None, "$0.00"),
        ("0", "$0.00"),
        ("0.000000", "$0.00"),
        ("not a number", "$0.00"),
        ("NaN", "$0.00"),
        ("-Infinity", "$0.00"),
        ("0.38729", "$0.0039"),  # was $0.003872: cut, not rounded
        ("0.99999", "$0.01"),  # was $0.009999
        ("0.995", "$0.01"),  # rounds up into whole cents
        ("0.0945", "$0.00095"),  # half up, not half even
        ("0.1", "$0.001"),
        ("0.5", "$0.005"),
        ("0.00001", "$0.0000001"),  # was $0.000000
        ("0.000001", "$0.00000001"),  # the ledger's smallest unit
        ("0.0000012345", "$0.000000012"),
        ("0.0000000001", "<$0.00000001"),
        ("-0.0000000001", ">-$0.00000001"),
        ("-0.38729", "-$0.0039"),
        ("1", "$0.01"),
        ("1.5", "$0.02"),
        ("-250", "-$2.50"),
        ("123456.7", "$1,234.57"),
        ("123456.49999", "$1,234.56"),
        (Decimal(100000000), "$1,000,000.00"),
    ],
)
def test_money_is_rounded_half_up(cents: object, shown: str) -> None:
    assert money(cents) == shown


def shown_dollars(text: str) -> Decimal:
    return Decimal(text.lstrip("<>").replace("$", "").replace(",", ""))


# Ledger-shaped amounts (numeric(18, 6) cents) and finer ones that only arithmetic could make.
amounts = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal(1000000000), places=6
) | st.decimals(min_value=Decimal("1e-12"), max_value=Decimal(2), places=14)


@given(amounts, st.booleans())
def test_a_non_zero_amount_never_reads_zero_and_rounds_closely(
    cents: Decimal, negative: bool
) -> None:
    text = money(-cents if negative else cents)
    assert text.startswith(("-$", ">-$")) == negative
    dollars, shown = cents / 100, abs(shown_dollars(text))
    assert shown > 0
    if dollars >= Decimal("0.01"):
        assert abs(shown - dollars) <= Decimal("0.005")
    elif dollars >= Decimal("0.00000001"):
        assert len(text) <= SUB_CENT_WIDTH
        assert abs(shown - dollars) <= dollars / 20  # two significant digits: within 5%
    else:
        assert len(text) <= SUB_CENT_WIDTH and shown == Decimal("0.00000001")
