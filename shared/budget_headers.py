"""The budget headers, worded once for both tiers: what is left of the tightest budget covering
a request (X-Prism-Budget-Remaining-Cents) and the budgets past 80 % (X-Prism-Budget-Warning).
The origin writes them for what it answers, the edge for the cache hits it answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from shared.pricing import format_cents
from shared.worst_case import from_units

# A budget warns from 80 % of its limit on.
WARN_FRACTION: Final = Decimal("0.8")


def remaining_cents(units: int) -> str:
    """What is left, in cents as the receipt writes money; never below zero."""
    return format_cents(max(Decimal(0), from_units(units)))


def scope_label(tag: tuple[str, str] | None) -> str:
    return f"{tag[0]}={tag[1]}" if tag else "project"


def warning(
    budget_id: str, scope: str, period: str, action: str, limit_cents: Decimal, used_units: int
) -> str:
    """One budget's warning: `used` is the share of its limit spent, counting this request."""
    used = Decimal(0)
    if limit_cents > 0:
        used = from_units(used_units) * 100 / limit_cents
    return f"budget={budget_id}; scope={scope}; period={period}; action={action}; used={int(used)}%"
