"""Finding a stored answer for a chat request: the exact layer, then the semantic one.

Both layers are read exactly as the origin reads them, through the same shared functions and
constants, so a request hits at the edge precisely when it would hit at the origin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from edge.chat import ChatRequest
from edge.upstash import UpstashRedis
from edge.vector import UpstashVector
from shared.cache_entry import CacheEntry, exact_key, vector_namespace
from shared.fingerprint import fingerprint, semantic_scope
from shared.semantic_guard import (
    DEFAULT_MAX_USER_TURNS,
    DEFAULT_TOP_K,
    accepted_candidates,
    scope_filter,
    semantic_eligible,
)

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
) -> Hit | None:
    """The stored answer for `chat` in `project_id`'s cache, or None for a miss.

    Raises InvalidRequest for a body the shared fingerprint refuses, BackendError when a store
    fails; either way the caller leaves the request to the origin. With `confirm`, its record
    is read in the same round trip as the exact entry, and nothing is found unless it accepts.
    """
    options = chat.options
    mode, prefer, version = options.mode, options.model_prefer, options.cache_version
    digest = fingerprint(project_id, chat.body, mode=mode, model_prefer=prefer, version=version)
    key = exact_key(project_id, digest)
    if confirm is None:
        stored_entry = await redis.command("GET", key)
    else:
        stored_entry, record = await redis.pipeline([["GET", key], ["GET", confirm.record_name]])
        if not confirm.accept(record):
            return None
    entry = CacheEntry.loads(stored_entry if isinstance(stored_entry, str) else None)
    if entry is not None:
        return Hit(entry, HIT_EXACT, fingerprint=digest)
    if vector is None or not semantic_eligible(chat.body, DEFAULT_MAX_USER_TURNS):
        return None
    scope = semantic_scope(project_id, chat.body, mode=mode, model_prefer=prefer, version=version)
    if scope is None:
        return None
    scope_key, text = scope
    matches = await vector.query_data(
        vector_namespace(project_id), text, DEFAULT_TOP_K, scope_filter(scope_key)
    )
    candidates = accepted_candidates(text, scope_key, matches, options.cache_threshold)
    if not candidates:
        return None
    # The vector only points at the answer; it is always read from the exact entry, which
    # may have expired or been purged since.
    keys = [exact_key(project_id, c.fingerprint) for c in candidates]
    stored = await redis.command("MGET", *keys)
    if not isinstance(stored, list):
        return None
    for candidate, text_or_none in zip(candidates, stored):
        entry = CacheEntry.loads(text_or_none if isinstance(text_or_none, str) else None)
        if entry is not None:
            return Hit(entry, HIT_SEMANTIC, candidate.similarity, candidate.fingerprint)
    return None
