"""Rate limits for the cache hits the edge answers: the origin's counters, one Upstash call.

The edge runs the origin's admit script (shared.spend_scripts) in its "config" mode: the script
reads the limits the origin published for the project and counts the hit into the very keys the
origin counts misses into; it also reads the published budgets covering the hit's tags, for its
budget headers (a hit spends nothing, so nothing is reserved). Nothing published means the origin has never loaded the project's
policy (or Redis lost it; the origin republishes on its next load): the hit is served uncounted.
If Upstash fails, the edge does not answer: the request goes to the origin, which enforces the
limits itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from edge.rest import BackendError
from edge.upstash import UpstashRedis
from shared import headers as H
from shared.budget_headers import remaining_cents, scope_label, warning
from shared.errors import LimitExceeded
from shared.limits import (
    limit_keys,
    limit_refusal,
    limits_config_key,
    period_starts,
    state_headers,
    window_ttls_ms,
)
from shared.spend_scripts import ADMIT, ADMIT_SHA
from shared.usage import Caller


@dataclass(frozen=True)
class Counted:
    """The hit was counted: the x-ratelimit-* headers to send with it (none without limits)."""

    headers: dict[str, str]


async def count_hit(
    redis: UpstashRedis,
    caller: Caller,
    request_id: str,
    tokens: int,
    tags: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Counted | None:
    """Count a cache hit; None when the edge can't (the origin should answer instead).

    Raises LimitExceeded when a limit is reached: the edge answers that 429 itself.
    """
    now = now or datetime.now(UTC)
    keys = [limits_config_key(caller.project_id)]
    keys += limit_keys(caller.project_id, caller.api_key_id, now)
    ttls = window_ttls_ms(now)
    args: list[str | int] = [int(now.timestamp() * 1000), request_id, 0, "config"]
    args += [caller.api_key_id or "", tokens, 8, "", ",".join(map(str, ttls))]
    args += [period_starts(now), json.dumps(dict(tags or {}), separators=(",", ":"))]
    try:
        reply = await _evalsha(redis, keys, args)
    except BackendError:
        return None
    if reply == ["noconfig"]:
        return Counted({})
    if not isinstance(reply, list) or not reply or reply[0] not in ("ok", "limit"):
        return None
    resets = [ms / 1000 for ms in ttls]
    if reply[0] == "limit":
        slot = int(reply[1]) - 1
        raise limit_refusal(slot, int(reply[3]), int(reply[2]), resets[slot], tokens)
    counts, limits = [int(v) for v in reply[1:9]], [int(v) for v in reply[9:17]]
    headers = state_headers(limits, counts, resets)
    headers.update(budget_headers(reply[17:]))
    return Counted(headers)


def budget_headers(readings: list[object]) -> dict[str, str]:
    """The budget headers of a hit from the script's readings (10 fields a budget): it costs
    nothing, so what is left is the limit less what is spent and reserved, as the origin says
    for a hit it answers."""
    remaining: int | None = None
    warnings = []
    for at in range(0, len(readings) - 9, 10):
        bid, tag_key, tag_value, period, action, limit, warn_at, cents, spent, held = [
            str(v) for v in readings[at : at + 10]
        ]
        left = int(limit) - int(spent) - int(held)
        remaining = left if remaining is None else min(remaining, left)
        if int(spent) >= int(warn_at):
            scope = scope_label((tag_key, tag_value) if tag_key else None)
            warnings.append(warning(bid, scope, period, action, Decimal(cents), int(spent)))
    out = {}
    if remaining is not None:
        out[H.BUDGET_REMAINING_CENTS] = remaining_cents(remaining)
    if warnings:
        out[H.BUDGET_WARNING] = ", ".join(warnings)
    return out


async def _evalsha(redis: UpstashRedis, keys: list[str], args: list[str | int]) -> object:
    try:
        return await redis.command("EVALSHA", ADMIT_SHA, len(keys), *keys, *args)
    except BackendError as exc:
        if "NOSCRIPT" not in str(exc):
            raise
    # First use after Redis lost its scripts: send the text once, later calls use the digest.
    return await redis.command("EVAL", ADMIT, len(keys), *keys, *args)


__all__ = ["Counted", "LimitExceeded", "count_hit"]
