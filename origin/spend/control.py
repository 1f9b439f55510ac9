"""Spend control on the request path: rate limits, budget reservations, and settling them.

Three calls from the gateway: `before_lookup` counts the request against its rate limits
before the response cache is consulted (a cache hit counts too); `admit`, after routing,
reserves the request's worst-case cost against every budget covering it (and counts the
limits too when the cache was not consulted, so such a request costs one round trip);
`settle`, once the outcome is known, replaces the reservation by the exact cost, in the
background. Projects without budgets or limits cost nothing here: no Redis call at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from origin.spend.admission import Admission, BudgetHold, warn_at
from origin.spend.audit import AuditLog
from origin.spend.counters import Counters, CountersDown
from origin.spend.policies import Policies
from origin.spend.policy import Budget, ProjectPolicy
from origin.spend.reconcile import Reconciler
from origin.spend.refusals import budget_refusal, limit_refusal
from origin.store import StoreError, StoreUnavailable
from shared.errors import UpstreamUnavailable
from shared.limits import budget_keys, limit_keys, limits_config_key, window_ttls_ms
from shared.options import RequestOptions
from shared.pricing import Cost, TokenUsage
from shared.usage import Caller
from shared.worst_case import (
    cost_units,
    output_token_bound,
    prompt_token_bound,
    to_units,
    worst_case_cents,
)

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


class SpendControl:
    def __init__(
        self,
        policies: Policies,
        counters: Counters,
        reconciler: Reconciler,
        audit: AuditLog,
        reservation_ttl_s: float,
    ) -> None:
        self.policies, self._counters, self._reconciler = policies, counters, reconciler
        self._audit, self._ttl_ms = audit, int(reservation_ttl_s * 1000)
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit_fired: set[str] = set()

    async def before_lookup(self, call: SpendCall) -> None:
        if not call.options.cache_lookup:
            return  # no lookup: `admit` counts the limits in its one round trip
        policy = await self.policies.for_project(call.caller.project_id)
        if policy.has_limits(call.caller.api_key_id):
            admission = self._admission(call, policy)
            await self._run(call, admission, [], count_limits=True)

    async def admit(self, call: SpendCall) -> None:
        policy = await self.policies.for_project(call.caller.project_id)
        admission = call.spend
        count_limits = admission is None and policy.has_limits(call.caller.api_key_id)
        budgets = policy.covering(call.options.tags)
        if not budgets and not count_limits:
            return
        if admission is None:
            admission = self._admission(call, policy if count_limits else None)
        models = [model for model, _, _ in call.attempts]
        admission.amount = to_units(worst_case_cents(call.body, models))
        await self._run(call, admission, budgets, count_limits=count_limits)

    def settle(
        self, call: SpendCall, usage: TokenUsage | None, cost: Cost | None, success: bool
    ) -> None:
        admission = call.spend
        if admission is None:
            return
        charged = cost_units(cost)
        if success and admission.budgeted and (usage is None or not usage.reported):
            # A provider that reports no usage is charged the worst case, never nothing.
            charged = admission.amount
        tokens = (usage.prompt_tokens + usage.completion_tokens) if usage else 0
        delta = tokens - admission.tokens if admission.limits_counted and admission.tokens else 0
        keys = [admission.limit_keys[3], admission.limit_keys[7]]
        keys += [k for hold in admission.holds for k in hold.keys]
        if not admission.holds and delta == 0:
            return
        task = asyncio.get_running_loop().create_task(
            self._settle(keys, [admission.request_id, delta, charged])
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, keys: list[str], args: list[str | int]) -> None:
        try:
            await self._counters.settle(keys, args)
        except CountersDown as exc:
            # The reservation lapses at its TTL; reconciliation restores the spend from Postgres.
            log.warning("could not settle a reservation (it will expire): %s", exc)

    def _admission(self, call: SpendCall, policy: ProjectPolicy | None) -> Admission:
        now = datetime.now(UTC)
        caller = call.caller
        admission = Admission(
            call.request_id,
            caller.project_id,
            now,
            limit_keys(caller.project_id, caller.api_key_id, now),
        )
        if policy is not None:
            key, project = policy.limits_for(caller.api_key_id)
            admission.limits = key.values() + project.values()
            admission.limits_counted = True
            admission.tokens = _token_estimate(call.body)
            admission.resets_s = [ms / 1000 for ms in window_ttls_ms(now)]
        return admission

    async def _run(
        self, call: SpendCall, admission: Admission, budgets: list[Budget], *, count_limits: bool
    ) -> None:
        """One admit script call (plus a counter rebuild if Redis lost it); raises refusals."""
        blocking = any(b.blocks for b in budgets)
        reply: list[Any] = ["uninit"]
        for _attempt in range(3):
            try:
                script_input = self._script_input(admission, budgets, count_limits)
                reply = await self._counters.admit(*script_input)
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
            try:
                await self._reconciler.ensure(budgets[int(reply[1]) - 1], admission.now)
            except (StoreUnavailable, StoreError, CountersDown) as exc:
                if blocking:
                    raise UpstreamUnavailable(
                        "Budgets can't be checked right now (their spend can't be read); "
                        "retry shortly.",
                        retry_after=1,
                    ) from exc
                log.warning("warn-only budgets skipped, their spend can't be read: %s", exc)
                budgets = []
        if reply[0] == "uninit":
            raise UpstreamUnavailable("Budgets can't be checked right now.", retry_after=1)
        self._apply(call, admission, budgets, reply, count_limits)

    def _script_input(
        self, admission: Admission, budgets: list[Budget], count_limits: bool
    ) -> tuple[list[str], list[str | int]]:
        """The admit script's keys and its few, short arguments (see shared.spend_scripts)."""
        now = admission.now
        keys = [limits_config_key(admission.project_id)]
        args: list[str | int] = [int(now.timestamp() * 1000), admission.request_id, self._ttl_ms]
        if count_limits:
            keys += admission.limit_keys
            ttls = ",".join(str(int(s * 1000)) for s in admission.resets_s)
            limits = ",".join(map(str, admission.limits))
            args += ["args", "", admission.tokens, 8, limits, ttls]
        else:
            args += ["args", "", 0, 0, "", ""]
        for budget in budgets:
            start, end = budget.bounds(now)
            keys += budget_keys(budget.project_id, budget.id, start)
            expire_ms = int(end.timestamp() * 1000) + 86_400_000
            args.append(
                f"{to_units(budget.limit_cents)},{admission.amount},{int(budget.blocks)},"
                f"{warn_at(budget)},{expire_ms}"
            )
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
            self._limit_fired_once(admission, int(reply[1]) - 1)
            raise limit_refusal(admission, int(reply[1]) - 1, int(reply[2]))
        if status == "budget":
            budget = budgets[int(reply[1]) - 1]
            if int(reply[4]):
                self._audit.fired(
                    admission.project_id, "budget.block", budget.id, _detail(budget, reply)
                )
            raise budget_refusal(budget, admission, int(reply[2]), int(reply[3]))
        if count_limits:
            admission.counts = [int(v) for v in reply[1:9]]
        for i, budget in enumerate(budgets):
            spent, reserved, first = (int(v) for v in reply[9 + 3 * i : 12 + 3 * i])
            keys = budget_keys(budget.project_id, budget.id, budget.bounds(admission.now)[0])
            admission.holds.append(BudgetHold(budget, keys, spent, reserved))
            if first:
                self._audit.fired(
                    admission.project_id, "budget.warn", budget.id, {"spent_units": spent}
                )
        call.spend = admission
        call.receipt.policy = admission

    def _limit_fired_once(self, admission: Admission, slot: int) -> None:
        key = admission.limit_keys[slot]
        if key in self._limit_fired:
            return
        if len(self._limit_fired) > 10_000:
            self._limit_fired.clear()
        self._limit_fired.add(key)
        scope, name = ("key" if slot < 4 else "project"), key.split(":")[-2]
        detail = {"scope": scope, "limit": name, "value": admission.limits[slot]}
        self._audit.fired(admission.project_id, "rate_limit", f"{scope}:{name}", detail)

    async def aclose(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _token_estimate(body: Mapping[str, Any]) -> int:
    """Tokens counted against tokens-per-minute up front: the prompt and any requested cap."""
    explicit = body.get("max_completion_tokens") or body.get("max_tokens")
    return prompt_token_bound(body) + (output_token_bound(body, "") if explicit else 0)


def _detail(budget: Budget, reply: list[Any]) -> dict[str, Any]:
    return {"spent_units": int(reply[2]), "reserved_units": int(reply[3]), "period": budget.period}
