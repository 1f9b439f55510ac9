"""Dispatching a planned call to providers: one answer, a stream, or a fusion panel.

Every attempt goes through the racer (failover before the first token, hedging), is traced
and counted, and ends in the request's usage row (plus linked rows for hedge losers and panel
members).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Span, SpanKind
from starlette.responses import Response

from origin.gateway.attempts import Racer, Target, Won
from origin.gateway.call import Call, ResponseCache
from origin.gateway.conversation import remember
from origin.gateway.fusion import answer_text, ask_panel, panel_of, synthesis_body
from origin.gateway.memory import SessionMemory
from origin.gateway.plan import Planner
from origin.gateway.responses import (
    completion_bytes,
    completion_response,
    usage_chunk,
    wants_usage,
)
from origin.gateway.rows import Rows, delivered_estimate, plus
from origin.gateway.stream import Opened, StreamEnd, StreamRelay, close_opened, open_stream
from origin.observability import context
from origin.observability.metrics import Metrics
from origin.observability.tracing import Tracing, failed
from origin.providers.base import Completion
from origin.providers.transport import ProviderClient
from origin.providers.wire import after_sent
from origin.tenancy.keyring import Keyring
from shared.errors import PrismError, UpstreamUnavailable
from shared.pricing import TokenUsage, cost_for_model

log = logging.getLogger("prism.gateway")

DISCONNECTED = "client_disconnected"


@dataclass
class Fusion:
    panel: int = 3
    deadline_s: float = 30.0


class Dispatch:
    def __init__(
        self,
        *,
        providers: ProviderClient,
        racer: Racer,
        plan: Planner,
        rows: Rows,
        metrics: Metrics,
        tracing: Tracing,
        cache: ResponseCache | None,
        memory: SessionMemory | None,
        fusion: Fusion,
    ) -> None:
        self.providers, self.racer, self.plan, self.rows = providers, racer, plan, rows
        self.metrics, self.tracing = metrics, tracing
        self.cache, self.memory, self.fusion = cache, memory, fusion

    async def panel(self, call: Call, keyring: Keyring) -> None:
        """Fusion: ask the panel, record each member's row, and set up the synthesis."""

        async def ask(target: Target) -> Completion:
            endpoint = keyring.endpoints[target.provider]
            with self._attempt(target):
                return await self.providers.complete(
                    endpoint, target.upstream, call.upstream_body, prompt_cache=False
                )

        panel = panel_of(call.candidates, self.fusion.panel)
        members = await ask_panel(panel, ask, self.fusion.deadline_s)
        answers: list[str] = []
        for member in members:
            model, provider, done = member.target.model, member.target.provider, member.completion
            usage = done.usage if done is not None else None
            cost = cost_for_model(model, usage) if usage is not None else None
            code = member.error.code if member.error is not None else None
            self.rows.record(
                call,
                model,
                provider,
                usage,
                cost,
                success=done is not None,
                error_code=code,
                parent=True,
            )
            if done is not None:
                answers.append(answer_text(done))
                call.extra = plus(call.extra, cost)
        answered = [m.target.model for m in members if m.completion is not None]
        call.receipt.fusion = f"panel={','.join(answered)};asked={len(members)}"
        if not answers:
            raise UpstreamUnavailable("no model of the fusion panel answered")
        call.override = synthesis_body(call.body, answers)

    async def complete(self, call: Call, keyring: Keyring) -> Response:
        async def attempt(target: Target) -> tuple[Completion, bytes]:
            endpoint = keyring.endpoints[target.provider]
            with self._attempt(target) as span:
                completion = await self.providers.complete(
                    endpoint,
                    target.upstream,
                    call.upstream_body,
                    prompt_cache=call.options.auto_cache,
                )
                if span.is_recording():
                    usage = completion.usage
                    span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
                    span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
                # Encoded within the attempt: an answer that cannot be passed on fails over.
                return completion, completion_bytes(call, completion, target.provider)

        with after_sent(call.pay_label if call.owed_label else None):
            won = await self.racer.run(
                call.targets, attempt, _nothing, hedge_s=self.plan.hedge_s(call)
            )
        call.pay_label()
        model, provider, (completion, data) = won.target.model, won.target.provider, won.value
        self._settle(call, won)
        cost = cost_for_model(model, completion.usage)
        self.rows.success(call, model, provider, completion.usage, cost)
        remember(self.memory, call, completion.body)
        if self.cache is not None and call.options.cache_store:
            self.cache.remember(call, completion, model)
        return completion_response(call, data)

    async def open_stream(self, call: Call, keyring: Keyring) -> Response:
        created, chunk_id = int(time.time()), f"chatcmpl-{call.request_id}"

        async def attempt(target: Target) -> Opened:
            endpoint = keyring.endpoints[target.provider]
            opener = self.providers.stream(
                endpoint,
                target.upstream,
                call.upstream_body,
                chunk_id,
                created,
                prompt_cache=call.options.auto_cache,
            )
            # For a stream the attempt's span covers opening it, up to the first token.
            with self._attempt(target):
                return await open_stream(target, opener)

        asked = time.perf_counter()
        with after_sent(call.pay_label if call.owed_label else None):
            won = await self.racer.run(
                call.targets, attempt, close_opened, hedge_s=self.plan.hedge_s(call), deadline=True
            )
        call.pay_label()  # its headers go out now
        model = won.target.model
        self.metrics.first_token(
            seconds=time.perf_counter() - call.started, provider=won.target.provider, model=model
        )
        self._settle(call, won)
        final_chunk = None
        if wants_usage(call.body):

            def final_chunk(usage: TokenUsage | None) -> dict[str, Any]:
                cost = cost_for_model(model, usage) if usage is not None else None
                return usage_chunk(call, model, usage, plus(call.extra, cost))

        return StreamRelay(  # type: ignore[return-value]
            won.value,
            call.receipt.headers(),
            lambda end: self._stream_ended(call, end, asked),
            final_chunk,
        )

    def _stream_ended(self, call: Call, end: StreamEnd, asked: float) -> None:
        # The provider's whole streaming window counts as waiting on it.
        context.waited_on_provider(time.perf_counter() - asked)
        model, provider = end.target.model, end.target.provider
        usage = end.usage
        if usage is None and not end.completed:
            usage = delivered_estimate(call, end)
        cost = cost_for_model(model, usage) if usage else None
        if end.completed:
            self.rows.success(call, model, provider, usage, cost)
            completion = end.delivered.completion(usage or TokenUsage(reported=False))
            remember(self.memory, call, completion.body)
            if self.cache is not None and call.options.cache_store:
                self.cache.remember(call, completion, model)
            return
        if end.error is not None:
            self.racer.broke_off(end.target, end.error)
        code = end.error.code if end.error else DISCONNECTED
        self.rows.record(call, model, provider, usage, cost, success=False, error_code=code)

    @contextlib.contextmanager
    def _attempt(self, target: Target) -> Iterator[Span]:
        """One provider attempt: its span and its metric. A failed or cancelled attempt's whole
        time counts as waiting on the provider; an answer's wait is its wire time (counted by
        the transport), a stream's its whole window (counted when it ends)."""
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": target.provider,
            "gen_ai.request.model": target.upstream,
        }
        asked = time.perf_counter()
        outcome = "ok"
        with self.tracing.span(f"chat {target.upstream}", attributes, kind=SpanKind.CLIENT) as span:
            try:
                yield span
            except PrismError as exc:
                failed(span, exc.code or "error")
                outcome = exc.code or "error"
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"  # lost a hedge, hit its deadline, or the client left
                raise
            finally:
                if outcome != "ok":
                    context.waited_on_provider(time.perf_counter() - asked)
                self.metrics.provider_attempt(provider=target.provider, outcome=outcome)
                if outcome not in ("ok", "cancelled"):
                    log.warning("provider %s failed (%s)", target.provider, outcome)

    def _settle(self, call: Call, won: Won[Any]) -> None:
        model, provider = won.target.model, won.target.provider
        if won.failures:  # an attempt failed and another answered: a failover
            call.receipt.route_reason += f";failover:{provider}"
            failed = won.failures[0][0].provider
            self.metrics.failover(from_provider=failed, to_provider=provider)
        elif won.hedge is None and (model, provider) != (call.receipt.model, call.receipt.provider):
            # Nothing failed: health routing put another model first (the routed one is sick).
            call.receipt.route_reason += f";health:{provider}"
        call.receipt.model, call.receipt.provider = model, provider
        if won.hedge is not None:
            call.receipt.hedge = f"fired:{won.hedge.model}"
        for loser, value in won.losers:
            # The losing attempt may still be billed by its provider: its own row, linked.
            # Closed before any usage came back, its usage is unknown (flagged unreported);
            # a whole answer that finished in a tie carries what its provider reported.
            answer = value[0] if isinstance(value, tuple) else value  # (Completion, bytes)
            usage = answer.usage if isinstance(answer, Completion) else None
            cost = cost_for_model(loser.model, usage) if usage is not None else None
            self.rows.record(
                call,
                loser.model,
                loser.provider,
                usage,
                cost,
                success=False,
                error_code="hedge_lost",
                parent=True,
            )


async def _nothing(_: tuple[Completion, bytes]) -> None:
    """A whole answer holds no connection: nothing to release when it loses a tie."""
