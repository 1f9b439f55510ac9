"""Each project's budgets and limits, cached in-process and published to Redis for the edge.

Reading them from Supabase on every request would put a database round trip on the hot path,
so a project's policy is kept for `ttl_s` (a change made through another process takes effect
within that time; one made through this process's admin API at once). While the database is
down the last policy read keeps applying. Every load also publishes the project's limits to
Redis, where the edge's script reads them.
"""

from __future__ import annotations

import asyncio
import logging
import time

from origin.spend.counters import Counters, CountersDown
from origin.spend.policy import ProjectPolicy
from origin.store import Store, StoreUnavailable
from shared.errors import UpstreamUnavailable
from shared.limits import limits_config_key

log = logging.getLogger("prism.spend")


class Policies:
    def __init__(self, store: Store, counters: Counters, ttl_s: float = 10.0) -> None:
        self._store, self._counters, self._ttl_s = store, counters, ttl_s
        self._cache: dict[str, tuple[float, ProjectPolicy]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def for_project(self, project_id: str) -> ProjectPolicy:
        cached = self._cache.get(project_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._locks.setdefault(project_id, asyncio.Lock()):
            cached = self._cache.get(project_id)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            try:
                policy = await self._load(project_id)
            except StoreUnavailable as exc:
                if cached is None:
                    raise UpstreamUnavailable(
                        "This project's budgets and limits can't be read right now; retry shortly.",
                        retry_after=1,
                    ) from exc
                policy = cached[1]
            self._cache[project_id] = (time.monotonic() + self._ttl_s, policy)
            return policy

    def forget(self, project_id: str) -> None:
        """Drop a cached policy, e.g. right after an admin change on this process."""
        self._cache.pop(project_id, None)

    def known(self) -> dict[str, ProjectPolicy]:
        """Every policy this process has loaded: what periodic reconciliation walks."""
        return {project: entry[1] for project, entry in self._cache.items()}

    async def _load(self, project_id: str) -> ProjectPolicy:
        budgets = await self._store.list_budgets(project_id)
        limits = await self._store.list_limits(project_id)
        policy = ProjectPolicy.from_rows(budgets, limits)
        task = asyncio.get_running_loop().create_task(self.publish(project_id, policy))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return policy

    async def publish(self, project_id: str, policy: ProjectPolicy) -> None:
        try:
            await self._counters.publish(limits_config_key(project_id), policy.edge_config())
        except CountersDown as exc:
            # The edge keeps the last published limits (or none) until the next load.
            log.warning("could not publish limits of project %s for the edge: %s", project_id, exc)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
