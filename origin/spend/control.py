"""Spend control on the request path: rate limits, budget reservations, and settling them.

A request costs at most one Redis round trip here before its provider is called, and none
after. `before_lookup` (when the response cache will be consulted) only refuses a request
whose request limit this process already saw full in the current window, from memory; it
returns the gate the cache runs before answering a hit, which counts the hit against the
limits (a hit counts too). On a miss, `admit`, after routing, counts the limits AND reserves
the request's worst-case cost against every budget covering it, in one script call
(origin.spend.admitter).
`settle`, once the outcome is known, queues the exact cost; the Batcher sends admits and
settles of concurrent requests together, one round trip per batch. Projects without budgets or
limits cost nothing here: no Redis call at all. Far from every limit a request costs no round
trip either: it is admitted and settled in memory against allowances this worker holds in
Redis (origin.spend.allowances). The admission of a request naming its model starts before
its cache lookup, to share that round trip (origin.spend.early).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from origin.spend.admission import Admission
from origin.spend.admitter import Admitter, SpendCall
from origin.spend.allowances import Allowances
from origin.spend.audit import AuditLog
from origin.spend.batcher import Batcher
from origin.spend.counters import Counters
from origin.spend.early import EarlyAdmission, HitGate
from origin.spend.full_limits import FullLimits
from origin.spend.policies import Policies
from origin.spend.policy import Budget, ProjectPolicy
from origin.spend.reconcile import Reconciler
from origin.spend.refusals import limit_refusal
from origin.spend.windows import Windows
from shared.limits import TOKEN_SLOTS
from shared.pricing import Cost, TokenUsage
from shared.worst_case import cost_units, output_token_bound, prompt_token_bound, worst_case_units


class SpendControl:
    def __init__(
        self,
        policies: Policies,
        counters: Counters,
        reconciler: Reconciler,
        audit: AuditLog,
        reservation_ttl_s: float,
    ) -> None:
        self.policies = policies
        ttl_ms = int(reservation_ttl_s * 1000)
        self._batcher = Batcher(counters, counters.timeout_s)
        self._allowances = Allowances(counters, ttl_ms)
        self._windows = Windows()
        self._full = FullLimits(audit)
        self._admitter = Admitter(
            self._batcher, reconciler, audit, self._allowances, self._windows, self._full, ttl_ms
        )

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
                await self._admitter.run(call, admission, [], count_limits=True)

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
        admitting = self._admitter.run(call, admission, budgets, count_limits=count_limits)
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
            limits = policy.limit_values(call.caller.api_key_id)
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
        limits = policy.limit_values(caller.api_key_id)
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
        await self._admitter.run(call, admission, budgets, count_limits=count_limits)

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
        request admitted against this worker's allowances, else by SETTLE (batched). Once: a
        hit's reservation, given back, is not given back again by a failure after it."""
        if admission.settled:
            return
        admission.settled = True
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
            admission.limits = policy.limit_values(caller.api_key_id)
            admission.limits_counted = True
            if any(admission.limits[slot] for slot in TOKEN_SLOTS):
                admission.prompt_tokens = prompt_token_bound(call.body)
                admission.tokens = _token_estimate(call.body, admission.prompt_tokens)
            admission.resets_s = [ms / 1000 for ms in self._windows.ttls_ms(now_ms)]
        return admission

    async def aclose(self) -> None:
        await self._allowances.aclose()
        await self._batcher.aclose()


def _token_estimate(body: Mapping[str, Any], prompt_tokens: int) -> int:
    """Tokens counted against tokens-per-minute up front: the prompt and any requested cap."""
    explicit = body.get("max_completion_tokens") or body.get("max_tokens")
    return prompt_tokens + (output_token_bound(body, "") if explicit else 0)
