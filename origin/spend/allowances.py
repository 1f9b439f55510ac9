"""Spend control's fast path: far from every limit, a request is checked in memory.

A budget or a request limit that is nowhere near its end does not need Redis to agree on every
request. Once a request's admission (ADMIT) shows a budget at most half used, or a request
counter at most half full, this worker asks for an allowance on it (origin.spend
.allowance_script): a reservation in Redis of about WANT_REQUESTS of that request's worst
case, or a block of WANT_COUNTS counts, grown to twice what the worker used between two
renewals when it is busier. Requests covered only by allowances with room are then
admitted here, with no round trip, and settle here; every REFRESH_S the worker sends Redis the
spend it settled, gives back what it did not use and renews (one script call per project),
keeping a quarter of its want to admit against while that call is out.

Why this never overshoots: what a worker admits here is at most what it holds reserved (and
counted) in Redis, which other workers see. Why nothing near a limit changes: an allowance is
only granted while its budget or counter stays at or under half its limit with it, and never
larger than 1/MAX_SHARE of it, so near the end every request goes through ADMIT and SETTLE as
before, with the same refusals, warnings and audit events; an idle worker gives its allowance
back within IDLE_S. Limits on tokens are never taken here (a request's tokens are known only
once it is answered). What it costs: the headers of a request admitted here show the budget
and counters as this worker last saw them plus its own use, and a worker that dies holding an
allowance leaves its reservation to lapse at its TTL and its unused counts counted until the
window ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

from origin.spend.admission import Admission, BudgetHold
from origin.spend.allowance_state import WANT_COUNTS, BudgetAllowance, CountAllowance
from origin.spend.counters import Counters, CountersDown
from origin.spend.windows import BudgetWindow
from shared.limits import TOKEN_SLOTS

log = logging.getLogger("prism.spend")

REFRESH_S = 0.1
IDLE_S = 1.0
WANT_REQUESTS = 64  # a budget allowance covers this many of the observed worst case
MAX_SHARE = 100  # an allowance is at most 1/MAX_SHARE of its budget or limit


class Allowances:
    def __init__(self, counters: Counters, reservation_ttl_ms: int) -> None:
        self._counters, self._ttl_ms = counters, reservation_ttl_ms
        self._worker = uuid.uuid4().hex[:16]
        self._budgets: dict[str, BudgetAllowance] = {}
        self._counts: dict[str, CountAllowance] = {}
        self._loop_task: asyncio.Task[None] | None = None

    def try_admit(self, admission: Admission, windows: Sequence[BudgetWindow]) -> bool:
        """Admit in memory if every budget and counter of the request has room; else False
        (and nothing taken). Fills the admission as ADMIT's reply would."""
        slots = _counted_slots(admission)
        if slots is None:
            return False
        budgets = [self._budgets.get(w.keys[0]) for w in windows]
        counts = [self._counts.get(admission.limit_keys[slot]) for slot in slots]
        amount = admission.amount
        if not all(b is not None and b.admits(amount) for b in budgets):
            return False
        if not all(c is not None and c.admits(1) for c in counts):
            return False
        now = time.monotonic()
        for window, found in zip(windows, budgets, strict=True):
            assert found is not None
            found.take(amount, now)
            found.taken += amount
            admission.holds.append(
                BudgetHold(
                    window.budget,
                    window.keys,
                    found.spent_seen + found.pending,
                    found.others_seen,
                    window.limit_units,
                    window.warn_units,
                )
            )
        for slot, counted in zip(slots, counts, strict=True):
            assert counted is not None
            counted.take(1, now)
            admission.counts[slot] = counted.count_seen - counted.granted + counted.used
        admission.fast = True
        return True

    def hold_all(self, budget_keys: Sequence[str], counter_keys: Sequence[str]) -> bool:
        """Whether this worker holds an allowance with room on every one of these budgets and
        counters: then a request they cover will most likely be admitted here. Its budgets
        count as used: a request that turns out a cache hit takes only from the counters, and
        hits alone must not let them idle away (every request after would go to ADMIT until
        the next renewal, about once a second under a run of hits)."""
        budgets = [self._budgets.get(key) for key in budget_keys]
        counts = [self._counts.get(key) for key in counter_keys]
        if not all(held is not None and held.has_room() for held in [*budgets, *counts]):
            return False
        now = time.monotonic()
        for found in budgets:
            assert found is not None
            found.last_used = now
        return True

    def counted(self, key: str, count: int) -> int:
        """A request ADMIT counted on counter `key`, which stood at `count` after it: the
        count as requests see it (without the counts this worker added ahead of requests not
        come yet), remembered for the requests admitted here next."""
        found = self._counts.get(key)
        if found is None:
            return count
        found.count_seen = count
        return count - (found.granted - found.used)

    def settle(self, admission: Admission, charged: int) -> None:
        """A request admitted here is done: its worst case becomes what it cost."""
        for hold in admission.holds:
            found = self._budgets.get(hold.keys[0])
            if found is not None:
                found.used += charged - admission.amount
                found.pending += charged

    def observe(
        self,
        admission: Admission,
        budgets: Sequence[tuple[BudgetWindow, int, int]],
    ) -> None:
        """After ADMIT: ask for allowances on what is far from its end. `budgets` are each
        budget's window with the spent and reserved units ADMIT saw."""
        slots = _counted_slots(admission)
        if slots is None:
            return
        wanted, now = False, time.monotonic()
        want = admission.amount * WANT_REQUESTS
        for window, spent, reserved in budgets:
            half = window.limit_units // 2
            if window.keys[0] in self._budgets or want <= 0:
                continue
            if want * MAX_SHARE > window.limit_units or spent + reserved + want > half:
                continue
            expire_ms = int(window.end.timestamp() * 1000) + 86_400_000
            self._budgets[window.keys[0]] = BudgetAllowance(
                admission.project_id, window.keys, half, expire_ms, want, last_used=now
            )
            wanted = True
        for slot in slots:
            key, limit = admission.limit_keys[slot], admission.limits[slot]
            if key in self._counts or WANT_COUNTS * MAX_SHARE > limit:
                continue
            if admission.counts[slot] + WANT_COUNTS > limit // 2:
                continue
            ttl_ms = max(1, int(admission.resets_s[slot] * 1000))
            self._counts[key] = CountAllowance(
                admission.project_id, key, limit // 2, ttl_ms, last_used=now
            )
            wanted = True
        if wanted and self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.refresh()
            while self._budgets or self._counts:
                await asyncio.sleep(REFRESH_S)
                await self.refresh()
        finally:
            self._loop_task = None

    async def refresh(self, closing: bool = False) -> None:
        """Send what was spent here, give back what is unused, renew (or, idle or closing,
        keep only what requests in flight hold); one script call per project."""
        projects = {b.project_id for b in self._budgets.values()}
        projects |= {c.project_id for c in self._counts.values()}
        for project_id in projects:
            await self._refresh_project(project_id, closing)

    async def _refresh_project(self, project_id: str, closing: bool) -> None:
        now = time.monotonic()
        budgets = [b for b in self._budgets.values() if b.project_id == project_id]
        counts = [c for c in self._counts.values() if c.project_id == project_id]
        keys: list[str] = []
        args: list[str | int] = [
            int(time.time() * 1000), self._worker, self._ttl_ms, len(budgets), len(counts)
        ]  # fmt: skip
        sent: list[tuple[int, int, int, int]] = []
        for b in budgets:
            idle = closing or now - b.last_used > IDLE_S
            # Reserved whatever the reply: the worst cases in flight, and what may be admitted
            # here meanwhile (kept from the old reservation, and part of the new want).
            b.keep(idle or not b.renewed)
            held, grown = b.used - b.pending, b.used - b.pending + (0 if idle else b.want)
            keys += b.keys
            args.append(f"{b.half},{b.pending},{held + b.kept},{grown},{b.expire_ms}")
            sent.append((b.pending, held + b.kept, grown, b.taken))
            b.refreshing = True
        used_sent: list[tuple[int, int]] = []
        for c in counts:
            idle = closing or now - c.last_used > IDLE_S
            # The kept counts are not given back, and they count towards the new block.
            c.keep(idle or not c.renewed)
            keys.append(c.key)
            unused, want = c.granted - c.used - c.kept, 0 if idle else c.want - c.kept
            args.append(f"{c.half},{unused},{want},{c.ttl_ms}")
            used_sent.append((c.used, c.kept))
            c.refreshing = True
        try:
            reply = await self._counters.allow(keys, args)
        except CountersDown as exc:
            log.warning("spend allowances not renewed (requests go to Redis one by one): %s", exc)
            reply = None
        finally:
            for b in budgets:
                b.refreshing = False
            for c in counts:
                c.refreshing = False
        self._apply(budgets, counts, sent, used_sent, reply)

    def _apply(
        self,
        budgets: list[BudgetAllowance],
        counts: list[CountAllowance],
        sent: list[tuple[int, int, int, int]],
        used_sent: list[tuple[int, int]],
        reply: list[int] | None,
    ) -> None:
        for i, (b, (pending, held, grown, taken)) in enumerate(zip(budgets, sent, strict=True)):
            if reply is None or int(reply[3 * i + 2]) < 0:
                # Not renewed, or the budget's counters are gone (Redis lost them):
                # nothing more is admitted here until ADMIT has rebuilt them.
                b.granted, b.pending, b.used = 0, 0, b.used - b.pending
            else:
                b.spent_seen, b.others_seen = int(reply[3 * i]), int(reply[3 * i + 1])
                b.renewed = bool(int(reply[3 * i + 2]))
                b.granted = grown if b.renewed else held
                # Enough for twice what the last interval took, so a busy worker rarely runs
                # out between renewals; never more than its share of the budget.
                b.want = min(max(b.want, 2 * taken), 2 * b.half // MAX_SHARE)
                b.taken -= taken
                b.pending -= pending
                b.used -= pending
            if b.granted == 0 and b.used <= 0:
                self._budgets.pop(b.keys[0], None)
        base = 3 * len(budgets)
        for j, (c, (used, kept)) in enumerate(zip(counts, used_sent, strict=True)):
            if reply is None:
                c.granted = c.used = 0
            else:
                grant = int(reply[base + 2 * j + 1])
                c.count_seen, c.renewed = int(reply[base + 2 * j]), grant > 0
                # The kept counts were never given back; those taken meanwhile came from them.
                c.granted, c.used = kept + grant, c.used - used
                c.want = min(max(c.want, 2 * used), 2 * c.half // MAX_SHARE)
            if c.granted == 0:
                self._counts.pop(c.key, None)

    async def aclose(self) -> None:
        """Send what was spent and give every allowance back."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        await self.refresh(closing=True)


def _counted_slots(admission: Admission) -> list[int] | None:
    """The request-count slots this request is counted in; None when a token limit applies
    (tokens are only known once the request is answered: never taken here)."""
    if not admission.limits_counted:
        return []
    if any(admission.limits[slot] > 0 for slot in TOKEN_SLOTS):
        return None
    return [slot for slot, limit in enumerate(admission.limits) if limit > 0]
