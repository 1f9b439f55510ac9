"""After an edge hit: its usage row to Supabase (or the durable queue), and the hit counters
(the project's daily ones and the deployment's for /metrics, in one pipeline).

Runs in waitUntil, after the client has its answer. The row goes straight into usage_logs
through PostgREST; if that fails or is slow, it is pushed onto an Upstash Redis list that the
origin drains into the same table (origin/ledger/edge_queue.py). Both paths are idempotent on
request_id, so a row that arrives both ways is stored once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from edge.backends import USAGE_TIMEOUT_S, Backends
from edge.rest import BackendError
from shared import edge_metrics
from shared.usage import UsageRow

log = logging.getLogger("prism.edge.usage")

QUEUE_KEY: Final = "prism:usage-queue"
# Pushing onto the queue is the row's last chance, so a failed push is retried a few times
# within the time the runtime grants waitUntil work.
QUEUE_ATTEMPTS: Final = 3
QUEUE_RETRY_S: Final = 0.5
# Daily counters are for dashboards; they expire rather than pile up forever.
STATS_TTL_S: Final = 90 * 24 * 3600
_MICRO: Final = Decimal(1_000_000)


def stats_key(project_id: str, day: str) -> str:
    return f"prism:edge-stats:{project_id}:{day}"


async def record_hit(backends: Backends, row: UsageRow) -> None:
    """Deliver the row, then count the hit; neither step can stop the other."""
    await deliver_row(backends, row.to_json())
    await count_hit(backends, row)


async def deliver_row(backends: Backends, row: dict[str, Any]) -> None:
    if backends.supabase is not None:
        try:
            await backends.supabase.insert_usage(row, USAGE_TIMEOUT_S)
            return
        except BackendError as exc:
            log.warning("usage row %s not written (%s); queueing it", row["request_id"], exc)
    await enqueue_row(backends, row)


async def enqueue_row(backends: Backends, row: dict[str, Any]) -> None:
    if backends.redis is None:
        log.error("usage row %s lost: no Upstash Redis binding for the queue", row["request_id"])
        return
    payload = json.dumps(row, separators=(",", ":"))
    for attempt in range(1, QUEUE_ATTEMPTS + 1):
        try:
            await backends.redis.command("LPUSH", QUEUE_KEY, payload, timeout_s=USAGE_TIMEOUT_S)
            return
        except BackendError as exc:
            if attempt == QUEUE_ATTEMPTS:
                log.error(
                    "usage row %s lost: queue unreachable: %s: %s", row["request_id"], exc, payload
                )
                return
            await asyncio.sleep(QUEUE_RETRY_S * attempt)


async def count_hit(backends: Backends, row: UsageRow) -> None:
    if backends.redis is None:
        return
    key = stats_key(row.project_id, datetime.now(UTC).strftime("%Y-%m-%d"))
    saved = int((row.cache_saved_cents * _MICRO).to_integral_value(ROUND_HALF_UP))
    kind = "hits_semantic" if "semantic" in row.cache_status else "hits_exact"
    commands: list[list[str | int]] = [
        ["HINCRBY", key, "hits", 1],
        ["HINCRBY", key, kind, 1],
        ["HINCRBY", key, "saved_microcents", saved],
        ["EXPIRE", key, STATS_TTL_S],
        # The deployment's counters for /metrics (never expire: they are monotonic counters).
        *edge_metrics.count_hit(row.mode, row.cache_status, row.cache_saved_cents),
    ]
    try:
        await backends.redis.pipeline(commands, timeout_s=USAGE_TIMEOUT_S)
    except BackendError as exc:
        # Counters are a convenience; the rows are the record of truth.
        log.warning("edge hit counters not updated: %s", exc)
