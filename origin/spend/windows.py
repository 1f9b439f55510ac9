"""The Redis keys and window ends of a request's checks, built once per minute, not per request.

Every limit window (minute, day, month) and budget period (day, week, month) starts on a whole
minute, so whatever is derived from them is the same for a whole minute: the 8 limit counter
keys of a caller, each budget's keys and the fixed part of its script argument, and the ends
of the windows. Building them per request (datetimes, string formatting, Decimal arithmetic)
was a tenth of the checks' CPU. The memo is dropped each minute and is bounded in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from origin.spend.policy import Budget
from shared.limits import LIMIT_FIELDS, WINDOW_OF, budget_keys, limit_keys, window_bounds

MAX_ENTRIES = 50_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class BudgetWindow:
    budget: Budget
    keys: tuple[str, str]  # the period's hash and reservation set
    end: datetime  # when the period resets
    limit_units: int
    warn_units: int  # 80 % of the limit: from here on the budget warns
    head: str  # the script argument up to the amount: "limit,"
    tail: str  # and after it: ",block,warn-at,expire-ms"


class Windows:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._minute = -1
        self._ends_ms: list[int] = []
        self._callers: dict[tuple[str, str | None], list[str]] = {}
        self._budgets: dict[str, BudgetWindow] = {}

    def _roll(self, now: datetime, now_ms: int) -> None:
        minute = now_ms // 60_000
        if minute == self._minute:
            if len(self._callers) + len(self._budgets) > self._max_entries:
                self._callers.clear()
                self._budgets.clear()
            return
        self._minute = minute
        self._callers.clear()
        self._budgets.clear()
        ends = [window_bounds(WINDOW_OF[f], now)[1] for f in LIMIT_FIELDS]
        self._ends_ms = [int(end.timestamp() * 1000) for end in ends] * 2

    def limit_keys(
        self, project_id: str, api_key_id: str | None, now: datetime, now_ms: int
    ) -> list[str]:
        """The caller's 8 limit counters (shared.limits.limit_keys) for the current windows."""
        self._roll(now, now_ms)
        found = self._callers.get((project_id, api_key_id))
        if found is None:
            found = limit_keys(project_id, api_key_id, now)
            self._callers[(project_id, api_key_id)] = found
        return found

    def ttls_ms(self, now_ms: int) -> list[int]:
        """Milliseconds left in each of the 8 counters' windows (shared.limits.window_ttls_ms);
        valid right after `limit_keys` for the same `now_ms`."""
        return [max(1, end - now_ms) for end in self._ends_ms]

    def budget(self, budget: Budget, now: datetime, now_ms: int) -> BudgetWindow:
        self._roll(now, now_ms)
        found = self._budgets.get(budget.id)
        if found is None or (found.budget is not budget and found.budget != budget):
            found = _budget_window(budget, now)
            self._budgets[budget.id] = found
        return found


def _budget_window(budget: Budget, now: datetime) -> BudgetWindow:
    start, end = budget.bounds(now)
    limit, warn = budget.units()
    expire_ms = int(end.timestamp() * 1000) + DAY_MS
    tail = f",{int(budget.blocks)},{warn},{expire_ms}"
    return BudgetWindow(
        budget,
        budget_keys(budget.project_id, budget.id, start),
        end,
        limit,
        warn,
        f"{limit},",
        tail,
    )
