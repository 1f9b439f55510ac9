"""The policy audit trail: every change to a budget or limit, and every time one fired.

Firings happen on the request path, so they are queued and written in the background; a
database outage keeps them queued (bounded) until it is back. Changes are written directly
by the admin API and the CLI through `record_now`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from origin.store import Store, StoreError, StoreUnavailable

log = logging.getLogger("prism.spend")

MAX_QUEUED = 10_000


def audit_row(
    project_id: str, actor: str, event: str, subject: str | None, detail: dict[str, Any]
) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "actor": actor,
        "event": event,
        "subject": subject,
        "detail": detail,
    }


async def record_now(
    store: Store,
    project_id: str,
    actor: str,
    event: str,
    subject: str | None,
    detail: dict[str, Any],
) -> None:
    await store.insert_policy_audit([audit_row(project_id, actor, event, subject, detail)])


class AuditLog:
    def __init__(self, store: Store, interval_s: float = 0.5) -> None:
        self._store, self._interval_s = store, interval_s
        self._queue: deque[dict[str, Any]] = deque(maxlen=MAX_QUEUED)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def fired(self, project_id: str, event: str, subject: str, detail: dict[str, Any]) -> None:
        self._queue.append(audit_row(project_id, "gateway", event, subject, detail))
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()

    async def flush(self) -> None:
        rows = list(self._queue)
        if not rows:
            return
        try:
            await self._store.insert_policy_audit(rows)
        except StoreUnavailable as exc:
            log.warning("policy audit rows kept for later, the database is down: %s", exc)
            return
        except StoreError as exc:
            log.error("policy audit rows refused by the database, dropped: %s", exc.message)
        for _ in rows:
            self._queue.popleft()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await asyncio.sleep(self._interval_s)
            if self._queue:  # a write failed: try again next round
                self._wake.set()
