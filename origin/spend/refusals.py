"""The 402 and 429 a refused request gets, saying exactly which budget or limit and until when."""

from __future__ import annotations

from decimal import Decimal

from origin.spend.admission import Admission
from origin.spend.policy import Budget
from shared.errors import BudgetExceeded, LimitExceeded
from shared.limits import limit_refusal as shared_limit_refusal
from shared.pricing import format_cents
from shared.worst_case import from_units, to_units


def _cents(units: int | Decimal) -> str:
    value = from_units(units) if isinstance(units, int) else units
    return format_cents(value.quantize(Decimal("0.000001")))


def budget_refusal(
    budget: Budget, admission: Admission, spent: int, reserved: int
) -> BudgetExceeded:
    limit = to_units(budget.limit_cents)
    resets = budget.bounds(admission.now)[1].strftime("%Y-%m-%dT%H:%M:%SZ")
    name = f"The {budget.period}ly block budget {budget.id} ({budget.scope()})".replace(
        "dayly", "daily"
    )
    if spent >= limit:
        message = (
            f"{name} is spent: {_cents(spent)} of {_cents(limit)} cents this period. "
            f"It resets at {resets}."
        )
    else:
        left = max(0, limit - spent - reserved)
        message = (
            f"{name} can't cover this request: it could cost up to {_cents(admission.amount)} "
            f"cents, and only {_cents(left)} of {_cents(limit)} cents are left (spent "
            f"{_cents(spent)}, {_cents(reserved)} reserved by requests in flight). The budget "
            f"is not spent yet: lower max_tokens or shorten the prompt to fit, or wait until "
            f"it resets at {resets}."
        )
    return BudgetExceeded(message)


def limit_refusal(admission: Admission, slot: int, current: int) -> LimitExceeded:
    return shared_limit_refusal(
        slot, admission.limits[slot], current, admission.resets_s[slot], admission.tokens
    )
