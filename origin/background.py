"""Bounded shutdown for background work: nothing we wait for at shutdown may wait forever.

A task can ignore its cancellation (a library that swallows CancelledError), and a close can
hang on a backend that accepted a connection and never answers. Shutdown waits for each a
bounded time, logs what it gave up on, and goes on: what was not delivered stays where the
next start finds it (an outbox, a processing list), so giving up loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("prism.shutdown")


async def stop_task(task: asyncio.Task[Any] | None, name: str, timeout_s: float) -> bool:
    """Cancel `task` and wait at most `timeout_s` for it to end; False if it would not."""
    if task is None:
        return True
    if not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=timeout_s)
    if not task.done():
        log.error(
            "%s ignored its cancellation for %.1fs; shutting down without it", name, timeout_s
        )
        return False
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("%s had failed: %r", name, exc)
    return True


async def bounded(work: Awaitable[Any], name: str, timeout_s: float) -> bool:
    """Await `work` for at most `timeout_s`; past that cancel it (bounded too) and return False.

    A task of its own rather than `asyncio.timeout`: a timeout only cancels, and work that
    swallows the cancellation would still hold us up.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if done:
        task.result()  # re-raise what it raised: the caller decides what an error means
        return True
    log.error("%s did not finish within %.1fs; abandoned", name, timeout_s)
    await stop_task(task, name, min(1.0, timeout_s))
    return False


class BoundedExitStack(contextlib.AsyncExitStack):
    """An exit stack whose every async close gets at most `step_timeout_s`: one that hangs
    is abandoned (and logged) and the closes pushed before it still run. The app's shutdown
    is then bounded whatever a dependency's close does, and the ledger still gets to close."""

    def __init__(self, step_timeout_s: float) -> None:
        super().__init__()
        self._step_timeout_s = step_timeout_s

    def push_async_callback(
        self, callback: Callable[..., Awaitable[Any]], /, *args: Any, **kwds: Any
    ) -> Callable[..., Awaitable[Any]]:
        name = getattr(callback, "__qualname__", repr(callback))

        async def closing() -> None:
            await bounded(callback(*args, **kwds), name, self._step_timeout_s)

        super().push_async_callback(closing)
        return callback
