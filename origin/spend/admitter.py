"""Admitting a request in Redis: the one admit script call, and what its reply decides.

This is spend control's slow path, taken only by a request its worker's allowances do not
cover (origin.spend.allowances): it alone talks to the counters before a provider is called,
rebuilds the budget counters Redis lost, and turns the script's reply into refusals, the
counts the client sees and the budget holds settled later. Kept apart from the orchestration
in origin.spend.control so that each reads on its own; one Admitter is built per
SpendControl, so a request pays no extra object for it.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from origin.spend.admission import Admission, BudgetHold
from origin.spend.allowances import Allowances
from origin.spend.audit import AuditLog
from origin.spend.batcher import Batcher
from origin.spend.counters import CountersDown
from origin.spend.full_limits import FullLimits
from origin.spend.policy import Budget
from origin.spend.reconcile import Reconciler
from origin.spend.refusals import budget_refusal, limit_refusal
from origin.spend.windows import Windows
from origin.store import StoreError, StoreUnavailable
from shared.errors import UpstreamUnavailable
from shared.limits import limits_config_key
from shared.options import RequestOptions
from shared.usage import Caller

log = logging.getLogger("prism.spend")


class SpendCall(Protocol):
    """The parts of the gateway's Call that spend control reads and writes."""

    request_id: str
    caller: Caller
    options: RequestOptions
    body: dict[str, Any]
    attempts: list[tuple[str, str, str]]
    spend: Admission | None
    receipt: Any


class Admitter:
    def __init__(
        self,
        batcher: Batcher,
        reconciler: Reconciler,
        audit: AuditLog,
        allowances: Allowances,
        windows: Windows,
        full: FullLimits,
        ttl_ms: int,
    ) -> None:
        self._batcher, self._reconciler, self._audit = batcher, reconciler, audit
        self._allowances, self._windows, self._full = allowances, windows, full
        self._ttl_ms = ttl_ms

    async def run(
        self, call: SpendCall, admission: Admission, budgets: list[Budget], *, count_limits: bool
    ) -> None:
        """One admit script call (plus, if Redis lost counters, their rebuild and one more);
        raises refusals."""
        blocking = any(b.blocks for b in budgets)
        reply: list[Any] = ["uninit"]
        # The script names every cold counter at once and all are rebuilt together, so the
        # second call finds them ready; a third is only for counters lost again meanwhile.
        for _attempt in range(3):
            try:
                reply = await self._batcher.admit(
                    *self._script_input(admission, budgets, count_limits)
                )
            except CountersDown as exc:
                if blocking:
                    raise UpstreamUnavailable(
                        "Budgets can't be checked right now (their counters are unavailable); "
                        "retry shortly.",
                        retry_after=1,
                    ) from exc
                log.warning("spend counters down, request admitted unchecked: %s", exc)
                return
            if reply[0] != "uninit":
                break
            budgets = await self._rebuild(admission, budgets, reply[1:], blocking)
        if reply[0] == "uninit":
            raise UpstreamUnavailable("Budgets can't be checked right now.", retry_after=1)
        self._apply(call, admission, budgets, reply, count_limits)

    async def _rebuild(
        self, admission: Admission, budgets: list[Budget], cold: list[Any], blocking: bool
    ) -> list[Budget]:
        """Rebuild from the ledger the counters the script found uninitialised (1-based
        indexes into `budgets`; negative for one it found unreadable and deleted); the budgets
        to admit against next."""
        found = [budgets[abs(int(i)) - 1] for i in cold]
        for i, budget in zip(cold, found, strict=True):
            if int(i) < 0:
                keys = self._windows.budget(budget, admission.now, admission.now_ms).keys
                log.warning(
                    "budget counter %s was unreadable (not an integer, or another type): "
                    "deleted, rebuilt from usage_logs",
                    keys[0],
                )
        try:
            await self._reconciler.ensure_all(found, admission.now)
        except (StoreUnavailable, StoreError, CountersDown) as exc:
            if blocking:
                raise UpstreamUnavailable(
                    "Budgets can't be checked right now (their spend can't be read); "
                    "retry shortly.",
                    retry_after=1,
                ) from exc
            log.warning("warn-only budgets skipped, their spend can't be read: %s", exc)
            return []
        return budgets

    def _script_input(
        self, admission: Admission, budgets: list[Budget], count_limits: bool
    ) -> tuple[list[str], list[str | int]]:
        """The admit script's keys and its few, short arguments (see shared.spend_scripts)."""
        keys = [limits_config_key(admission.project_id)]
        args: list[str | int] = [admission.now_ms, admission.request_id, self._ttl_ms]
        if count_limits:
            keys += admission.limit_keys
            ttls = ",".join(str(int(s * 1000)) for s in admission.resets_s)
            limits = ",".join(map(str, admission.limits))
            args += ["args", "", admission.tokens, 8, limits, ttls]
        else:
            args += ["args", "", 0, 0, "", ""]
        amount = str(admission.amount)
        for budget in budgets:
            window = self._windows.budget(budget, admission.now, admission.now_ms)
            keys += window.keys
            args.append(window.head + amount + window.tail)
        return keys, args

    def _apply(
        self,
        call: SpendCall,
        admission: Admission,
        budgets: list[Budget],
        reply: list[Any],
        count_limits: bool,
    ) -> None:
        status = reply[0]
        if status == "limit":
            slot = int(reply[1]) - 1
            self._full.fired_once(admission, slot)
            self._full.remember(admission.limit_keys[slot], slot, admission.limits[slot], reply[2])
            raise limit_refusal(admission, slot, int(reply[2]))
        if status == "budget":
            budget = budgets[int(reply[1]) - 1]
            if int(reply[4]):
                self._audit.fired(
                    admission.project_id, "budget.block", budget.id, _detail(budget, reply)
                )
            raise budget_refusal(budget, admission, int(reply[2]), int(reply[3]))
        if count_limits:
            admission.counts = [
                self._allowances.counted(key, int(v))
                for v, key in zip(reply[1:9], admission.limit_keys, strict=True)
            ]
            for slot, (limit, count) in enumerate(zip(admission.limits, admission.counts)):
                if 0 < limit <= count:
                    self._full.remember(admission.limit_keys[slot], slot, limit, count)
        seen = []
        for i, budget in enumerate(budgets):
            spent, reserved, first = (int(v) for v in reply[9 + 3 * i : 12 + 3 * i])
            window = self._windows.budget(budget, admission.now, admission.now_ms)
            seen.append((window, spent, reserved))
            admission.holds.append(
                BudgetHold(
                    budget, window.keys, spent, reserved, window.limit_units, window.warn_units
                )
            )
            if first:
                self._audit.fired(
                    admission.project_id, "budget.warn", budget.id, {"spent_units": spent}
                )
        call.spend = admission
        call.receipt.policy = admission
        self._allowances.observe(admission, seen)


def _detail(budget: Budget, reply: list[Any]) -> dict[str, Any]:
    return {"spent_units": int(reply[2]), "reserved_units": int(reply[3]), "period": budget.period}
