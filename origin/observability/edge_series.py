"""The edge's cache counters in /metrics: read from Redis at scrape time, shown with tier="edge".

Edge hits never reach the origin, so the edge counts them in one Redis hash
(shared.edge_metrics) and each scrape reads it once, with a short timeout: a Redis that is
down or slow costs the scrape the edge series, never the scrape. Every worker reads the same
hash, so the numbers are right with any number of workers (they are not summed per process).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from typing import Final

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample
from redis.exceptions import RedisError

from shared import edge_metrics
from shared.edge_metrics import EdgeCounts
from shared.usage import CACHE_TASK_TYPE

log = logging.getLogger("prism.metrics")

TIER: Final = "edge"
READ_TIMEOUT_S: Final = 0.25


class EdgeCounters:
    """Reads the edge's counters; one connection pool for the life of the process."""

    def __init__(self, redis_url: str, timeout_s: float = READ_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._redis = aioredis.Redis.from_url(
            redis_url,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )

    async def read(self) -> EdgeCounts | None:
        """The counters, or None when Redis did not answer in time."""
        try:
            fields = await asyncio.wait_for(self._redis.hgetall(edge_metrics.KEY), self._timeout_s)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("edge cache counters left out of this scrape: %s", exc)
            return None
        return edge_metrics.parse_counts({str(k): str(v) for k, v in fields.items()})

    async def aclose(self) -> None:
        await self._redis.aclose()


def edge_samples(counts: EdgeCounts) -> dict[str, tuple[str, str, list[Sample]]]:
    """Per metric family (the name prometheus-client gives it): type, help, the edge's samples.

    The names and labels are the origin's own (observability.metrics), so a query over a
    metric covers both tiers and `tier` tells them apart.
    """
    lookups = [
        Sample("prism_cache_lookups_total", {"layer": layer, "tier": TIER}, float(n))
        for layer, n in sorted(counts.lookups.items())
    ]
    hits = [
        Sample("prism_cache_hits_total", {"layer": layer, "tier": TIER}, float(n))
        for layer, n in sorted(counts.hits.items())
    ]
    requests = [
        Sample(
            "prism_requests_total",
            {"status": "200", "mode": mode, "task_type": CACHE_TASK_TYPE, "cache_status": status},
            float(n),
        )
        for (mode, status), n in sorted(counts.requests.items())
    ]
    saved = [
        Sample(
            "prism_saved_cents_total", {"source": "cache", "tier": TIER}, float(counts.saved_cents)
        )
    ]
    return {
        "prism_cache_lookups": ("counter", "Response-cache lookups by layer and tier.", lookups),
        "prism_cache_hits": ("counter", "Response-cache hits by layer and tier.", hits),
        "prism_requests": ("counter", "Requests answered.", requests),
        "prism_saved_cents": ("counter", "What caching saved, in cents.", saved),
    }


def merged_registry(families: Iterable[Metric], counts: EdgeCounts) -> CollectorRegistry:
    """A registry exposing `families` with the edge's samples added to the families they
    belong to (a family may appear only once in the text format)."""
    extra = edge_samples(counts)
    merged: list[Metric] = []
    for family in families:
        if family.name in extra:
            family.samples.extend(extra.pop(family.name)[2])
        merged.append(family)
    for name, (kind, documentation, samples) in extra.items():
        if samples:
            family = Metric(name, documentation, kind)
            family.samples = samples
            merged.append(family)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(merged))
    return registry


class _Fixed:
    """A collector that yields families already collected (for one scrape)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)
