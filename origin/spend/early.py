"""A request's admission started before its cache lookup, so that nothing waits for it alone.

A request that names its model is routed before its lookup (the route of a named model does
not depend on the task type, only on the prompt's size), so its worst case is known there and
the admit script goes to Redis while the exact cache's GET is in flight: a guarded miss waits
for one round trip instead of two, and a guarded hit too (it used to count its limits after
the GET). Its task type is classified later, once its provider request is written
(origin.gateway.plan).

What the admission decides is then read in the right order: a hit is served whatever the
budgets say (it costs nothing), gets its reservation back, and still counts against the
limits; a miss goes on to its provider only once admitted, exactly as `SpendControl.admit`
would have let it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from shared.errors import BudgetExceeded, UpstreamUnavailable

HitGate = Callable[[], Awaitable[None]]


class Releases(Protocol):
    def release(self, call: Any) -> None: ...


class EarlyAdmission:
    def __init__(
        self,
        control: Releases,
        call: Any,
        admission: Coroutine[Any, Any, None] | None,
        hit_gate: HitGate | None,
    ) -> None:
        """`admission` None: already admitted (in memory, origin.spend.allowances)."""
        self._control, self._call, self._hit_gate = control, call, hit_gate
        self._begun = admission is None
        self._task: asyncio.Task[None] | None = None
        if admission is not None:
            self._task = asyncio.get_running_loop().create_task(self._admit(admission))

    async def _admit(self, admission: Coroutine[Any, Any, None]) -> None:
        self._begun = True
        await admission

    async def before_hit(self) -> None:
        """The lookup found an answer: count the hit, give back what was reserved."""
        try:
            if self._task is not None:
                await self._task
        except (BudgetExceeded, UpstreamUnavailable):
            # Refused before its limits were counted (budgets are checked first), or the
            # budgets can't be read: a hit needs no budget, but it still counts as a request.
            if self._hit_gate is not None:
                await self._hit_gate()
            return
        self._control.release(self._call)

    async def started(self) -> None:
        """Let the admission go out before what the request does next, so that overlaps its
        round trip (its task only starts once the request's task yields). Under load this
        costs no extra turn of the loop: the admission's reply comes a turn later either way."""
        if not self._begun:
            await asyncio.sleep(0)

    async def before_provider(self) -> None:
        """The lookup missed: raises the 402, 429 or 503 the admission decided, if any."""
        if self._task is not None:
            await self._task

    async def abandon(self) -> None:
        """The request failed: wait for the admission to end, so that the failure releases
        what it reserved; its own outcome no longer matters."""
        if self._task is None:
            return
        if not self._task.done():
            await asyncio.wait([self._task])
        if not self._task.cancelled():
            self._task.exception()
