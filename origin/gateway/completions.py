"""POST /v1/chat/completions: authenticate, route, call the provider, answer, log one row."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from opentelemetry.trace import Span, SpanKind
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from origin.cache.accumulator import StreamAccumulator
from origin.gateway.receipt import Receipt
from origin.gateway.validation import parse_body
from origin.ledger.writer import Ledger
from origin.observability import context
from origin.observability.metrics import Metrics
from origin.observability.tracing import Tracing, failed, row_attributes
from origin.providers.base import Completion
from origin.providers.transport import ProviderClient
from origin.routing.classifier import classify
from origin.routing.router import RouteDecision, Router
from origin.spend.admission import Admission
from origin.spend.control import SpendControl
from origin.tenancy.auth import Authenticator
from origin.tenancy.keyring import Keyring, Keyrings
from shared import sse
from shared.catalog import MODELS
from shared.errors import PrismError, RateLimited, UpstreamTimeout, UpstreamUnavailable
from shared.options import RequestOptions, parse_options
from shared.pricing import Cost, TokenUsage, cost_for_model
from shared.usage import Caller, build_row

log = logging.getLogger("prism.gateway")

# Errors after which another provider may well succeed; anything else is final.
RETRYABLE = (UpstreamUnavailable, UpstreamTimeout, RateLimited)
MAX_ATTEMPTS = 3
JSON_HEADERS = {"content-type": "application/json"}


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
    attempts: list[tuple[str, str, str]] = field(default_factory=list)
    spend: Admission | None = None

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

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
        cache: ResponseCache | None = None,
        spend: SpendControl | None = None,
    ) -> None:
        self.auth, self.keyrings, self.router = auth, keyrings, router
        self.providers, self.ledger, self.cache = providers, ledger, cache
        self.metrics, self.tracing = metrics, tracing
        self.spend = spend

    async def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        address = request.client.host if request.client else None
        caller = await self.auth.authenticate(request.headers.get("authorization"), address)
        request_id = context.request_id()
        options = parse_options(request.headers)
        call = Call(request_id, caller, options, {}, started, Receipt(request_id, options.mode))
        try:
            call.body = parse_body(await request.body())
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
            if call.stream:
                return await self._open_stream(call, keyring)
            return await self._complete(call, keyring)
        except PrismError as exc:
            self._record_failure(call, exc)
            raise

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
            mode=call.options.mode,
            available=keyring.available,
            prefer=call.options.model_prefer,
            requested_model=call.body.get("model"),
            classification=classification,
        )
        call.decision = decision
        call.attempts = [(decision.model, decision.provider, decision.upstream)]
        for model, provider in decision.fallbacks[: MAX_ATTEMPTS - 1]:
            call.attempts.append((model, provider, MODELS[model]["upstream"]))
        receipt = call.receipt
        receipt.task_type, receipt.confidence = decision.task_type, decision.confidence
        receipt.route_reason = decision.reason
        receipt.model, receipt.provider = decision.model, decision.provider

    async def _complete(self, call: Call, keyring: Keyring) -> Response:
        last: PrismError | None = None
        for model, provider, upstream in call.attempts:
            asked = time.perf_counter()
            with self._attempt_span(provider, upstream) as span:
                try:
                    endpoint = keyring.endpoints[provider]
                    completion = await self.providers.complete(
                        endpoint, upstream, call.body, prompt_cache=call.options.auto_cache
                    )
                except RETRYABLE as exc:
                    failed(span, exc.code)
                    self._attempted(provider, asked, exc.code)
                    last = exc
                    continue
                if span.is_recording():
                    span.set_attribute("gen_ai.usage.input_tokens", completion.usage.prompt_tokens)
                    span.set_attribute(
                        "gen_ai.usage.output_tokens", completion.usage.completion_tokens
                    )
            self._attempted(provider, asked, "ok")
            self._settle(call, model, provider)
            cost = cost_for_model(model, completion.usage)
            self._record_success(call, model, provider, completion.usage, cost)
            if self.cache is not None and call.options.cache_store:
                self.cache.remember(call, completion, model)
            body = {**completion.body, "id": f"chatcmpl-{call.request_id}"}
            return Response(orjson.dumps(body), headers={**JSON_HEADERS, **call.receipt.headers()})
        assert last is not None
        raise last

    async def _open_stream(self, call: Call, keyring: Keyring) -> Response:
        created, chunk_id = int(time.time()), f"chatcmpl-{call.request_id}"
        last: PrismError | None = None
        for model, provider, upstream in call.attempts:
            endpoint = keyring.endpoints[provider]
            opener = self.providers.stream(
                endpoint,
                upstream,
                call.body,
                chunk_id,
                created,
                prompt_cache=call.options.auto_cache,
            )
            asked = time.perf_counter()
            # For a stream the attempt's span covers opening it, up to the first byte.
            with self._attempt_span(provider, upstream) as span:
                try:
                    stream = await opener.__aenter__()
                except RETRYABLE as exc:
                    failed(span, exc.code)
                    self._attempted(provider, asked, exc.code)
                    last = exc
                    continue
            self.metrics.provider_attempt(provider=provider, outcome="ok")
            self._settle(call, model, provider)
            return StreamingResponse(
                self._relay(call, model, provider, opener, stream, asked),
                media_type="text/event-stream",
                headers={**call.receipt.headers(), "cache-control": "no-cache"},
            )
        assert last is not None
        raise last

    async def _relay(
        self, call: Call, model: str, provider: str, opener: Any, stream: Any, asked: float
    ) -> AsyncIterator[bytes]:
        error: PrismError | None = None
        completed, first = False, True
        # What the client is sent, collected so a complete stream can be cached like a JSON answer.
        sent = StreamAccumulator() if self.cache is not None and call.options.cache_store else None
        try:
            async for chunk in stream:
                if first:
                    first = False
                    since = time.perf_counter() - call.started
                    self.metrics.first_token(seconds=since, provider=provider, model=model)
                if sent is not None:
                    sent.add(chunk)
                yield sse.data_event(chunk, orjson.dumps)
            completed = True
            if _wants_usage(call.body):
                chunk = _usage_chunk(call, model, stream.state.usage)
                yield sse.data_event(chunk, orjson.dumps)
            yield sse.DONE
        except PrismError as exc:
            # Headers are gone already; OpenAI clients read an error object from the stream.
            error = exc
            yield sse.data_event(exc.envelope(), orjson.dumps)
        finally:
            # The provider's whole streaming window counts as waiting on it.
            context.waited_on_provider(time.perf_counter() - asked)
            usage = stream.state.usage
            cost = cost_for_model(model, usage) if usage else None
            if completed:
                self._record_success(call, model, provider, usage, cost)
                if sent is not None and self.cache is not None:
                    self.cache.remember(
                        call, sent.completion(usage or TokenUsage(reported=False)), model
                    )
            else:
                code = error.code if error else "client_disconnected"
                self._record(call, model, provider, usage, cost, success=False, error_code=code)
            await opener.__aexit__(None, None, None)

    def _attempt_span(self, provider: str, upstream: str) -> AbstractContextManager[Span]:
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": upstream,
        }
        return self.tracing.span(f"chat {upstream}", attributes, kind=SpanKind.CLIENT)

    def _attempted(self, provider: str, asked: float, outcome: str) -> None:
        context.waited_on_provider(time.perf_counter() - asked)
        self.metrics.provider_attempt(provider=provider, outcome=outcome)
        if outcome != "ok":
            log.warning("provider %s failed (%s); trying the next choice", provider, outcome)

    def _settle(self, call: Call, model: str, provider: str) -> None:
        if (model, provider) != (call.receipt.model, call.receipt.provider):
            call.receipt.route_reason += f";failover:{provider}"
            self.metrics.failover(from_provider=call.receipt.provider, to_provider=provider)
        call.receipt.model, call.receipt.provider = model, provider

    def _record_success(
        self, call: Call, model: str, provider: str, usage: TokenUsage | None, cost: Cost | None
    ) -> None:
        call.receipt.cost = cost
        call.receipt.usage_reported = usage is not None and usage.reported
        self._record(call, model, provider, usage, cost, success=True, error_code=None)

    def _record_failure(self, call: Call, exc: PrismError) -> None:
        model = call.receipt.model or str(call.body.get("model") or "unknown")
        self._record(
            call,
            model,
            call.receipt.provider or "none",
            None,
            None,
            success=False,
            error_code=exc.code,
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
    ) -> None:
        task_type = call.decision.task_type if call.decision else "unknown"
        if self.spend is not None:
            self.spend.settle(call, usage, cost, success)
        row = build_row(
            request_id=call.request_id,
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
        )
        with self.tracing.span("prism.ledger.record") as span:
            if span.is_recording():
                span.set_attributes(row_attributes(row))
            self.ledger.record(row)


def _requested_model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None


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
