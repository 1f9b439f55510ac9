"""The origin's shutdown is bounded: a dependency whose close hangs is abandoned, and the
closes after it (the ledger's among them) still run."""

from __future__ import annotations

import asyncio

from origin.background import BoundedExitStack


async def test_a_hanging_close_is_abandoned_and_the_rest_still_close() -> None:
    closed: list[str] = []
    never = asyncio.Event()

    async def close(name: str) -> None:
        closed.append(name)

    async def hang_and_ignore_cancellation() -> None:
        while not never.is_set():
            try:
                await never.wait()
            except asyncio.CancelledError:
                continue  # the worst case: a library that swallows its cancellation

    stack = BoundedExitStack(step_timeout_s=0.2)
    stack.push_async_callback(close, "ledger")  # pushed first: closed last
    stack.push_async_callback(hang_and_ignore_cancellation)
    stack.push_async_callback(close, "cache")
    try:
        await asyncio.wait_for(stack.aclose(), 10)
    finally:
        never.set()  # let the abandoned close end with the test
    assert closed == ["cache", "ledger"]
