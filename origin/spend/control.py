"""Spend control on the request path: rate limits, budget reservations, and settling them.

A request costs at most one Redis round trip here before its provider is called, and none
after. `before_lookup` (when the response cache will be consulted) only refuses a request
whose request limit this process already saw full in the current window, from memory; it
returns the gate the cache runs before answering a hit, which counts the hit against the
limits (a hit counts too). On a miss, `admit`, after routing, counts the limits AND reserves
the request's worst-case cost against every budget covering it, in one script call.
`settle`, once the outcome is known, queues the exact cost; the Batcher sends admits and
settles of concurrent requests together, one round trip per batch. Projects without budgets or
limits cost nothing here: no Redis call at all. Far from every limit a request costs no round
trip either: it is admitted and settled in memory against allowances this worker holds in
Redis (origin.spend.allowances). The admission of a request naming its model starts before
its cache lookup, to share that round trip (origin.spend.early).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from origin.spend.admission import Admission, BudgetHold
from origin.spend.allowances import Allowances
from origin.spend.audit import AuditLog
from origin.spend.batcher import Batcher
from origin.spend.counters import Counters, CountersDown
from origin.spend.early import EarlyAdmission
from origin.spend.full_limits import FullLimits
from origin.spend.policies import Policies
from origin.spend.policy import Budget, ProjectPolicy
from origin.spend.reconcile import Reconciler
from origin.spend.refusals import budget_refusal, limit_refusal
from origin.spend.windows import Windows
from origin.store import StoreError, StoreUnavailable
from shared.errors import UpstreamUnavailable
from shared.limits import TOKEN_SLOTS, limits_config_key
from shared.options import RequestOptions
from shared.pricing import Cost, TokenUsage
from shared.usage import Caller
from shared.worst_case import cost_units, output_token_bound, prompt_token_bound, worst_case_units

log = logging.getLogger("prism.spend")

HitGate = Callable[[], Awaitable[None]]


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
        self._batcher = Batcher(counters, counters.timeout_s)
        self._allowances = Allowances(counters, self._ttl_ms)
        self._windows = Windows()
        self._full = FullLimits(audit)

    async def before_lookup(self, call: SpendCall) -> HitGate | None:
        """Refuse a request over a limit known to be full; the gate for a cache hit, if any."""
        if not call.options.cache_lookup:
            return None  # no lookup: `admit` counts the limits in its one round trip
        policy = await self.policies.for_project(call.caller.project_id)
        if not policy.has_limits(call.caller.api_key_id):
            return None
        if self._full.any:
            self._refuse_if_full(call, policy)

        async def count_hit() -> None:
            admission = self._admission(call, policy)
            if not self._admitted_here(call, admission, []):
                await self._run(call, admission, [], count_limits=True)

        return count_hit

    async def alongside(
        self, call: SpendCall, hit_gate: HitGate | None, route: Callable[[], bool]
    ) -> EarlyAdmission | None:
        """Start the admission of a request before its cache lookup and its classification,
        so it waits for neither (origin.spend.early). `route` routes the request now and says
        whether it could (only a request that names its model can be); None, with nothing
        started, when there is nothing to check or it could not be routed yet."""
        policy = await self.policies.for_project(call.caller.project_id)
        count_limits = policy.has_limits(call.caller.api_key_id)
        budgets = policy.covering(call.options.tags)
        if not (budgets or count_limits) or self._far_from_limits(call, policy, budgets):
            return None
        if not route():
            return None
        admission = self._admission(call, policy if count_limits else None)
        if budgets:
            models = [model for model, _, _ in call.attempts]
            admission.amount = worst_case_units(call.body, models, admission.prompt_tokens)
        if self._admitted_here(call, admission, budgets):
            return EarlyAdmission(self, call, None, hit_gate)
        admitting = self._run(call, admission, budgets, count_limits=count_limits)
        return EarlyAdmission(self, call, admitting, hit_gate)

    def _far_from_limits(
        self, call: SpendCall, policy: ProjectPolicy, budgets: list[Budget]
    ) -> bool:
        """Whether this worker's allowances cover the request: then its checks cost no round
        trip and need not start before the lookup (a hit then never routes)."""
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        windows = [self._windows.budget(b, now, now_ms).keys[0] for b in budgets]
        counters: list[str] = []
        if policy.has_limits(call.caller.api_key_id):
            keys = self._windows.limit_keys(
                call.caller.project_id, call.caller.api_key_id, now, now_ms
            )
            key_limits, project_limits = policy.limits_for(call.caller.api_key_id)
            limits = key_limits.values() + project_limits.values()
            counters = [key for key, limit in zip(keys, limits, strict=True) if limit > 0]
        return self._allowances.hold_all(windows, counters)

    def release(self, call: SpendCall) -> None:
        """Give back a cache hit's reservation (a hit costs nothing; its limits stay counted)."""
        admission = call.spend
        if admission is None or not admission.holds:
            return
        self._queue_settle(admission, 0, 0)

    def _refuse_if_full(self, call: SpendCall, policy: ProjectPolicy) -> None:
        now = datetime.now(UTC)
        caller = call.caller
        keys = self._windows.limit_keys(
            caller.project_id, caller.api_key_id, now, int(now.timestamp() * 1000)
        )
        key_limits, project_limits = policy.limits_for(caller.api_key_id)
        limits = key_limits.values() + project_limits.values()
        for slot, key in enumerate(keys):
            count = self._full.count_if_full(key, limits[slot])
            if count is not None:
                admission = self._admission(call, policy)
                self._full.fired_once(admission, slot)
                raise limit_refusal(admission, slot, count)

    async def admit(self, call: SpendCall) -> None:
        policy = await self.policies.for_project(call.caller.project_id)
        admission = call.spend
        count_limits = admission is None and policy.has_limits(call.caller.api_key_id)
        budgets = policy.covering(call.options.tags)
        if not budgets and not count_limits:
            return
        fresh = admission is None
        if admission is None:
            admission = self._admission(call, policy if count_limits else None)
        models = [model for model, _, _ in call.attempts]
        admission.amount = worst_case_units(call.body, models, admission.prompt_tokens)
        if fresh and self._admitted_here(call, admission, budgets):
            return
        await self._run(call, admission, budgets, count_limits=count_limits)

    def _admitted_here(self, call: SpendCall, admission: Admission, budgets: list[Budget]) -> bool:
        """Admitted against this worker's allowances, without Redis (origin.spend.allowances)."""
        windows = [self._windows.budget(b, admission.now, admission.now_ms) for b in budgets]
        if not self._allowances.try_admit(admission, windows):
            return False
        call.spend = admission
        call.receipt.policy = admission
        return True

    def settle(
        self, call: SpendCall, usage: TokenUsage | None, cost: Cost | None, success: bool
    ) -> None:
        """Queue the exact cost (and tokens) in place of the reservation; never waits."""
        admission = call.spend
        if admission is None:
            return
        charged = cost_units(cost)
        if success and admission.budgeted and (usage is None or not usage.reported):
            # A provider that reports no usage is charged the worst case, never nothing.
            charged = admission.amount
        tokens = (usage.prompt_tokens + usage.completion_tokens) if usage else 0
        delta = tokens - admission.tokens if admission.counts_tokens else 0
        if admission.holds or delta:
            self._queue_settle(admission, delta, charged)

    def _queue_settle(self, admission: Admission, delta: int, charged: int) -> None:
        """`charged` in place of the reservation and `delta` more tokens: in memory for a
        request admitted against this worker's allowances, else by SETTLE (batched)."""
        if admission.fast:
            self._allowances.settle(admission, charged)
            return
        keys = [admission.limit_keys[3], admission.limit_keys[7]]
        for hold in admission.holds:
            keys += hold.keys
        args: list[str | int] = [admission.request_id, delta, charged, len(admission.holds)]
        self._batcher.settle(admission.project_id, keys, args)

    def _admission(self, call: SpendCall, policy: ProjectPolicy | None) -> Admission:
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        caller = call.caller
        keys = self._windows.limit_keys(caller.project_id, caller.api_key_id, now, now_ms)
        admission = Admission(call.request_id, caller.project_id, now, keys, now_ms)
        if policy is not None:
            key, project = policy.limits_for(caller.api_key_id)
            admission.limits = key.values() + project.values()
            admission.limits_counted = True
            if any(admission.limits[slot] for slot in TOKEN_SLOTS):
                admission.prompt_tokens = prompt_token_bound(call.body)
                admission.tokens = _token_estimate(call.body, admission.prompt_tokens)
            admission.resets_s = [ms / 1000 for ms in self._windows.ttls_ms(now_ms)]
        return admission

    async def _run(
        self, call: SpendCall, admission: Admission, budgets: list[Budget], *, count_limits: bool
    ) -> None:
        """One admit script call (plus a counter rebuild if Redis lost it); raises refusals."""
        blocking = any(b.blocks for b in budgets)
        reply: list[Any] = ["uninit"]
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

    async def aclose(self) -> None:
        await self._allowances.aclose()
        await self._batcher.aclose()


def _token_estimate(body: Mapping[str, Any], prompt_tokens: int) -> int:
    """Tokens counted against tokens-per-minute up front: the prompt and any requested cap."""
    explicit = body.get("max_completion_tokens") or body.get("max_tokens")
    return prompt_tokens + (output_token_bound(body, "") if explicit else 0)


def _detail(budget: Budget, reply: list[Any]) -> dict[str, Any]:
    return {"spent_units": int(reply[2]), "reserved_units": int(reply[3]), "period": budget.period}
