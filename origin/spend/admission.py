"""What one admitted request holds against its limits and budgets, and what it tells the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from origin.spend.policy import Budget
from shared import headers as H
from shared.budget_headers import remaining_cents, scope_label, warning
from shared.limits import state_headers
from shared.pricing import Cost
from shared.worst_case import cost_units


@dataclass
class BudgetHold:
    budget: Budget
    keys: tuple[str, str]
    spent: int  # settled units before this request
    reserved: int  # units reserved by other requests in flight
    limit_units: int
    warn_units: int


@dataclass
class Admission:
    request_id: str
    project_id: str
    now: datetime
    limit_keys: list[str]
    now_ms: int = 0
    limits: tuple[int, ...] = (0,) * 8
    counts: list[int] = field(default_factory=lambda: [0] * 8)
    resets_s: list[float] = field(default_factory=lambda: [0.0] * 8)
    tokens: int = 0  # counted against tokens-per-minute at admission
    prompt_tokens: int | None = None  # the prompt's bound, once computed
    limits_counted: bool = False
    holds: list[BudgetHold] = field(default_factory=list)
    amount: int = 0  # units reserved against every budget in `holds`
    fast: bool = False  # admitted against this worker's allowances (origin.spend.allowances)
    # Settled or released: settling twice would give an allowance back twice.
    settled: bool = False

    @property
    def budgeted(self) -> bool:
        return bool(self.holds)

    @property
    def counts_tokens(self) -> bool:
        """Whether a tokens-per-minute limit counted this request's estimate (to correct)."""
        return self.limits_counted and self.tokens > 0 and bool(self.limits[3] or self.limits[7])

    def headers(self, cost: Cost | None) -> dict[str, str]:
        out = state_headers(self.limits, self.counts, self.resets_s)
        if not self.holds:
            return out
        charged = cost_units(cost) if cost is not None else self.amount
        remaining = min(h.limit_units - h.spent - h.reserved - charged for h in self.holds)
        out[H.BUDGET_REMAINING_CENTS] = remaining_cents(remaining)
        warnings = [self._warning(h, charged) for h in self.holds if self.warns(h, charged)]
        if warnings:
            out[H.BUDGET_WARNING] = ", ".join(warnings)
        return out

    @staticmethod
    def warns(hold: BudgetHold, charged: int) -> bool:
        # Judged on the spend after this request, as `used=` and the remaining header are:
        # the answer that takes a budget past 80 % is the first to say so.
        return hold.spent + charged >= hold.warn_units

    @staticmethod
    def _warning(hold: BudgetHold, charged: int) -> str:
        b = hold.budget
        scope = scope_label(b.tag)
        return warning(b.id, scope, b.period, b.action, b.limit_cents, hold.spent + charged)
