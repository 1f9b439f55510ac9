"""Keeps the local stack's server processes up, as a platform would: a service that dies is
started again, and the terminal says so.

Without it, `make run` kept running after, say, the edge process died, and every later request
to that port was refused with nothing on screen to explain why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from infra.local.proc import Service

POLL_S: Final = 0.5
# A service that dies straight after starting again waits this long, doubling up to the cap,
# so a broken one does not spin the machine while it keeps being retried.
FIRST_BACKOFF_S: Final = 1.0
MAX_BACKOFF_S: Final = 30.0
# Running this long since its last start means a service is healthy again: backoff resets.
HEALTHY_AFTER_S: Final = 30.0
START_TIMEOUT_S: Final = 90.0


@dataclass
class _Watch:
    service: Service
    backoff_s: float = FIRST_BACKOFF_S
    started_at: float = 0.0
    retry_at: float = 0.0
    restarts: int = field(default=0)


class Supervisor:
    def __init__(
        self,
        services: Sequence[Service],
        say: Callable[[str], None] = lambda line: print(line, flush=True),
        poll_s: float = POLL_S,
    ) -> None:
        self._watches = [_Watch(s) for s in services]
        self._say = say
        self._poll_s = poll_s

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop` is set; the caller stops the services afterwards."""
        loop = asyncio.get_running_loop()
        for watch in self._watches:
            watch.started_at = loop.time()
        while not stop.is_set():
            for watch in self._watches:
                if stop.is_set():
                    return
                await self._check(watch, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_s)

    async def _check(self, watch: _Watch, now: float) -> None:
        proc = watch.service.proc
        if proc is not None and proc.poll() is None:
            if now - watch.started_at > HEALTHY_AFTER_S:
                watch.backoff_s = FIRST_BACKOFF_S
            return
        if now < watch.retry_at:
            return
        name = watch.service.name
        if proc is not None:
            self._say(f"prism: {name} exited with code {proc.returncode}; restarting it")
        watch.service.proc = None
        try:
            await asyncio.to_thread(watch.service.start, START_TIMEOUT_S)
        except (OSError, RuntimeError, TimeoutError) as exc:
            watch.retry_at = now + watch.backoff_s
            self._say(
                f"prism: {name} did not start again ({exc}); retrying in {watch.backoff_s:g}s"
            )
            watch.backoff_s = min(MAX_BACKOFF_S, watch.backoff_s * 2)
            return
        watch.restarts += 1
        watch.started_at = asyncio.get_running_loop().time()
        watch.retry_at = watch.started_at + watch.backoff_s
        watch.backoff_s = min(MAX_BACKOFF_S, watch.backoff_s * 2)
        pid = watch.service.proc.pid if watch.service.proc else "?"
        self._say(f"prism: {name} restarted (pid {pid}), listening on {watch.service.url}")
