"""The origin's response cache (completions' `ResponseCache`): exact, then semantic, lookups.

A lookup never fails a request: a backend that is down, slow or cooling down after a failure
turns the lookup into a bypass (the provider answers, the receipt says `bypass`, a counter
goes up). A hit answers with the stored completion, JSON or replayed as SSE, and writes its
usage row through the ledger. Storing happens in a background task after the response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol

from starlette.responses import Response

from origin.cache.config import CacheConfig
from origin.cache.exact import ExactStore, LayerDown
from origin.cache.health import Breaker, CacheStats
from origin.cache.hit_answer import hit_answer
from origin.cache.lookup import CacheableCall
from origin.cache.pair_verifier import PairVerifier, first_stored
from origin.cache.purge import Purger
from origin.cache.purge_log import PurgeRecorder
from origin.cache.semantic import SemanticIndex
from origin.observability.metrics import Metrics
from origin.providers.base import Completion
from shared.cache_entry import CacheEntry, cacheable, question_preview
from shared.errors import InvalidRequest
from shared.fingerprint import fingerprint, semantic_scope
from shared.options import RequestOptions
from shared.semantic_guard import (
    Candidate,
    accepted_candidates,
    cosine_from_score,
    semantic_eligible,
)
from shared.usage import UsageRow

log = logging.getLogger("prism.cache")


class RowSink(Protocol):
    def record(self, row: UsageRow) -> None: ...


class PrismCache:
    def __init__(
        self,
        config: CacheConfig,
        exact: ExactStore,
        semantic: SemanticIndex | None,
        ledger: RowSink,
        recorder: PurgeRecorder,
        metrics: Metrics,
        verifier: PairVerifier | None = None,
    ) -> None:
        self.config, self.exact, self.semantic = config, exact, semantic
        self.verifier = verifier
        self.metrics = metrics
        self.purger = Purger(exact, semantic, recorder)
        self.stats = CacheStats()
        self._ledger = ledger
        self._redis = Breaker(config.cooldown_s)
        self._vector = Breaker(config.cooldown_s)
        self._tasks: set[asyncio.Task[None]] = set()

    def snapshot(self) -> dict[str, int | bool]:
        return self.stats.snapshot(redis=self._redis, vector=self._vector)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Let stores in flight finish (briefly), then close the backends."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        await self.exact.aclose()
        if self.semantic is not None:
            await self.semantic.aclose()

    async def lookup(
        self, call: CacheableCall, before_hit: Callable[[], Awaitable[None]] | None = None
    ) -> Response | None:
        """The hit's response, or None; `before_hit` runs (and may raise) before a hit is
        answered: spend control counts the hit against the caller's rate limits there."""
        if not call.options.cache_lookup:
            self.stats.bypass_requested += 1
            call.receipt.cache_status = "bypass"
            return None
        self.stats.lookups += 1
        project, body, options = call.caller.project_id, call.body, call.options
        try:
            key = call.cache_key = fingerprint(project, body, **_keying(options))
        except InvalidRequest:
            call.receipt.cache_status = "bypass"
            return None
        status = "miss"
        if self._redis.open:
            status = self._bypass("redis")
        else:
            try:
                entry = await self.exact.get(project, key)
            except LayerDown as exc:
                status = self._down("redis", exc)
            else:
                self._redis.succeeded()
                self.metrics.cache_lookup(layer="exact", hit=entry is not None)
                if entry is not None:
                    if before_hit is not None:
                        await before_hit()
                    self.stats.hits_exact += 1
                    return self._answer(call, entry, "hit-exact", None, key)
        if status == "miss" and self._semantic_applies(body):
            found = await self._semantic_lookup(call, before_hit)
            if isinstance(found, Response):
                return found
            status = found
        if status == "miss":
            self.stats.misses += 1
        call.receipt.cache_status = status
        return None

    def remember(self, call: CacheableCall, completion: Completion, model: str) -> None:
        if not call.options.cache_store:
            return
        if not cacheable(completion.body):
            self.stats.not_cacheable += 1
            return
        entry = CacheEntry(
            model=model,
            provider=call.receipt.provider,
            response=completion.body,
            usage=completion.usage,
            created_at=time.time(),
            tags=call.options.tags,
            question=question_preview(call.body),
        )
        self._spawn(
            self._store(call.caller.project_id, call.body, call.options, entry, call.cache_key)
        )

    def _semantic_applies(self, body: dict[str, Any]) -> bool:
        return (
            self.semantic is not None
            and self.config.semantic
            and semantic_eligible(body, self.config.max_user_turns)
        )

    async def _semantic_lookup(
        self, call: CacheableCall, before_hit: Callable[[], Awaitable[None]] | None
    ) -> Response | str:
        """A hit response, or the lookup's status ("miss" or "bypass")."""
        assert self.semantic is not None
        scoped = semantic_scope(call.caller.project_id, call.body, **_keying(call.options))
        if scoped is None:
            return "miss"
        if self._vector.open:
            return self._bypass("vector")
        scope, text = scoped
        project, threshold = call.caller.project_id, call.options.cache_threshold
        try:
            matches = await self.semantic.query(project, scope, text, self.config.top_k)
        except LayerDown as exc:
            return self._down("vector", exc)
        self._vector.succeeded()
        # Below the threshold down to the verifier's gate, a candidate the guard passes still
        # needs the verifier's yes; at or above it the guard alone decides, as at the edge.
        floor = threshold if self.verifier is None else min(threshold, self.verifier.gate)
        guarded = accepted_candidates(text, scope, matches, floor)
        self.stats.guard_rejections += _in_scope(matches, scope, floor) - len(guarded)
        try:
            found = await first_stored(
                self.verifier,
                text,
                guarded,
                threshold,
                self.config.verifier_timeout_s,
                partial(self._first_entry, project),
                self._verification,
            )
        except LayerDown as exc:
            self.metrics.cache_lookup(layer="semantic", hit=False)
            return self._down("redis", exc)
        if found is None:
            self.metrics.cache_lookup(layer="semantic", hit=False)
            return "miss"
        candidate, entry = found
        if before_hit is not None:
            await before_hit()
        self.stats.hits_semantic += 1
        self.metrics.cache_lookup(layer="semantic", hit=True)
        return self._answer(
            call, entry, "hit-semantic", candidate.similarity, candidate.fingerprint
        )

    def _verification(self, seconds: float, engine: str, outcome: str) -> None:
        self.metrics.verification(seconds=seconds, engine=engine, outcome=outcome)

    async def _first_entry(
        self, project: str, candidates: list[Candidate]
    ) -> tuple[Candidate, CacheEntry] | None:
        """The first candidate whose entry is still stored; expired ones leave the index."""
        entries = await self.exact.get_many(project, [c.fingerprint for c in candidates])
        stale = [c.fingerprint for c, e in zip(candidates, entries) if e is None]
        if stale:
            self.stats.stale_vectors += len(stale)
            self._spawn(self._forget_vectors(project, stale))
        return next(((c, e) for c, e in zip(candidates, entries) if e is not None), None)

    def _answer(
        self,
        call: CacheableCall,
        entry: CacheEntry,
        status: str,
        similarity: float | None,
        fingerprint: str,
    ) -> Response:
        response, row = hit_answer(call, entry, status, similarity, fingerprint)
        self._ledger.record(row)
        call.recorded = True
        return response

    async def _store(
        self,
        project: str,
        body: dict[str, Any],
        options: RequestOptions,
        entry: CacheEntry,
        key: str | None,
    ) -> None:
        try:
            if key is None:  # the lookup was skipped (X-Prism-Cache: no-lookup)
                key = fingerprint(project, body, **_keying(options))
            await self.exact.put(project, key, entry, options.cache_ttl_s)
            if self._semantic_applies(body):
                scoped = semantic_scope(project, body, **_keying(options))
                if scoped is not None and self.semantic is not None:
                    await self.semantic.upsert(project, key, scoped[0], scoped[1])
        except (LayerDown, InvalidRequest) as exc:
            self.stats.store_failures += 1
            log.warning("response not cached: %s", exc)
            return
        self.stats.stored += 1

    async def _forget_vectors(self, project: str, fingerprints: list[str]) -> None:
        # Their exact entries expired or were purged; the vectors would only cost lookups.
        assert self.semantic is not None
        try:
            await self.semantic.delete(project, fingerprints)
        except LayerDown as exc:
            log.info("stale vectors kept for now: %s", exc)

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _bypass(self, layer: str) -> str:
        if layer == "redis":
            self.stats.bypass_redis += 1
        else:
            self.stats.bypass_vector += 1
        return "bypass"

    def _down(self, layer: str, exc: LayerDown) -> str:
        (self._redis if layer == "redis" else self._vector).failed()
        log.warning("cache %s unavailable, answering without it: %s", layer, exc)
        return self._bypass(layer)


def _keying(options: RequestOptions) -> dict[str, Any]:
    """What besides the body keys an entry: must match the edge's lookups exactly."""
    return {
        "mode": options.mode,
        "model_prefer": options.model_prefer,
        "version": options.cache_version,
    }


def _in_scope(matches: list[tuple[str, float, Any]], scope: str, floor: float) -> int:
    """How many matches were similar enough to be candidates, in the request's scope."""
    return sum(
        1
        for _, score, meta in matches
        if cosine_from_score(score) >= floor
        and isinstance(meta, dict)
        and meta.get("scope") == scope
    )
