"""Building the cache from the origin's settings: what app.py and the CLI call."""

from __future__ import annotations

import logging

from origin.cache.config import CacheConfig
from origin.cache.exact import ExactStore
from origin.cache.pair_verifier import load_verifier
from origin.cache.purge_log import PurgeLog
from origin.cache.response_cache import PrismCache, RowSink
from origin.cache.semantic import SemanticIndex
from origin.observability.metrics import Metrics
from origin.settings import Settings
from origin.store import Store

log = logging.getLogger("prism.cache")


def build_cache(
    settings: Settings,
    ledger: RowSink,
    store: Store,
    metrics: Metrics,
    config: CacheConfig | None = None,
) -> PrismCache | None:
    """The response cache, or None when PRISM_CACHE=off. Without vector settings the
    semantic layer is off and the exact layer still works."""
    config = config or CacheConfig.from_settings(settings)
    if not config.enabled:
        return None
    exact = ExactStore(settings.redis_url, config.redis_timeout_s, config.store_timeout_s)
    semantic = semantic_index(settings, config)
    verifier = (
        load_verifier(config.verifier_memory_bytes, config.verifier_engine)
        if semantic is not None and config.verifier
        else None
    )
    return PrismCache(config, exact, semantic, ledger, PurgeLog(store), metrics, verifier)


def semantic_index(settings: Settings, config: CacheConfig) -> SemanticIndex | None:
    if not (settings.vector_url and settings.vector_token and config.semantic):
        log.info("semantic cache off: UPSTASH_VECTOR_REST_URL/TOKEN not set or disabled")
        return None
    return SemanticIndex(
        settings.vector_url,
        settings.vector_token.reveal(),
        config.vector_timeout_s,
        config.store_timeout_s,
    )
