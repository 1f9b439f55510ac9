"""Each project's budgets and limits, cached in-process and published to Redis for the edge.

Reading them from Supabase on every request would put a database round trip on the hot path,
so a project's policy is kept for `ttl_s` (a change made through another process takes effect
within that time plus one read; one made through this process's admin API at once). An expired
policy keeps applying while it is read again in the background (origin.revalidating), so a
database that hangs holds no request; while the database is down the last policy read keeps
applying. Every load also publishes the project's limits to Redis, where the edge's script
reads them.
"""

from __future__ import annotations

import asyncio
import logging

from origin.revalidating import Revalidating
from origin.spend.counters import Counters, CountersDown
from origin.spend.policy import ProjectPolicy
from origin.store import Store
from shared.limits import limits_config_key

log = logging.getLogger("prism.spend")


class Policies:
    def __init__(self, store: Store, counters: Counters, ttl_s: float = 10.0) -> None:
        self._store, self._counters = store, counters
        self._cache = Revalidating("budgets and limits", self._load, ttl_s)
        self._tasks: set[asyncio.Task[None]] = set()

    async def for_project(self, project_id: str) -> ProjectPolicy:
        return await self._cache.get(project_id)

    def forget(self, project_id: str) -> None:
        """Drop a cached policy, e.g. right after an admin change on this process."""
        self._cache.forget(project_id)

    async def reload(self, project_id: str) -> None:
        """Apply a change made on this process at once (and republish the limits for the edge);
        other processes load it within their cache's TTL."""
        self.forget(project_id)
        await self.for_project(project_id)

    def known(self) -> dict[str, ProjectPolicy]:
        """Every policy this process has loaded: what periodic reconciliation walks."""
        return self._cache.known()

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
        await self._cache.aclose()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
