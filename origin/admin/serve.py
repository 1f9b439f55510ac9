"""`prism serve`: the origin on uvicorn (httptools parser, uvloop loop), in one process or in N
worker processes.

Why uvicorn and not Hypercorn: on one worker Hypercorn's pure-Python HTTP/1.1 handling (h11
and its per-event bookkeeping) costs 0.35-0.5 ms of CPU per request with an empty app, which
caps a worker near 2,500 requests/s; uvicorn's C parser costs about 0.1 ms (bench/README.md,
`python -m bench.ceiling`). The app is plain ASGI, so nothing else changes.

With N workers uvicorn's supervisor owns the listening socket and spawns the workers, each
building its own app. Workers share the data directory: each ledger claims its own outbox
file (origin.ledger.slots), so they never share counters or rows.

Stopping: signal the process (Ctrl-C, SIGTERM). Each worker stops accepting, finishes what it
is answering (for at most PRISM_SHUTDOWN_GRACE_S; streams still open then are cut), then runs the app's lifespan shutdown (the ledger
persists and flushes). A worker never outlives its supervisor: if the supervisor is killed
outright, the kernel kills the workers too (PR_SET_PDEATHSIG); rows they had persisted are
adopted at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any, Final

import uvicorn
from starlette.applications import Starlette

from origin.admin.http_protocol import BoundedHeadProtocol
from origin.settings import Settings

WORKER_APP: Final = "origin.admin.serve:worker_app"
_PR_SET_PDEATHSIG: Final = 1


def serve(settings: Settings, workers: int = 1) -> int:
    """Run until Ctrl-C or SIGTERM; returns the exit code."""
    if workers <= 1:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve_one(settings))
        return 0
    from origin.observability.multiproc import shared_by_workers

    with shared_by_workers(settings.data_dir):
        uvicorn.run(WORKER_APP, factory=True, workers=workers, **_options(settings))
    return 0


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": BoundedHeadProtocol,  # httptools, with a bound on a request's head
        "ws": "none",
        "lifespan": "on",
        # Our own access log (origin.observability) has the request id, cost and cache status;
        # uvicorn's error log goes through the root logger so it shares our format.
        "access_log": False,
        "log_config": None,
        "server_header": False,
        # The client address is the socket's: X-Forwarded-For is the edge's to interpret, and
        # trusting it here would let any local client pick the address bad-key slowdowns use.
        "proxy_headers": False,
        # A stream may run for minutes: how long one may finish is the operator's call.
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }


class _OwnSignals(uvicorn.Server):
    """A server whose signals the caller handles: uvicorn's own capture re-raises SIGTERM after
    shutdown, which would end `prism serve` by the signal instead of with its exit code."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_for(app: Starlette, settings: Settings) -> uvicorn.Server:
    """`app` served as `prism serve` serves the origin; its caller handles the signals."""
    return _OwnSignals(uvicorn.Config(app, **_options(settings)))


async def _serve_one(settings: Settings) -> None:
    from origin.app import create_app

    server = server_for(create_app(settings), settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    await server.serve()


def worker_app() -> Starlette:
    """The app as one of N workers builds it (uvicorn calls this in each worker)."""
    from origin.app import create_app

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
