"""The origin application: wiring only. Each dependency is built once, at start-up."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from origin.admin.api import admin_routes
from origin.admin.cache_routes import cache_routes
from origin.admin.health_routes import health_routes
from origin.admin.spend_routes import spend_routes
from origin.background import BoundedExitStack
from origin.cache.response_cache import PrismCache
from origin.cache.service import build_cache
from origin.dashboard.wiring import build_dashboard, dashboard_routes
from origin.gateway.completions import ChatCompletions
from origin.gateway.errors import EXCEPTION_HANDLERS
from origin.gateway.feedback import FeedbackEndpoint
from origin.gateway.memory import SessionMemory
from origin.gateway.middleware import BodyLimit
from origin.gateway.models import ModelsEndpoint
from origin.gateway.sessions import SessionsEndpoint
from origin.heap import fix_mmap_threshold, settle_after_start_up
from origin.ledger.edge_queue import EdgeQueueDrain
from origin.ledger.writer import Ledger
from origin.observability.edge_series import EdgeCounters
from origin.observability.endpoint import MetricsEndpoint
from origin.observability.logs import configure_logging
from origin.observability.metrics import Metrics
from origin.observability.middleware import RequestObserver
from origin.observability.tracing import Tracing
from origin.providers.transport import ProviderClient
from origin.routing.health import HealthBoard, HealthConfig
from origin.routing.router import Router
from origin.settings import Settings
from origin.spend.control import SpendControl
from origin.spend.service import start_spend
from origin.store import Store
from origin.store.snapshots import Snapshots
from origin.tenancy.abuse import AddressThrottle
from origin.tenancy.auth import MAX_STALE_S, Authenticator
from origin.tenancy.crypto import KeyBox, master_key_from
from origin.tenancy.key_notes import KeyNotes
from origin.tenancy.keyring import Keyrings
from origin.tenancy.revocation import RevocationListener, Revocations, Revoker

log = logging.getLogger("prism.origin")
# Each dependency's close gets this long (the ledger needs about two of its close timeouts).
SHUTDOWN_STEP_S = 20.0


def create_app(settings: Settings | None = None, *, tracing: Tracing | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    metrics = Metrics()
    tracing = tracing or Tracing.from_endpoint(settings.otlp_endpoint)
    routes = [
        Route("/v1/chat/completions", _chat, methods=["POST"]),
        Route("/chat/completions", _chat, methods=["POST"]),
        Route("/v1/models", _models, methods=["GET"]),
        # `:path`: catalog ids may hold a "/" ("groq/llama-3.1-8b-instant").
        Route("/v1/models/{model_id:path}", _model, methods=["GET"]),
        Route("/v1/feedback", _feedback, methods=["POST"]),
        Route("/v1/sessions/{session_id:path}", _sessions, methods=["DELETE"]),
        Route("/healthz", _health, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
        *admin_routes(),
        *cache_routes(),
        *dashboard_routes(),
        *spend_routes(),
        *health_routes(),
    ]
    return Starlette(
        routes=routes,
        lifespan=_lifespan(settings, metrics, tracing),
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            Middleware(RequestObserver, metrics=metrics, tracing=tracing),
            Middleware(BodyLimit, limit=settings.max_body_bytes),
        ],
    )


def _lifespan(
    settings: Settings, metrics: Metrics, tracing: Tracing
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with BoundedExitStack(SHUTDOWN_STEP_S) as stack:
            stack.callback(metrics.process_exited)
            stack.callback(tracing.shutdown)
            await _start(app, settings, metrics, tracing, stack)
            yield

    return lifespan


@dataclass(frozen=True, slots=True)
class _Services:
    """What the endpoints are built from: each started once, each closed by the stack."""

    store: Store
    keybox: KeyBox | None
    providers: ProviderClient
    ledger: Ledger
    edge_queue: EdgeQueueDrain
    cache: PrismCache | None
    health: HealthBoard
    auth: Authenticator
    revoker: Revoker
    keyrings: Keyrings
    spend: SpendControl


async def _start(
    app: Starlette,
    settings: Settings,
    metrics: Metrics,
    tracing: Tracing,
    stack: contextlib.AsyncExitStack,
) -> None:
    """Build every dependency once; `stack` closes them in reverse order at shutdown."""
    fix_mmap_threshold()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    services = await _start_services(settings, metrics, stack)
    state = app.state
    state.revoker, state.spend = services.revoker, services.spend
    state.settings, state.store = settings, services.store
    state.keybox, state.ledger, state.cache = services.keybox, services.ledger, services.cache
    memory = SessionMemory(settings.redis_url)
    stack.push_async_callback(memory.aclose)
    state.sessions = SessionsEndpoint(services.auth, memory)
    state.chat = _chat_completions(settings, metrics, tracing, services, memory)
    spend_changed = services.spend.policies.reload if services.spend else None
    state.dashboard = await build_dashboard(
        settings, services.store, services.keybox, services.cache, services.revoker.revoke, stack,
        spend_changed,
    )  # fmt: skip
    state.health = services.health
    state.models = ModelsEndpoint(services.auth, services.keyrings)
    state.feedback = FeedbackEndpoint(services.auth, services.store)
    state.metrics = metrics
    state.metrics_endpoint = _metrics_endpoint(settings, metrics, services, stack)
    if settings.simulator_url:
        log.warning(
            "no real provider keys needed: providers are answered by the simulator at %s",
            settings.simulator_url,
        )
    settle_after_start_up()


async def _start_services(
    settings: Settings, metrics: Metrics, stack: contextlib.AsyncExitStack
) -> _Services:
    master = master_key_from(settings.master_key) if settings.master_key else None
    snapshots = Snapshots(settings.redis_url, master) if master else None  # closed by the store
    store = Store(settings.supabase_url, settings.supabase_service_key, snapshots=snapshots)
    stack.push_async_callback(store.aclose)
    keybox = KeyBox(master) if master else None
    providers = ProviderClient(settings)
    stack.push_async_callback(providers.aclose)
    ledger = Ledger(
        store, settings.outbox_path, settings.ledger_batch_size, settings.ledger_flush_interval_s
    )
    await ledger.start()
    stack.push_async_callback(ledger.aclose)
    edge_queue = EdgeQueueDrain.for_settings(settings, store)
    await edge_queue.start()
    stack.push_async_callback(edge_queue.aclose)
    cache = build_cache(settings, ledger, store, metrics)
    if cache is not None:
        stack.push_async_callback(cache.aclose)
    health = HealthBoard(HealthConfig.of(settings), settings.redis_url, metrics.health)
    await health.start()
    stack.push_async_callback(health.aclose)
    notes = KeyNotes(snapshots, MAX_STALE_S) if snapshots else None
    throttle = AddressThrottle(settings.auth_failures_per_minute)
    auth = Authenticator(store, settings.auth_cache_ttl_s, throttle=throttle, notes=notes)
    revoker = await _revocation(settings, store, auth, stack)
    keyrings = Keyrings(store, keybox, settings.simulator_url)
    stack.push_async_callback(keyrings.aclose)
    spend = await start_spend(settings, store, stack)
    return _Services(
        store, keybox, providers, ledger, edge_queue, cache, health, auth, revoker, keyrings, spend
    )


def _chat_completions(
    settings: Settings,
    metrics: Metrics,
    tracing: Tracing,
    services: _Services,
    memory: SessionMemory,
) -> ChatCompletions:
    return ChatCompletions(
        auth=services.auth,
        keyrings=services.keyrings,
        router=Router(),
        providers=services.providers,
        ledger=services.ledger,
        metrics=metrics,
        tracing=tracing,
        health=services.health,
        cache=services.cache,
        spend=services.spend,
        memory=memory,
        fusion_panel=settings.fusion_panel_size,
        fusion_deadline_s=settings.fusion_deadline_s,
    )


def _metrics_endpoint(
    settings: Settings, metrics: Metrics, services: _Services, stack: contextlib.AsyncExitStack
) -> MetricsEndpoint:
    edge_counters = EdgeCounters(settings.redis_url)
    stack.push_async_callback(edge_counters.aclose)
    return MetricsEndpoint(
        metrics,
        settings.metrics_token,
        _backlog_reader(metrics, services.ledger, services.edge_queue),
        edge_counters.read,
    )


async def _revocation(
    settings: Settings, store: Store, auth: Authenticator, stack: contextlib.AsyncExitStack
) -> Revoker:
    """Revoking announces on Redis; this worker listens, so others' revocations reach it too."""
    revocations = Revocations(settings.redis_url)
    stack.push_async_callback(revocations.aclose)
    listener = RevocationListener(settings.redis_url, auth.forget)
    await listener.start()
    stack.push_async_callback(listener.aclose)
    return Revoker(store, revocations, auth.forget)


class _Chat:
    """The chat route as a plain ASGI app (a class, so Starlette does not wrap it per request
    in a Request and an exception handler of its own)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["app"].state.chat(scope, receive, send)


_chat = _Chat()


async def _models(request: Request) -> object:
    return await request.app.state.models(request)


async def _model(request: Request) -> object:
    return await request.app.state.models.retrieve(request)


async def _feedback(request: Request) -> object:
    return await request.app.state.feedback(request)


async def _sessions(request: Request) -> object:
    return await request.app.state.sessions(request)


async def _metrics(request: Request) -> object:
    return await request.app.state.metrics_endpoint(request)


def _backlog_reader(
    metrics: Metrics, ledger: Ledger, edge_queue: EdgeQueueDrain
) -> Callable[[], Awaitable[None]]:
    async def read() -> None:
        metrics.backlog(ledger_pending=ledger.pending, ledger_parked=ledger.parked)
        try:
            metrics.edge_queue(await edge_queue.backlog())
        except RedisError as exc:
            log.warning("edge usage queue length unknown: %s", exc)

    return read


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "ledger_pending": request.app.state.ledger.pending})
