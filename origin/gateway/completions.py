"""POST /v1/chat/completions: authenticate, route, call the provider, answer, log one row.

The endpoint reads the request into a `Call` (gateway.call); the planner (gateway.plan)
routes it, the dispatcher (gateway.dispatch) calls providers and answers, and every outcome
ends in the request's usage row (gateway.rows).
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from origin.gateway.attempts import Racer
from origin.gateway.call import Call, ResponseCache
from origin.gateway.conversation import recall
from origin.gateway.dispatch import DISCONNECTED, Dispatch, Fusion
from origin.gateway.memory import SessionMemory
from origin.gateway.plan import Planner
from origin.gateway.prism_headers import OptionsMemo, PrismHeaders
from origin.gateway.receipt import Receipt
from origin.gateway.rows import Rows
from origin.gateway.stream import ClientGone, unless_disconnected
from origin.gateway.validation import parse_body
from origin.ledger.writer import Ledger
from origin.observability import context
from origin.observability.metrics import Metrics
from origin.observability.tracing import Tracing
from origin.providers.transport import ProviderClient
from origin.routing.health import HealthBoard
from origin.routing.router import Router
from origin.spend.control import SpendControl
from origin.spend.early import EarlyAdmission, HitGate
from origin.tenancy.auth import Authenticator
from origin.tenancy.keyring import Keyring, Keyrings
from shared.errors import INTERNAL_ERROR, PrismError


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
        self.auth, self.keyrings, self.cache = auth, keyrings, cache
        self.tracing, self.spend, self.memory = tracing, spend, memory
        self.options = OptionsMemo()
        self.plan = Planner(router, health, tracing)
        self.rows = Rows(ledger, tracing, spend)
        self.dispatch = Dispatch(
            providers=providers,
            racer=Racer(health),
            plan=self.plan,
            rows=self.rows,
            metrics=metrics,
            tracing=tracing,
            cache=cache,
            memory=memory,
            fusion=Fusion(fusion_panel, fusion_deadline_s),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A plain ASGI endpoint: the busiest route skips Starlette's Request and its
        per-request exception wrapper; a PrismError still reaches the app's one handler."""
        response = await self._answer(scope, receive)
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        started = time.perf_counter()
        client = scope.get("client")
        headers = PrismHeaders(scope["headers"])
        caller = await self.auth.authenticate(headers.authorization, client[0] if client else None)
        request_id = context.request_id()
        options = self.options(headers)
        call = Call(request_id, caller, options, {}, started, Receipt(request_id, options.mode))
        early: EarlyAdmission | None = None
        try:
            call.body = parse_body(await _body(receive))
            await recall(self.memory, call)
            early, gate = await self._early_checks(call)
            # Before routing: a hit needs no provider, and the cache key doesn't depend on one.
            if self.cache is not None:
                with self.tracing.span("prism.cache.lookup") as span:
                    hit = await self.cache.lookup(call, gate)
                    span.set_attribute("prism.cache_status", call.receipt.cache_status)
                if hit is not None:
                    return hit
            keyring = await self.keyrings.for_project(caller.project_id)
            await self._admitted(call, keyring, early)
            if call.options.mode == "fusion":
                await unless_disconnected(receive, self.dispatch.panel(call, keyring))
            if call.stream:
                opening = self.dispatch.open_stream(call, keyring)
                return await unless_disconnected(receive, opening)
            return await unless_disconnected(receive, self.dispatch.complete(call, keyring))
        except PrismError as exc:
            await _concluded(early)
            self.rows.failure(call, exc.code)
            raise
        except ClientGone:
            # Nobody is listening any more; the attempts were cancelled, the row still counts.
            await _concluded(early)
            self.rows.failure(call, DISCONNECTED)
            return Response(status_code=499)
        except asyncio.CancelledError:
            await _concluded(early)
            self.rows.failure(call, DISCONNECTED)
            raise
        except Exception:
            # A bug of ours (errors.unexpected_error logs it and answers 500): the request
            # still gets its one row and gives back what it reserved.
            await _concluded(early)
            self.rows.failure(call, INTERNAL_ERROR)
            raise

    async def _early_checks(self, call: Call) -> tuple[EarlyAdmission | None, HitGate | None]:
        """Spend control's checks, started before the cache lookup when they can be (a request
        naming its model is routed here): they share the lookup's round trip
        (origin.spend.early). Also what the lookup runs before answering a hit: they, or the
        gate that counts a hit against the rate limits (a miss counts them in `admit`)."""
        if self.spend is None:
            return None, None
        gate = await self.spend.before_lookup(call) if self.cache is not None else None
        keyring = await self.keyrings.for_project(call.caller.project_id)
        early = await self.spend.alongside(
            call, gate, lambda: self.plan.route_pinned(call, keyring)
        )
        return early, (early.before_hit if early is not None else gate)

    async def _admitted(self, call: Call, keyring: Keyring, early: EarlyAdmission | None) -> None:
        """Routed (its task type owed, if routed before the lookup) and admitted by spend
        control."""
        if call.decision is None:
            self.plan.route_unlabelled(call, keyring)
        else:
            if early is not None:
                await early.started()
            self.plan.owe_label(call)
        if early is not None:
            await early.before_provider()
        elif self.spend is not None:
            await self.spend.admit(call)  # reserves the worst case; settled in rows.record


async def _body(receive: Receive) -> bytes:
    """The whole request body, read straight off `receive` (no async generator per request)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body  # one message: the usual case, no copy
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def _concluded(early: EarlyAdmission | None) -> None:
    """A request failing while its early admission is in flight waits for it, so the failure
    settles (releases) what it reserved."""
    if early is not None:
        await early.abandon()
