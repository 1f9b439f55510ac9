"""Admin API for provider health: GET /admin/v1/health, POST /admin/v1/health/reset.

The view is this worker's: its snapshot of every worker's rolling window (synced through
Redis about once a second) plus what it has not synced yet. Reset forgets the history of
every worker, e.g. after a provider's announced maintenance ended.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from origin.admin.api import PREFIX, NotConfigured, check_token
from origin.routing.buckets import membership
from origin.routing.health import HealthBoard
from origin.routing.health_window import SharedStateDown
from shared.errors import UpstreamUnavailable


def health_routes() -> list[Route]:
    return [
        Route(f"{PREFIX}/health", show, methods=["GET"]),
        Route(f"{PREFIX}/health/reset", reset, methods=["POST"]),
    ]


def _board(request: Request) -> HealthBoard:
    settings = getattr(request.app.state, "settings", None)
    board = getattr(request.app.state, "health", None)
    if settings is None or not isinstance(board, HealthBoard):
        raise NotConfigured("The health board is not running.")
    check_token(request, settings)
    return board


async def show(request: Request) -> JSONResponse:
    board = _board(request)
    return JSONResponse({"models": board.report(), "buckets": membership()})


async def reset(request: Request) -> JSONResponse:
    board = _board(request)
    try:
        await board.clear_shared()
    except SharedStateDown as exc:
        raise UpstreamUnavailable("Redis is unavailable; retry shortly.", retry_after=1) from exc
    return JSONResponse({"ok": True})
