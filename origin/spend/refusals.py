"""The 402 and 429 a refused request gets, saying exactly which budget or limit and until when."""

from __future__ import annotations

from decimal import Decimal

from origin.spend.admission import Admission, limit_name
from origin.spend.policy import Budget
from shared.errors import BudgetExceeded, LimitExceeded
from shared.limits import ratelimit_headers
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
    scope, field = limit_name(slot)
    limit = admission.limits[slot]
    reset_s = admission.resets_s[slot]
    who = "this API key" if scope == "key" else "this project"
    what = field.replace("_", " ")
    if field == "tokens_per_minute" and admission.tokens > limit:
        message = (
            f"This request's estimated {admission.tokens} tokens exceed the {what} limit of "
            f"{who} ({limit}); it can never be admitted. Lower max_tokens or shorten the prompt."
        )
    else:
        message = (
            f"Rate limit reached: {what} of {who} is {limit} ({current} used). "
            f"Retry after {int(-(-reset_s // 1))} s."
        )
    tokens = field == "tokens_per_minute"
    state = (limit, max(0, limit - current), reset_s)
    headers = ratelimit_headers(None if tokens else state, state if tokens else None)
    return LimitExceeded(message, retry_after=reset_s, limit_headers=headers)
