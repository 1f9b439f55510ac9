"""The one definition of a usage_logs row, and the one builder both tiers use to make it.

Every request gets exactly one row. The origin writes rows for what it answered (and for
errors), the edge writes rows only for the cache hits it served; both call these builders,
so the same request produces the same row whichever tier wrote it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

from shared.options import RequestOptions
from shared.pricing import ZERO, Cost, TokenUsage, format_cents, routing_saving

# usage_logs' token columns are Postgres `integer` and its money columns numeric(18, 6): a
# count a provider reports beyond them is stored at the bound, and the row says so.
MAX_TOKEN_COLUMN = 2**31 - 1
MAX_CENTS_COLUMN = Decimal("999999999999.999999")
OUT_OF_RANGE_CODE = "usage_out_of_range"
CACHE_PROVIDER = "cache"  # sentinel provider of a row answered from Prism's cache
CACHE_TASK_TYPE = "cache"  # sentinel task type: no routing happened
CACHE_STATUSES = (
    "miss",
    "hit-exact",
    "hit-semantic",
    "hit-exact-edge",
    "hit-semantic-edge",
    "bypass",
)
COLUMNS = (
    "request_id",
    "org_id",
    "project_id",
    "api_key_id",
    "mode",
    "task_type",
    "model_used",
    "provider",
    "tokens_in",
    "tokens_out",
    "tokens_cache_read",
    "tokens_cache_write",
    "cost_provider_cents",
    "cost_total_cents",
    "latency_ms",
    "was_streaming",
    "success",
    "error_code",
    "usage_reported",
    "session_id",
    "cache_status",
    "cache_saved_cents",
    "native_cache_saved_cents",
    "request_tags",
    "reference_model",
    "routing_saved_cents",
    "cache_key",
    "created_at",
    "parent_request_id",
)


@dataclass(frozen=True)
class Caller:
    """Who sent the request, as resolved from their API key."""

    org_id: str
    project_id: str
    api_key_id: str | None = None


@dataclass(frozen=True)
class UsageRow:
    request_id: str
    org_id: str
    project_id: str
    api_key_id: str | None
    mode: str
    task_type: str
    model_used: str
    provider: str
    tokens_in: int
    tokens_out: int
    tokens_cache_read: int
    tokens_cache_write: int
    cost_provider_cents: Decimal
    cost_total_cents: Decimal
    latency_ms: int
    was_streaming: bool
    success: bool
    error_code: str | None
    usage_reported: bool
    session_id: str | None
    cache_status: str
    cache_saved_cents: Decimal
    native_cache_saved_cents: Decimal
    request_tags: dict[str, str] | None
    # Routing savings (shared/pricing.py, routing_saving): the model the request is priced
    # against and that price minus what was paid; None/0 when nothing was routed or billed.
    reference_model: str | None = None
    routing_saved_cents: Decimal = ZERO
    cache_key: str | None = None  # on cache hits: the fingerprint of the entry that answered
    # When the request was answered, not when the row reached the database: a row that waited
    # in an outbox or the edge's fallback queue still sorts where it happened.
    created_at: str = field(default_factory=lambda: _utc_now())
    # Set on rows that are part of another request (a hedge's loser, a fusion panel call).
    parent_request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as PostgREST takes it; money as decimal strings so nothing rounds."""
        # By COLUMNS (the fields, in order; tests hold them equal) rather than dataclasses.asdict,
        # whose recursive deep copy was most of this per-request cost; the tags are copied here.
        row: dict[str, Any] = {}
        for name in COLUMNS:
            value = getattr(self, name)
            row[name] = format_cents(value) if isinstance(value, Decimal) else value
        if self.request_tags is not None:
            row["request_tags"] = dict(self.request_tags)
        return row


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_request_id() -> str:
    """Time-ordered, unique id: sortable in logs, and the idempotency key of the row."""
    return f"req_{time.time_ns() // 1_000_000:013x}{secrets.token_hex(8)}"


def build_row(
    *,
    request_id: str,
    caller: Caller,
    options: RequestOptions,
    task_type: str,
    model_used: str,
    provider: str,
    usage: TokenUsage | None,
    cost: Cost | None,
    latency_ms: int,
    was_streaming: bool,
    success: bool = True,
    error_code: str | None = None,
    cache_status: str = "miss",
    requested_model: str | None = None,
    parent_request_id: str | None = None,
) -> UsageRow:
    """A row for a request a provider answered (or failed to); `requested_model` is the body's
    `model`, the price routing savings are measured against."""
    reference, routing_saved = routing_saving(
        requested_model, options.mode, usage if success else None, cost
    )
    usage = usage or TokenUsage(reported=False)
    stored_tokens, stored_cents, clamped = _bounded(usage, cost or Cost(ZERO, ZERO))
    return UsageRow(
        **_request_columns(request_id, caller, options),
        task_type=task_type,
        model_used=model_used,
        provider=provider,
        tokens_in=stored_tokens[0],
        tokens_out=stored_tokens[1],
        tokens_cache_read=stored_tokens[2],
        tokens_cache_write=stored_tokens[3],
        cost_provider_cents=stored_cents[0],
        cost_total_cents=stored_cents[0],
        latency_ms=max(0, int(latency_ms)),
        was_streaming=was_streaming,
        success=success,
        error_code=OUT_OF_RANGE_CODE if clamped and error_code is None else error_code,
        usage_reported=usage.reported and not clamped,
        cache_status=cache_status,
        cache_saved_cents=ZERO,
        native_cache_saved_cents=stored_cents[1],
        reference_model=reference,
        routing_saved_cents=min(routing_saved, MAX_CENTS_COLUMN),
        parent_request_id=parent_request_id,
    )


class _RequestColumns(TypedDict):
    request_id: str
    org_id: str
    project_id: str
    api_key_id: str | None
    mode: str
    session_id: str | None
    request_tags: dict[str, str] | None


def _request_columns(request_id: str, caller: Caller, options: RequestOptions) -> _RequestColumns:
    """Which request a row is about and whose it is: filled alike on every kind of row."""
    return _RequestColumns(
        request_id=request_id,
        org_id=caller.org_id,
        project_id=caller.project_id,
        api_key_id=caller.api_key_id,
        mode=options.mode,
        session_id=options.session_id,
        request_tags=options.tags,
    )


def _bounded(
    usage: TokenUsage, cost: Cost
) -> tuple[tuple[int, int, int, int], tuple[Decimal, Decimal], bool]:
    """Counts and cents as the columns can hold them, and whether any had to be clamped.

    Never a lost row for a call that was paid for: clamp, and flag the usage as not exact.
    """
    tokens = (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cache_read_tokens,
        usage.cache_writes,
    )
    cents = (cost.cents, cost.native_saved_cents)
    stored_tokens = (
        min(tokens[0], MAX_TOKEN_COLUMN),
        min(tokens[1], MAX_TOKEN_COLUMN),
        min(tokens[2], MAX_TOKEN_COLUMN),
        min(tokens[3], MAX_TOKEN_COLUMN),
    )
    stored_cents = (min(cents[0], MAX_CENTS_COLUMN), min(cents[1], MAX_CENTS_COLUMN))
    return stored_tokens, stored_cents, stored_tokens != tokens or stored_cents != cents


def build_cache_hit_row(
    *,
    request_id: str,
    caller: Caller,
    options: RequestOptions,
    model_used: str,
    usage: TokenUsage,
    saved: Cost,
    latency_ms: int,
    was_streaming: bool,
    cache_status: str,
    cache_key: str | None = None,
) -> UsageRow:
    """A row for a request Prism answered from its own cache: nothing billed, `saved` avoided."""
    if cache_status not in CACHE_STATUSES or not cache_status.startswith("hit-"):
        raise ValueError(f"not a cache-hit status: {cache_status!r}")
    tokens, cents, _ = _bounded(usage, Cost(saved.cents, ZERO))
    return UsageRow(
        **_request_columns(request_id, caller, options),
        task_type=CACHE_TASK_TYPE,
        model_used=model_used,
        provider=CACHE_PROVIDER,
        tokens_in=tokens[0],
        tokens_out=tokens[1],
        tokens_cache_read=0,
        tokens_cache_write=0,
        cost_provider_cents=ZERO,
        cost_total_cents=ZERO,
        latency_ms=max(0, int(latency_ms)),
        was_streaming=was_streaming,
        success=True,
        error_code=None,
        usage_reported=True,
        cache_status=cache_status,
        cache_saved_cents=cents[0],
        native_cache_saved_cents=ZERO,
        reference_model=None,  # the whole avoided call is cache_saved_cents already
        routing_saved_cents=ZERO,
        cache_key=cache_key,
    )
