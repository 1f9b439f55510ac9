"""POST /v1/chat/completions: authenticate, route, call the provider, answer, log one row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson
from opentelemetry.trace import Span, SpanKind
from starlette.requests import Request
from starlette.responses import Response

from origin.gateway.attempts import Racer, Target, Won
from origin.gateway.fusion import ROUTING_MODE as FUSION_ROUTING
from origin.gateway.fusion import answer_text, ask_panel, panel_of, synthesis_body
from origin.gateway.memory import SessionMemory, new_turn, with_history
from origin.gateway.receipt import Receipt
from origin.gateway.stream import (
    ClientGone,
    Opened,
    StreamEnd,
    StreamRelay,
    close_opened,
    open_stream,
    unless_disconnected,
)
from origin.gateway.validation import parse_body
from origin.ledger.writer import Ledger
from origin.observability import context
from origin.observability.metrics import Metrics
from origin.observability.tracing import Tracing, failed, row_attributes
from origin.providers.base import Completion
from origin.providers.transport import ProviderClient
from origin.routing.classifier import classify
from origin.routing.health import HealthBoard
from origin.routing.router import RouteDecision, Router
from origin.spend.admission import Admission
from origin.spend.control import SpendControl
from origin.tenancy.auth import Authenticator
from origin.tenancy.keyring import Keyring, Keyrings
from shared.catalog import MODELS
from shared.errors import PrismError, UpstreamUnavailable
from shared.options import RequestOptions, parse_options, with_output_cap
from shared.pricing import Cost, TokenUsage, cost_for_model
from shared.usage import Caller, build_row, new_request_id

log = logging.getLogger("prism.gateway")

# Models tried per request, the routed one included (hedges count too).
MAX_ATTEMPTS = 4
# The hedge delay when neither the client gave one nor the model has latency history.
DEFAULT_HEDGE_S = 1.0
PROBE_HEDGE_S = 0.2
JSON_HEADERS = {"content-type": "application/json"}
DISCONNECTED = "client_disconnected"


@dataclass
class Call:
    """Everything known about one request while it is being answered."""

    request_id: str
    caller: Caller
    options: RequestOptions
    body: dict[str, Any]
    started: float
    receipt: Receipt
    decision: RouteDecision | None = None
    spend: Admission | None = None
    targets: list[Target] = field(default_factory=list)
    # (model, provider, upstream) of each target: what spend control prices the worst case on
    attempts: list[tuple[str, str, str]] = field(default_factory=list)

    # Session memory: the turns recalled for this request, and the messages it was sent with.
    memory: list[list[dict[str, Any]]] | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    # Every usable model in route order (fusion draws its panel from these), what is sent
    # instead of the client's body (a fusion synthesis), and what other calls cost.
    candidates: list[Target] = field(default_factory=list)
    override: dict[str, Any] | None = None
    extra: Cost | None = None

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def upstream_body(self) -> dict[str, Any]:
        return with_output_cap(self.override or self.body, self.options.mode)

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


class ResponseCache(Protocol):
    """The seam for Prism's own response cache (exact and semantic layers)."""

    async def lookup(self, call: Call) -> Response | None: ...

    def remember(self, call: Call, completion: Completion, model: str) -> None: ...


class ChatCompletions:
    def __init__(
        self,
        *,
        auth: Authenticator,
        keyrings: Keyrings,
        router: Router,
        providers: ProviderClient,
        ledger: Ledger,
        metrics: Metrics,
        tracing: Tracing,
        health: HealthBoard,
        cache: ResponseCache | None = None,
        spend: SpendControl | None = None,
        memory: SessionMemory | None = None,
        fusion_panel: int = 3,
        fusion_deadline_s: float = 30.0,
    ) -> None:
        self.auth, self.keyrings, self.router = auth, keyrings, router
        self.providers, self.ledger, self.cache = providers, ledger, cache
        self.metrics, self.tracing = metrics, tracing
        self.spend = spend
        self.health, self.racer = health, Racer(health)
        self.memory = memory
        self.fusion_panel, self.fusion_deadline_s = fusion_panel, fusion_deadline_s

    async def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        address = request.client.host if request.client else None
        caller = await self.auth.authenticate(request.headers.get("authorization"), address)
        request_id = context.request_id()
        options = parse_options(request.headers)
        call = Call(request_id, caller, options, {}, started, Receipt(request_id, options.mode))
        try:
            call.body = parse_body(await request.body())
            await self._recall(call)
            if self.spend is not None and self.cache is not None:
                await self.spend.before_lookup(call)  # a cache hit counts against rate limits
            # Before routing: a hit needs no provider, and the cache key doesn't depend on one.
            if self.cache is not None:
                with self.tracing.span("prism.cache.lookup") as span:
                    hit = await self.cache.lookup(call)
                    span.set_attribute("prism.cache_status", call.receipt.cache_status)
                if hit is not None:
                    return hit
            keyring = await self.keyrings.for_project(caller.project_id)
            self._route(call, keyring)
            if self.spend is not None:
                await self.spend.admit(call)  # reserves the worst case; settled in _record
            if call.options.mode == "fusion":
                await unless_disconnected(request.receive, self._panel(call, keyring))
            if call.stream:
                return await unless_disconnected(request.receive, self._open_stream(call, keyring))
            return await unless_disconnected(request.receive, self._complete(call, keyring))
        except PrismError as exc:
            self._record_failure(call, exc.code)
            raise
        except ClientGone:
            # Nobody is listening any more; the attempts were cancelled, the row still counts.
            self._record_failure(call, DISCONNECTED)
            return Response(status_code=499)
        except asyncio.CancelledError:
            self._record_failure(call, DISCONNECTED)
            raise

    async def _recall(self, call: Call) -> None:
        """With X-Prism-Memory: on, the session's stored turns go before the new messages."""
        session = call.options.session_id
        if self.memory is None or not call.options.memory or session is None:
            return
        call.memory = await self.memory.recall(call.caller.project_id, session)
        call.sent = list(call.body.get("messages") or [])
        call.body = {**call.body, "messages": with_history(call.sent, call.memory)}
        if call.options.cache == "default":
            # An answer depends on the conversation; a cached one would skip storing this turn.
            call.options = replace(call.options, cache="no-cache")

    def _remember(self, call: Call, body: dict[str, Any]) -> None:
        session = call.options.session_id
        if self.memory is None or call.memory is None or session is None:
            return
        choices = body.get("choices") or [{}]
        message = choices[0].get("message") or {}
        turn = new_turn(call.sent, message)
        self.memory.remember(call.caller.project_id, session, call.memory, turn)

    def _route(self, call: Call, keyring: Keyring) -> None:
        with self.tracing.span("prism.route") as span:
            self._decide(call, keyring)
            if span.is_recording():
                span.set_attributes(
                    {
                        "gen_ai.request.model": str(call.body.get("model")),
                        "prism.mode": call.options.mode,
                        "prism.task_type": call.receipt.task_type,
                        "prism.route.model": call.receipt.model,
                        "prism.route.reason": call.receipt.route_reason,
                    }
                )

    def _decide(self, call: Call, keyring: Keyring) -> None:
        classification = classify(call.body)
        decision = self.router.route(
            call.body,
            mode=FUSION_ROUTING if call.options.mode == "fusion" else call.options.mode,
            available=keyring.available,
            prefer=call.options.model_prefer,
            requested_model=call.body.get("model"),
            classification=classification,
            strict=call.options.strict_model,
        )
        call.decision = decision
        ordered = [Target(decision.model, decision.provider, decision.upstream)]
        for model, provider in decision.fallbacks:
            target = Target(model, provider, MODELS[model]["upstream"])
            if target not in ordered and provider in keyring.endpoints:
                ordered.append(target)
        by_key = {t.key: t for t in ordered}
        call.candidates = [by_key[k] for k in self.health.order(by_key)]
        call.targets = call.candidates[:MAX_ATTEMPTS]
        call.attempts = [(t.model, t.provider, t.upstream) for t in call.targets]
        receipt = call.receipt
        receipt.task_type, receipt.confidence = decision.task_type, decision.confidence
        receipt.route_reason = decision.reason
        receipt.model, receipt.provider = decision.model, decision.provider

    async def _panel(self, call: Call, keyring: Keyring) -> None:
        """Fusion: ask the panel, record each member's row, and set up the synthesis."""

        async def ask(target: Target) -> Completion:
            endpoint = keyring.endpoints[target.provider]
            with self._attempt(target):
                return await self.providers.complete(
                    endpoint, target.upstream, call.upstream_body, prompt_cache=False
                )

        panel = panel_of(call.candidates, self.fusion_panel)
        members = await ask_panel(panel, ask, self.fusion_deadline_s)
        answers: list[str] = []
        for member in members:
            model, provider, done = member.target.model, member.target.provider, member.completion
            usage = done.usage if done is not None else None
            cost = cost_for_model(model, usage) if usage is not None else None
            code = member.error.code if member.error is not None else None
            self._record(
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
                call.extra = _plus(call.extra, cost)
        answered = [m.target.model for m in members if m.completion is not None]
        call.receipt.fusion = f"panel={','.join(answered)};asked={len(members)}"
        if not answers:
            raise UpstreamUnavailable("no model of the fusion panel answered")
        call.override = synthesis_body(call.body, answers)

    def _hedge_s(self, call: Call) -> float | None:
        options, targets = call.options, call.targets
        if len(targets) < 2:
            return None
        if self.health.weight(targets[0].key) == 0.0:
            # A probe of a model that was failing: if it still is, the next one answers
            # after about its usual time instead of after the probe's deadline.
            return self.health.p90_s(targets[1].key) or PROBE_HEDGE_S
        wanted = options.hedge if options.hedge is not None else options.mode == "sport"
        if not wanted:
            return None
        if options.hedge_delay_ms is not None:
            return options.hedge_delay_ms / 1000
        return self.health.p90_s(targets[0].key) or DEFAULT_HEDGE_S

    async def _complete(self, call: Call, keyring: Keyring) -> Response:
        async def attempt(target: Target) -> Completion:
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
            return completion

        won = await self.racer.run(call.targets, attempt, _nothing, hedge_s=self._hedge_s(call))
        model, provider, completion = won.target.model, won.target.provider, won.value
        self._settle(call, won)
        cost = cost_for_model(model, completion.usage)
        self._record_success(call, model, provider, completion.usage, cost)
        self._remember(call, completion.body)
        if self.cache is not None and call.options.cache_store:
            self.cache.remember(call, completion, model)
        body = {**completion.body, "id": f"chatcmpl-{call.request_id}"}
        return Response(orjson.dumps(body), headers={**JSON_HEADERS, **call.receipt.headers()})

    async def _open_stream(self, call: Call, keyring: Keyring) -> Response:
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
            with self._attempt(target, waited=False):
                return await open_stream(target, opener)

        asked = time.perf_counter()
        won = await self.racer.run(
            call.targets, attempt, close_opened, hedge_s=self._hedge_s(call), deadline=True
        )
        model = won.target.model
        self.metrics.first_token(
            seconds=time.perf_counter() - call.started, provider=won.target.provider, model=model
        )
        self._settle(call, won)
        usage_chunk = None
        if _wants_usage(call.body):

            def usage_chunk(usage: TokenUsage | None) -> dict[str, Any]:
                return _usage_chunk(call, model, usage)

        return StreamRelay(  # type: ignore[return-value]
            won.value,
            call.receipt.headers(),
            lambda end: self._stream_ended(call, end, asked),
            usage_chunk,
        )

    def _stream_ended(self, call: Call, end: StreamEnd, asked: float) -> None:
        # The provider's whole streaming window counts as waiting on it.
        context.waited_on_provider(time.perf_counter() - asked)
        model, provider = end.target.model, end.target.provider
        usage = end.usage
        if usage is None and not end.completed:
            usage = _delivered_estimate(call, end)
        cost = cost_for_model(model, usage) if usage else None
        if end.completed:
            self._record_success(call, model, provider, usage, cost)
            completion = end.delivered.completion(usage or TokenUsage(reported=False))
            self._remember(call, completion.body)
            if self.cache is not None and call.options.cache_store:
                self.cache.remember(call, completion, model)
            return
        code = end.error.code if end.error else DISCONNECTED
        self._record(call, model, provider, usage, cost, success=False, error_code=code)

    @contextlib.contextmanager
    def _attempt(self, target: Target, waited: bool = True) -> Iterator[Span]:
        """One provider attempt: its span, its metric, and (`waited`) its time on the provider."""
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
                if waited or outcome != "ok":
                    context.waited_on_provider(time.perf_counter() - asked)
                self.metrics.provider_attempt(provider=target.provider, outcome=outcome)
                if outcome not in ("ok", "cancelled"):
                    log.warning("provider %s failed (%s)", target.provider, outcome)

    def _settle(self, call: Call, won: Won[Any]) -> None:
        model, provider = won.target.model, won.target.provider
        if (model, provider) != (call.receipt.model, call.receipt.provider):
            call.receipt.route_reason += f";failover:{provider}"
            self.metrics.failover(from_provider=call.receipt.provider, to_provider=provider)
        call.receipt.model, call.receipt.provider = model, provider
        if won.hedge is not None:
            call.receipt.hedge = f"fired:{won.hedge.model}"
        for loser in won.losers:
            # The cancelled attempt may still be billed by its provider: its own row, linked.
            self._record(
                call,
                loser.model,
                loser.provider,
                None,
                None,
                success=False,
                error_code="hedge_lost",
                parent=True,
            )

    def _record_success(
        self, call: Call, model: str, provider: str, usage: TokenUsage | None, cost: Cost | None
    ) -> None:
        call.receipt.cost = _plus(call.extra, cost) if call.extra else cost
        call.receipt.usage_reported = usage is not None and usage.reported
        self._record(call, model, provider, usage, cost, success=True, error_code=None)

    def _record_failure(self, call: Call, code: str | None) -> None:
        model = call.receipt.model or str(call.body.get("model") or "unknown")
        self._record(
            call,
            model,
            call.receipt.provider or "none",
            None,
            None,
            success=False,
            error_code=code,
        )

    def _record(
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
        """The request's row; with `parent`, a row of its own linked to the request's."""
        task_type = call.decision.task_type if call.decision else "unknown"
        if not parent and call.extra is not None:
            cost = _plus(call.extra, cost)  # a fusion request's row carries its panel's cost
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
        with self.tracing.span("prism.ledger.record") as span:
            if span.is_recording():
                span.set_attributes(row_attributes(row))
            self.ledger.record(row)


def _requested_model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None


def _plus(a: Cost | None, b: Cost | None) -> Cost | None:
    if a is None or b is None:
        return a or b
    return Cost(a.cents + b.cents, a.native_saved_cents + b.native_saved_cents)


async def _nothing(_: Completion) -> None:
    """A whole answer holds no connection: nothing to release when it loses a tie."""


def _delivered_estimate(call: Call, end: StreamEnd) -> TokenUsage | None:
    """What a cut stream delivered, at about four characters a token, flagged unreported."""
    text = end.delivered.completion(TokenUsage(reported=False)).body
    chars = sum(len(str((c.get("message") or {}).get("content") or "")) for c in text["choices"])
    if not chars:
        return None
    prompt = len(orjson.dumps(call.body.get("messages") or [])) // 4
    return TokenUsage(prompt_tokens=prompt, completion_tokens=max(1, chars // 4), reported=False)


def _wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _usage_chunk(call: Call, model: str, usage: TokenUsage | None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": f"chatcmpl-{call.request_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": None,
    }
    if usage is not None:
        chunk["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        }
    return chunk
