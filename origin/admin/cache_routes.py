"""Admin API for the cache: POST /admin/v1/cache/purge and GET /admin/v1/cache/stats.

Same guard as the rest of /admin/v1 (Bearer PRISM_ADMIN_TOKEN). Purge bodies name a project
and exactly one of: {"key": "<fingerprint>"}, {"tag": "key=value"}, {"all": true}; an optional
"actor" (who asked, for the audit row) is recorded as "admin:<actor>".
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from origin.admin.api import PREFIX, NotConfigured, check_token
from origin.admin.purging import run_purge
from origin.cache.exact import LayerDown
from origin.cache.purge import Purger
from origin.store import StoreError, StoreUnavailable, valid_id
from shared.errors import InvalidRequest, NotFound, PrismError, UpstreamUnavailable
from shared.json_depth import check_json_depth


def cache_routes() -> list[Route]:
    return [
        Route(f"{PREFIX}/cache/purge", purge, methods=["POST"]),
        Route(f"{PREFIX}/cache/stats", stats, methods=["GET"]),
    ]


async def purge(request: Request) -> JSONResponse:
    # Our errors propagate to the app's one handler; third-party failures are translated here.
    _authorise(request)
    body = await _body(request)
    project_id = body.get("project_id")
    if not isinstance(project_id, str) or not valid_id(project_id):
        raise InvalidRequest("'project_id' must be a project id (a uuid).", param="project_id")
    who = _actor(body.get("actor"))
    try:
        if await request.app.state.store.get_project(project_id) is None:
            raise NotFound(f"No project {project_id!r}.", param="project_id")
        result = await run_purge(_purger(request), project_id, body, who)
    except (LayerDown, StoreUnavailable) as exc:
        raise UpstreamUnavailable(
            "The cache or the database is unavailable; retry shortly.", retry_after=1
        ) from exc
    except StoreError as exc:
        raise PrismError(
            f"The database refused the purge record: {exc.message}", code="store_error"
        ) from exc
    return JSONResponse(result.to_json())


def _actor(actor: Any) -> str:
    return f"admin:{actor.strip()[:100]}" if isinstance(actor, str) and actor.strip() else "admin"


async def stats(request: Request) -> JSONResponse:
    _authorise(request)
    cache = getattr(request.app.state, "cache", None)
    if cache is None:
        raise NotConfigured("The response cache is turned off on this origin.")
    return JSONResponse({"object": "cache.stats", **cache.snapshot()})


def _authorise(request: Request) -> None:
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        raise NotConfigured("The admin API is not configured yet.")
    check_token(request, settings)


def _purger(request: Request) -> Purger:
    cache = getattr(request.app.state, "cache", None)
    if cache is None:
        raise NotConfigured("The response cache is turned off on this origin.")
    purger: Purger = cache.purger
    return purger


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    check_json_depth(raw)
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return body
