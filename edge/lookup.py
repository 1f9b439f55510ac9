"""Finding a stored answer for a chat request: the exact layer, then the semantic one.

Both layers are read exactly as the origin reads them, through the same shared functions and
constants, so a request hits at the edge precisely when it would hit at the origin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from edge.backends import USAGE_TIMEOUT_S
from edge.chat import ChatRequest
from edge.context import Background
from edge.rest import BackendError
from edge.upstash import Command, UpstashRedis
from edge.vector import UpstashVector
from shared.cache_entry import CacheEntry, exact_key, vector_namespace
from shared.edge_metrics import count_lookup
from shared.fingerprint import fingerprint, semantic_scope
from shared.semantic_guard import (
    DEFAULT_MAX_USER_TURNS,
    DEFAULT_TOP_K,
    accepted_candidates,
    scope_filter,
    semantic_eligible,
)
from shared.semantic_verify import reordered

log = logging.getLogger("prism.edge.lookup")

HIT_EXACT: Final = "hit-exact-edge"
HIT_SEMANTIC: Final = "hit-semantic-edge"


@dataclass(frozen=True)
class Confirmation:
    """A key record to read in the exact lookup's round trip, and whether it lets us answer."""

    record_name: str
    accept: Callable[[Any], bool]


@dataclass(frozen=True)
class Hit:
    entry: CacheEntry
    status: str
    similarity: float | None = None  # cosine, on semantic hits
    fingerprint: str | None = None  # the entry's key, recorded on the usage row


async def find_hit(
    project_id: str,
    chat: ChatRequest,
    redis: UpstashRedis,
    vector: UpstashVector | None,
    confirm: Confirmation | None = None,
    background: Background | None = None,
) -> Hit | None:
    """The stored answer for `chat` in `project_id`'s cache, or None for a miss.

    Raises InvalidRequest for a body the shared fingerprint refuses, BackendError when a store
    fails; either way the caller leaves the request to the origin. With `confirm`, its record
    is read in the same round trip as the exact entry, and nothing is found unless it accepts.
    Each lookup is counted for /metrics (shared.edge_metrics) in a round trip it makes anyway;
    only a semantic lookup with no candidate, which needs no Redis, is counted in `background`.
    """
    options = chat.options
    mode, prefer, version = options.mode, options.model_prefer, options.cache_version
    digest = fingerprint(project_id, chat.body, mode=mode, model_prefer=prefer, version=version)
    key = exact_key(project_id, digest)
    commands: list[Command] = [["GET", key], count_lookup("exact")]
    if confirm is None:
        stored_entry, _ = await redis.pipeline(commands)
    else:
        stored_entry, _, record = await redis.pipeline([*commands, ["GET", confirm.record_name]])
        if not confirm.accept(record):
            return None
    entry = CacheEntry.loads(stored_entry if isinstance(stored_entry, str) else None)
    if entry is not None:
        return Hit(entry, HIT_EXACT, fingerprint=digest)
    if vector is None or not semantic_eligible(chat.body, DEFAULT_MAX_USER_TURNS):
        return None
    return await _semantic_hit(project_id, chat, redis, vector, background)


async def _semantic_hit(
    project_id: str,
    chat: ChatRequest,
    redis: UpstashRedis,
    vector: UpstashVector,
    background: Background | None,
) -> Hit | None:
    """The semantic layer's answer for a request the exact layer missed, or None."""
    options = chat.options
    mode, prefer, version = options.mode, options.model_prefer, options.cache_version
    scope = semantic_scope(project_id, chat.body, mode=mode, model_prefer=prefer, version=version)
    if scope is None:
        return None
    scope_key, text = scope
    matches = await vector.query_data(
        vector_namespace(project_id), text, DEFAULT_TOP_K, scope_filter(scope_key)
    )
    candidates = [
        c
        for c in accepted_candidates(text, scope_key, matches, options.cache_threshold)
        # Only reordered words ("a manager fire an employee" / "an employee fire a manager"):
        # the origin's verifier judges those, the edge has none.
        if not reordered(text, c.question)
    ]
    if not candidates:
        if background is not None:
            background.wait_until(_count_later(redis, count_lookup("semantic")))
        return None
    # The vector only points at the answer; it is always read from the exact entry, which
    # may have expired or been purged since.
    keys = [exact_key(project_id, c.fingerprint) for c in candidates]
    stored, _ = await redis.pipeline([["MGET", *keys], count_lookup("semantic")])
    if not isinstance(stored, list):
        return None
    for candidate, text_or_none in zip(candidates, stored):
        entry = CacheEntry.loads(text_or_none if isinstance(text_or_none, str) else None)
        if entry is not None:
            return Hit(entry, HIT_SEMANTIC, candidate.similarity, candidate.fingerprint)
    return None


async def _count_later(redis: UpstashRedis, command: Command) -> None:
    try:
        await redis.command(*command, timeout_s=USAGE_TIMEOUT_S)
    except BackendError as exc:
        log.warning("edge lookup counter not updated: %s", exc)  # the metrics only, never a row
