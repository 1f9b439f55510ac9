"""The usage rows a request writes: its own, and one per linked call (panel, hedge loser)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import orjson

from origin.gateway.call import Call
from origin.gateway.stream import StreamEnd
from origin.ledger.writer import Ledger
from origin.observability.tracing import Tracing, row_attributes
from origin.spend.control import SpendControl
from shared.pricing import Cost, TokenUsage
from shared.usage import build_row, new_request_id

log = logging.getLogger("prism.gateway")


class Rows:
    def __init__(self, ledger: Ledger, tracing: Tracing, spend: SpendControl | None) -> None:
        self.ledger, self.tracing, self.spend = ledger, tracing, spend

    def success(
        self, call: Call, model: str, provider: str, usage: TokenUsage | None, cost: Cost | None
    ) -> None:
        call.receipt.cost = plus(call.extra, cost) if call.extra else cost
        self.record(call, model, provider, usage, cost, success=True, error_code=None)

    def failure(self, call: Call, code: str | None) -> None:
        model = call.receipt.model or str(call.body.get("model") or "unknown")
        self.record(
            call,
            model,
            call.receipt.provider or "none",
            None,
            None,
            success=False,
            error_code=code,
        )

    def record(
        self,
        call: Call,
        model: str,
        provider: str,
        usage: TokenUsage | None,
        cost: Cost | None,
        *,
        success: bool,
        error_code: str | None,
        parent: bool = False,
    ) -> None:
        """The request's row; with `parent`, a row of its own linked to the request's. A request
        has one row: a failure after its row was written (a bug of ours) adds none."""
        if call.recorded and not parent:
            log.warning("request %s already has its row; not recorded again", call.request_id)
            return
        call.pay_label()
        task_type = call.decision.task_type if call.decision else "unknown"
        if not parent and call.extra is not None:
            cost = plus(call.extra, cost)  # a fusion request's row carries its panel's cost
        if self.spend is not None and not parent:
            self.spend.settle(call, usage, cost, success)
        row = build_row(
            request_id=new_request_id() if parent else call.request_id,
            caller=call.caller,
            options=call.options,
            task_type=task_type,
            model_used=model,
            provider=provider,
            usage=usage,
            cost=cost,
            latency_ms=call.elapsed_ms(),
            was_streaming=call.stream,
            success=success,
            error_code=error_code,
            cache_status=call.receipt.cache_status,
            requested_model=_requested_model(call.body),
            parent_request_id=call.request_id if parent else None,
        )
        if success and not parent:
            # The receipt says what the row says: a count clamped to the ledger's columns is
            # as unreported there as a missing one (usage_out_of_range).
            call.receipt.usage_reported = row.usage_reported
        with self.tracing.span("prism.ledger.record") as span:
            if span.is_recording():
                span.set_attributes(row_attributes(row))
            self.ledger.record(row)
        call.recorded = call.recorded or not parent


def plus(a: Cost | None, b: Cost | None) -> Cost | None:
    if a is None or b is None:
        return a or b
    return Cost(a.cents + b.cents, a.native_saved_cents + b.native_saved_cents)


def delivered_estimate(call: Call, end: StreamEnd) -> TokenUsage | None:
    """What a cut stream delivered, at about four characters a token, flagged unreported; its
    input side as the provider reported it, when it did before the cut (cache reads and
    writes price differently, and a provider that counted the prompt billed it)."""
    text = end.delivered.completion(TokenUsage(reported=False)).body
    chars = sum(len(str((c.get("message") or {}).get("content") or "")) for c in text["choices"])
    given = end.prompt_usage
    if given is not None:
        return replace(given, completion_tokens=chars // 4 if chars else 0, reported=False)
    if not chars:
        return None
    prompt = len(orjson.dumps(call.body.get("messages") or [])) // 4
    return TokenUsage(prompt_tokens=prompt, completion_tokens=max(1, chars // 4), reported=False)


def _requested_model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None
