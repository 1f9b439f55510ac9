"""How the dashboard shows numbers: money as dollars, counts with separators, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html import escape
from typing import Any

CENT = Decimal("0.01")
MICRO_CENT = Decimal("0.00000001")  # in dollars: the ledger's numeric(18, 6) cents


def cents(value: Any) -> Decimal:
    """A money value from the database's decimal text; anything unreadable is 0, and so is a
    Postgres numeric NaN or Infinity, which compare by raising rather than by answering."""
    try:
        amount = Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() else Decimal(0)


def money(value: Any) -> str:
    """Cents as dollars, rounded half up: $1,234.56 from a cent up; below a cent two significant
    digits ($0.0039), so a small request's cost never reads $0.00 and two of them still compare."""
    amount = cents(value) / 100
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0:
        return "$0.00"
    if amount < CENT:
        amount = amount.quantize(Decimal(1).scaleb(amount.adjusted() - 1), ROUND_HALF_UP)
        if amount < CENT:  # $0.0099999 rounds to $0.010, which reads as the whole cent it is
            return _sub_cent(amount, sign)
    return f"{sign}${amount.quantize(CENT, ROUND_HALF_UP):,}"


def _sub_cent(amount: Decimal, sign: str) -> str:
    """Under a cent, already rounded: the ledger keeps micro-cents, so anything smaller (only
    arithmetic on its values could make it) is written as a bound rather than in ever more
    zeros; it is never written as zero."""
    if amount < MICRO_CENT:
        bound = format(MICRO_CENT, "f")
        return f">-${bound}" if sign else f"<${bound}"
    return f"{sign}${format(amount.normalize(), 'f')}"


def money_exact(value: Any) -> str:
    """Every digit the ledger keeps (micro-cents), for receipts."""
    amount = cents(value) / 100
    return f"${format(amount.quantize(Decimal('0.00000001')), 'f')}"


def count(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "0"


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def when(value: Any) -> str:
    """An ISO timestamp as 2026-12-06 04:52:04 UTC. Postgres writes a timestamptz in its
    session's time zone (the server's unless set), so an offset is converted, not dropped."""
    if not isinstance(value, str):
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return escape(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def ms(value: Any) -> str:
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{number / 1000:.2f} s" if number >= 10_000 else f"{number:,.0f} ms"


def tags(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    return " ".join(
        f'<span class="tag">{escape(str(k))}={escape(str(v))}</span>' for k, v in value.items()
    )
