"""The origin application: wiring only. Each dependency is built once, at start-up."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from origin.admin import admin_routes
from origin.auth import Authenticator
from origin.cache.routes import cache_routes
from origin.cache.service import build_cache
from origin.completions import ChatCompletions
from origin.crypto import KeyBox, master_key_from
from origin.edge_queue import EdgeQueueDrain
from origin.errors import EXCEPTION_HANDLERS
from origin.feedback import FeedbackEndpoint
from origin.keyring import Keyrings
from origin.ledger import Ledger
from origin.middleware import BodyLimit
from origin.models_api import ModelsEndpoint
from origin.providers.transport import ProviderClient
from origin.router import Router
from origin.settings import Settings
from origin.store import Store

log = logging.getLogger("prism.origin")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.supabase_url, settings.supabase_service_key)
        keybox = KeyBox(master_key_from(settings.master_key)) if settings.master_key else None
        providers = ProviderClient(settings)
        ledger = Ledger(store, settings.outbox_path, settings.ledger_batch_size,
                        settings.ledger_flush_interval_s)
        await ledger.start()
        edge_queue = EdgeQueueDrain.for_settings(settings, store)
        await edge_queue.start()
        auth = Authenticator(store, settings.auth_cache_ttl_s)
        keyrings = Keyrings(store, keybox, settings.simulator_url)
        state = app.state
        state.settings, state.store, state.keybox, state.ledger = settings, store, keybox, ledger
        state.cache = build_cache(settings, ledger, store)
        state.chat = ChatCompletions(auth=auth, keyrings=keyrings, router=Router(),
                                     providers=providers, ledger=ledger, cache=state.cache)
        state.models = ModelsEndpoint(auth, keyrings)
        state.feedback = FeedbackEndpoint(auth, store)
        if settings.simulator_url:
            log.warning("no real provider keys needed: providers are answered by the simulator "
                        "at %s", settings.simulator_url)
        try:
            yield
        finally:
            if state.cache is not None:
                await state.cache.aclose()
            await edge_queue.aclose()
            await ledger.aclose()
            await providers.aclose()
            await store.aclose()

    async def chat(request: Request) -> object:
        return await request.app.state.chat(request)

    async def models(request: Request) -> object:
        return await request.app.state.models(request)

    async def feedback(request: Request) -> object:
        return await request.app.state.feedback(request)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "ledger_pending": request.app.state.ledger.pending})

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/feedback", feedback, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
        *admin_routes(),
        *cache_routes(),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[Middleware(BodyLimit, limit=settings.max_body_bytes)],
    )
