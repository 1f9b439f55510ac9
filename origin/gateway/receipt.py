"""The per-request receipt: response headers that explain routing, cost and caching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import headers as H
from shared.pricing import Cost, format_cents


@dataclass
class Receipt:
    request_id: str
    mode: str
    model: str = ""
    provider: str = ""
    task_type: str = ""
    confidence: float | None = None
    route_reason: str = ""
    cache_status: str = "miss"
    cost: Cost | None = None
    cache_saved_cents: str | None = None
    cache_similarity: float | None = None
    usage_reported: bool = True
    # Spend control's admission (origin.spend.admission): budget and rate-limit headers.
    policy: Any = None
    hedge: str = ""
    fusion: str = ""

    def headers(self) -> dict[str, str]:
        out = {
            H.REQUEST_ID: self.request_id,
            H.FEEDBACK_ID: self.request_id,
            H.MODE: self.mode,
            H.CACHE_STATUS: self.cache_status,
        }
        if self.model:
            out[H.MODEL] = self.model
            out[H.PROVIDER] = self.provider
            out[H.TASK_TYPE] = self.task_type
        if self.confidence is not None:
            out[H.TASK_CONFIDENCE] = f"{self.confidence:.2f}"
        if self.route_reason:
            out[H.ROUTE_REASON] = self.route_reason
        if self.cost is not None:
            out[H.COST_CENTS] = format_cents(self.cost.cents)
            out[H.NATIVE_CACHE_SAVED_CENTS] = format_cents(self.cost.native_saved_cents)
            out[H.USAGE_REPORTED] = "true" if self.usage_reported else "false"
        if self.cache_saved_cents is not None:
            out[H.CACHE_SAVED_CENTS] = self.cache_saved_cents
        if self.hedge:
            out[H.HEDGED] = self.hedge
        if self.fusion:
            out[H.FUSION] = self.fusion
        if self.cache_similarity is not None:
            out[H.CACHE_SIMILARITY] = f"{self.cache_similarity:.4f}"
        if self.policy is not None:
            out.update(self.policy.headers(self.cost))
        return out
