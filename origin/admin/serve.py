"""`prism serve`: the origin on Hypercorn, in one process or in N worker processes.

With N workers Hypercorn's supervisor owns the listening socket and spawns the workers, each
building its own app. Workers share the data directory: each ledger claims its own outbox
file (origin.ledger.slots), so they never share counters or rows.

Stopping: signal the supervisor (Ctrl-C, SIGTERM). It tells the workers through a shared
event and each runs its lifespan shutdown (the ledger persists and flushes); workers ignore
the SIGTERM the supervisor sends right after, so that shutdown is not cut short. A worker
never outlives its supervisor: if the supervisor is killed outright, the kernel kills the
workers too (PR_SET_PDEATHSIG); rows they had persisted are adopted at the next start.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Final

from starlette.applications import Starlette

from origin.settings import Settings

if TYPE_CHECKING:
    from hypercorn.config import Config

WORKER_APP: Final = "origin.admin.serve:worker_app()"
WORKER_CLASS: Final = "uvloop"
_PR_SET_PDEATHSIG: Final = 1


def serve(settings: Settings, workers: int = 1) -> int:
    """Run until Ctrl-C or SIGTERM; returns the exit code."""
    if workers <= 1:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve_one(settings))
        return 0
    from hypercorn.run import run

    from origin.observability.metrics import shared_by_workers

    config = _config(settings)
    config.workers = workers
    config.application_path = WORKER_APP
    with shared_by_workers(settings.data_dir):
        return run(config)


def _config(settings: Settings) -> Config:
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    # uvloop's event loop: a quarter less CPU per cache miss than asyncio's (bench/README.md).
    config.worker_class = WORKER_CLASS
    # Our own access log (origin.observability) has the request id, cost and cache status;
    # Hypercorn's error log goes through the root logger so it shares our format.
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


async def _serve_one(settings: Settings) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from origin.app import create_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Our own trigger, so Ctrl-C runs the app's lifespan shutdown (the ledger flushes).
    app = create_app(settings)
    await hypercorn_serve(app, _config(settings), shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def worker_app() -> Starlette:
    """The app as one of N workers builds it (Hypercorn imports this in each worker)."""
    from origin.app import create_app

    # The supervisor's shared event drives shutdown; its SIGTERM would only cut it short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    return create_app()


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the supervisor died before the call took effect
        os._exit(1)
