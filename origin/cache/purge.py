"""Invalidation: purge a project's cached responses by key, by tag, or all of them.

Both layers are emptied: the exact entries and their index sets in Redis, and the vectors
pointing at them. Vectors only point at exact entries, so the purge is complete once Redis
is done; a vector store that fails meanwhile leaves only dead pointers, cleaned up lazily.
Every purge is recorded (PurgeLog), also when it removed nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from origin.cache.exact import ExactStore, LayerDown
from origin.cache.purge_log import PurgeRecorder
from origin.cache.semantic import SemanticIndex
from shared.cache_entry import exact_key, project_index_key, tag_key

log = logging.getLogger("prism.cache")


@dataclass(frozen=True)
class PurgeResult:
    project_id: str
    scope: str  # "key", "tag" or "project"
    target: str | None  # the fingerprint, "key=value", or None for the whole project
    removed: int  # cached responses deleted

    def to_json(self) -> dict[str, object]:
        return {
            "object": "cache.purge",
            "project_id": self.project_id,
            "scope": self.scope,
            "target": self.target,
            "removed": self.removed,
        }


class Purger:
    def __init__(
        self, exact: ExactStore, semantic: SemanticIndex | None, recorder: PurgeRecorder
    ) -> None:
        self._exact, self._semantic, self._recorder = exact, semantic, recorder

    async def by_key(self, project_id: str, fingerprint: str, actor: str) -> PurgeResult:
        removed = await self._purge(project_id, [fingerprint], [])
        return await self._record(PurgeResult(project_id, "key", fingerprint, removed), actor)

    async def by_tag(self, project_id: str, key: str, value: str, actor: str) -> PurgeResult:
        index = tag_key(project_id, key, value)
        members = sorted(await self._exact.members(index))
        removed = await self._purge(project_id, members, [index])
        return await self._record(PurgeResult(project_id, "tag", f"{key}={value}", removed), actor)

    async def by_project(self, project_id: str, actor: str) -> PurgeResult:
        entries = await self._exact.keys_matching(exact_key(project_id, "*"))
        removed = await self._exact.delete(entries)
        indexes = await self._exact.keys_matching(tag_key(project_id, "*", "*"))
        await self._exact.delete([*indexes, project_index_key(project_id)])
        if self._semantic is not None:
            try:
                await self._semantic.drop_project(project_id)
            except LayerDown as exc:
                log.warning("purge of project %s: vectors not dropped: %s", project_id, exc)
        return await self._record(PurgeResult(project_id, "project", None, removed), actor)

    async def _purge(self, project_id: str, fingerprints: list[str], extra: list[str]) -> int:
        """Delete entries and their index memberships; returns how many entries existed."""
        if not fingerprints:
            await self._exact.delete(extra)
            return 0
        entries = await self._exact.entries(project_id, fingerprints)
        indexes = {project_index_key(project_id)}
        for entry in entries:
            indexes.update(
                tag_key(project_id, k, v) for k, v in ((entry and entry.tags) or {}).items()
            )
        removed = await self._exact.delete([exact_key(project_id, f) for f in fingerprints])
        await self._exact.forget(sorted(indexes - set(extra)), fingerprints)
        await self._exact.delete(extra)
        if self._semantic is not None:
            try:
                await self._semantic.delete(project_id, fingerprints)
            except LayerDown as exc:
                log.warning("purge in project %s: vectors not deleted: %s", project_id, exc)
        return removed

    async def _record(self, result: PurgeResult, actor: str) -> PurgeResult:
        await self._recorder.record(
            project_id=result.project_id,
            actor=actor,
            scope=result.scope,
            target=result.target,
            removed=result.removed,
        )
        return result
