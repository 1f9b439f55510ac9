"""Budget counters rebuilt from the ledger: Postgres is the truth, Redis the fast copy.

A counter is only used once it has been initialised from `usage_logs` (the admit script
refuses to read one that hasn't, and the gateway then calls `ensure`), so a Redis flush or
restart cannot reset a budget: the next request rebuilds it. It is also refreshed at start
and periodically, taking the larger of the two sums: Redis runs ahead of Postgres by the
rows still on their way through the ledger, and Postgres wins after Redis lost data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from origin.spend.counters import Counters, CountersDown
from origin.spend.policies import Policies
from origin.spend.policy import Budget
from origin.store import Store, StoreError, StoreUnavailable
from shared.limits import budget_keys
from shared.worst_case import to_units

log = logging.getLogger("prism.spend")

# Counters outlive their period by a day, so a late settle still finds the right one.
KEEP_AFTER_PERIOD = timedelta(days=1)
# A request's usage row can reach Postgres before its settle reaches Redis. A periodic refresh
# compares Redis with the rows older than this, whose settles have arrived or were given up
# (a settle waits milliseconds, then is dropped): a newer row's settle would count it again
# after the refresh had already taken it from the ledger.
SETTLED_AFTER = timedelta(seconds=10)


class Reconciler:
    def __init__(self, store: Store, counters: Counters, policies: Policies, interval_s: float):
        self._store, self._counters, self._policies = store, counters, policies
        self._interval_s = interval_s
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def ensure(self, budget: Budget, now: datetime) -> None:
        """Initialise the budget's counter for the period containing `now`, once at a time."""
        start, _ = budget.bounds(now)
        key = budget_keys(budget.project_id, budget.id, start)[0]
        pending = self._inflight.get(key)
        if pending is None:
            # No counter yet (new, or Redis lost it): the whole ledger, as no settle has
            # counted anything in it.
            pending = asyncio.ensure_future(self._reconcile(budget, now, None))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(key, None))
        await asyncio.shield(pending)

    async def ensure_all(self, budgets: Sequence[Budget], now: datetime) -> None:
        """`ensure` every one of `budgets` at once: a request waits for the slowest rebuild,
        not their sum. Raises the first failure, once all have finished (none left running
        with an error nobody reads)."""
        results = await asyncio.gather(
            *(self.ensure(budget, now) for budget in budgets), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _reconcile(self, budget: Budget, now: datetime, until: datetime | None) -> None:
        start, end = budget.bounds(now)
        spent = await self._store.budget_spend(
            budget.project_id,
            start.isoformat(),
            budget.tag,
            None if until is None else until.isoformat(),
        )
        keys = budget_keys(budget.project_id, budget.id, start)
        expire_at = int((end + KEEP_AFTER_PERIOD).timestamp())
        await self._counters.reconcile(keys, [to_units(spent), expire_at])

    async def reconcile_all(self, budgets: list[Budget] | None = None) -> int:
        """Refresh `budgets` (default: every one this process has loaded); returns how many."""
        if budgets is None:
            budgets = [b for p in self._policies.known().values() for b in p.budgets]
        done = 0
        now = datetime.now(UTC)
        for budget in budgets:
            try:
                await self._reconcile(budget, now, now - SETTLED_AFTER)
                done += 1
            except (StoreUnavailable, StoreError, CountersDown) as exc:
                log.warning("budget %s not reconciled this round: %s", budget.id, exc)
        return done

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            rows = await self._store.all_budgets()
        except (StoreUnavailable, StoreError) as exc:
            log.warning("budgets not reconciled at start: %s", exc)
        else:
            await self.reconcile_all([Budget.from_row(r) for r in rows])
        while True:
            await asyncio.sleep(self._interval_s)
            await self.reconcile_all()
