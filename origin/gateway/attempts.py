"""Trying a request on its candidate models until one produces a first token.

`Racer.run` starts the first target; when it fails before its first token with an error
another provider may not have, the next target starts. With a hedge delay, if the first
target has not produced its first token by then, the next one starts alongside it: whichever
produces a first token first wins and every other attempt is cancelled (its connection
closed). Nothing has reached the client until a winner exists, so every failure before it
can be failed over from. Every outcome feeds the health board.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from origin.providers.base import Endpoint
from origin.providers.failures import AUTH_FAILED_CODE, BAD_RESPONSE_CODE
from origin.providers.http import INTERRUPTED_CODE
from origin.routing.health import HealthBoard
from shared.errors import (
    PrismError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

T = TypeVar("T")

# Upstream failures after which another model may well succeed; anything else is final.
_RETRYABLE_CODES = frozenset({INTERRUPTED_CODE, BAD_RESPONSE_CODE})


def retryable(exc: PrismError) -> bool:
    if isinstance(exc, (UpstreamUnavailable, UpstreamTimeout, RateLimited)):
        return True
    return isinstance(exc, UpstreamError) and exc.code in _RETRYABLE_CODES


@dataclass(frozen=True, slots=True)
class Target:
    model: str  # catalog id (or "provider/model" for a custom provider)
    provider: str
    upstream: str
    destination: str = ""  # a project's own server (see `destination`); empty: the vendor's

    @property
    def key(self) -> str:
        """Its health board key, which every project reaching the same server shares."""
        key = f"{self.provider}:{self.model}"
        return f"{key}@{self.destination}" if self.destination else key


def destination(endpoint: Endpoint | None) -> str:
    """Empty for a vendor's own API, else a digest of the base URL a project configured.
    Health is shared across projects, so one tenant's own server (failing, hanging) must not
    count against the provider and model every other tenant reaches."""
    if endpoint is None or endpoint.shared:
        return ""
    return hashlib.sha256(endpoint.base_url.encode()).hexdigest()[:12]


@dataclass
class Won(Generic[T]):
    target: Target
    value: T
    hedge: Target | None = None  # the target a hedge started, when one fired
    # Attempts that lost to this one, with their value when they had finished too (a tie):
    # its provider billed that answer, so its usage is known. Their values are released.
    losers: list[tuple[Target, T | None]] = field(default_factory=list)
    failures: list[tuple[Target, PrismError]] = field(default_factory=list)


class Racer:
    def __init__(self, health: HealthBoard) -> None:
        self.health = health

    async def run(
        self,
        targets: list[Target],
        attempt: Callable[[Target], Awaitable[T]],
        close: Callable[[T], Awaitable[None]],
        *,
        hedge_s: float | None = None,
        deadline: bool = False,
    ) -> Won[T]:
        """The first target to produce a value. `close` releases a value that lost a tie;
        `deadline` bounds each attempt by its model's first-byte deadline (streams)."""
        if hedge_s is None:
            return await self._in_turn(targets, attempt, deadline)
        queue = list(targets)
        running: dict[asyncio.Task[T], Target] = {}
        failures: list[tuple[Target, PrismError]] = []
        hedge: Target | None = None

        def launch() -> None:
            target = queue.pop(0)
            task = asyncio.create_task(self._one(target, attempt, deadline))
            running[task] = target

        launch()
        try:
            while running:
                wait = hedge_s if hedge is None and hedge_s is not None and queue else None
                done, _ = await asyncio.wait(
                    running, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    hedge = queue[0]
                    launch()
                    continue
                won, ties = await self._settle(done, running, failures, close)
                if won is not None:
                    target, value = won
                    losers = [*ties, *await _cancel(running, close)]
                    return Won(target, value, hedge, losers, failures)
                if not running and queue:
                    launch()
        finally:
            await _cancel(running, close)
        raise failures[-1][1]

    async def _in_turn(
        self, targets: list[Target], attempt: Callable[[Target], Awaitable[T]], bounded: bool
    ) -> Won[T]:
        """Without a hedge, one attempt at a time in this task: the common case, spared a
        task and an `asyncio.wait` per attempt."""
        failures: list[tuple[Target, PrismError]] = []
        for target in targets:
            try:
                value = await self._one(target, attempt, bounded)
            except PrismError as exc:
                failures.append((target, exc))
                if not retryable(exc):
                    raise
                continue
            return Won(target, value, None, [], failures)
        raise failures[-1][1]

    def broke_off(self, target: Target, exc: PrismError) -> None:
        """A stream that failed after its first token. Its attempt counted as a success when
        that token came; the answer failed all the same, so the window gets the failure too:
        otherwise a provider that breaks every stream midway keeps its full weight."""
        if _outcome(exc) is False:
            self.health.end(target.key, self.health.begin(target.key), False)

    async def _settle(
        self,
        done: set[asyncio.Task[T]],
        running: dict[asyncio.Task[T], Target],
        failures: list[tuple[Target, PrismError]],
        close: Callable[[T], Awaitable[None]],
    ) -> tuple[tuple[Target, T] | None, list[tuple[Target, T | None]]]:
        won: tuple[Target, T] | None = None
        ties: list[tuple[Target, T | None]] = []
        for task in done:
            target = running.pop(task)
            exc = task.exception()
            if exc is None:
                if won is None:
                    won = (target, task.result())
                else:
                    await close(task.result())  # a tie: the second one is a loser too
                    ties.append((target, task.result()))
                continue
            if not isinstance(exc, PrismError):
                raise exc
            failures.append((target, exc))
            if not retryable(exc) and won is None:
                raise exc
        return won, ties

    async def _one(
        self, target: Target, attempt: Callable[[Target], Awaitable[T]], bounded: bool
    ) -> T:
        key = self.health.begin(target.key)
        started = time.monotonic()
        ok: bool | None = None
        try:
            if bounded:
                limit = self.health.deadline_s(target.key)
                try:
                    async with asyncio.timeout(limit):
                        value = await attempt(target)
                except TimeoutError:
                    raise UpstreamTimeout(
                        f"{target.provider} sent no first token within {limit:g}s"
                    ) from None
            else:
                value = await attempt(target)
            ok = True
            return value
        except PrismError as exc:
            ok = _outcome(exc)
            raise
        except asyncio.CancelledError:
            # Abandoned (a hedge won, the client left): that says nothing, unless the attempt
            # had already waited past its first-byte deadline, when it was hung.
            if time.monotonic() - started > self.health.deadline_s(target.key):
                ok = False
            raise
        finally:
            self.health.end(target.key, key, ok, time.monotonic() - started)


def _outcome(exc: PrismError) -> bool | None:
    """What a failed attempt says of its model's health: False (it failed) or None (nothing).

    A request the provider rightly refused says nothing about its health, and nor does
    anything about one project's own key (each brings its own): its refusal, or a 429 for its
    account's quota. Counted, one tenant's revoked or exhausted key would route every other
    tenant away from the model. The request still fails over."""
    failed = retryable(exc) or isinstance(exc, UpstreamError)
    own_key = exc.code == AUTH_FAILED_CODE or isinstance(exc, RateLimited)
    return False if failed and not own_key else None


async def _cancel(
    running: dict[asyncio.Task[T], Target], close: Callable[[T], Awaitable[None]]
) -> list[tuple[Target, T | None]]:
    """Cancel every running attempt: each one's target, with its value if it had finished."""
    tasks = list(running.items())
    running.clear()
    for task, _ in tasks:
        task.cancel()
    if not tasks:
        return []
    results = await asyncio.gather(*(task for task, _ in tasks), return_exceptions=True)
    out: list[tuple[Target, T | None]] = []
    for (_, target), result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException):
            out.append((target, None))
            continue
        await close(result)  # finished just before it could be cancelled
        out.append((target, result))
    return out
