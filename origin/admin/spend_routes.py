"""Admin API for spend control: budgets, rate limits and the policy audit log.

    POST   /admin/v1/projects/{project_id}/budgets     {limit_cents, period, action, tag?}
    GET    /admin/v1/projects/{project_id}/budgets     each with this period's recorded spend
    DELETE /admin/v1/budgets/{budget_id}
    PUT    /admin/v1/projects/{project_id}/limits      {preset?, requests_per_minute, ...}
    GET    /admin/v1/projects/{project_id}/limits      the project's and every key's limits
    PUT    /admin/v1/api_keys/{key_id}/limits          the same for one API key
    GET    /admin/v1/api_keys/{key_id}/limits
    GET    /admin/v1/projects/{project_id}/policy_audit

Same guard as the rest of /admin/v1. A change made here applies on this origin process at
once and on the others within PRISM_SPEND_POLICY_TTL_S; every change is in policy_audit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from origin.admin.api import PREFIX, Conflict, NotConfigured, check_token
from origin.spend import changes
from origin.store import Store, StoreError, StoreUnavailable, valid_id
from shared.errors import InvalidRequest, NotFound, PrismError, UpstreamUnavailable

Handler = Callable[[Request, Store], Awaitable[JSONResponse]]


def spend_routes() -> list[Route]:
    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(PREFIX + path, _guarded(handler), methods=[method])

    return [
        route("/projects/{project_id}/budgets", create_budget, "POST"),
        route("/projects/{project_id}/budgets", list_budgets, "GET"),
        route("/budgets/{budget_id}", delete_budget, "DELETE"),
        route("/projects/{project_id}/limits", put_project_limits, "PUT"),
        route("/projects/{project_id}/limits", get_project_limits, "GET"),
        route("/api_keys/{key_id}/limits", put_key_limits, "PUT"),
        route("/api_keys/{key_id}/limits", get_key_limits, "GET"),
        route("/projects/{project_id}/policy_audit", policy_audit, "GET"),
    ]


def _guarded(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        state = request.app.state
        settings, store = getattr(state, "settings", None), getattr(state, "store", None)
        if settings is None or store is None:
            raise NotConfigured("The admin API is not configured yet.")
        check_token(request, settings)
        try:
            return await handler(request, store)
        except StoreUnavailable as exc:
            raise UpstreamUnavailable(
                "The database is unavailable; retry shortly.", retry_after=1
            ) from exc
        except StoreError as exc:
            if exc.conflict:
                raise Conflict(f"Already exists: {exc.message}") from exc
            raise PrismError(f"The database refused: {exc.message}", code="store_error") from exc

    return endpoint


def _actor(request: Request) -> str:
    who = request.headers.get("x-prism-actor", "").strip()[:100]
    return f"admin:{who}" if who and who.isprintable() else "admin"


async def _changed(request: Request, project_id: str) -> None:
    spend = getattr(request.app.state, "spend", None)
    if spend is not None:
        await spend.policies.reload(project_id)


async def _project(request: Request, store: Store) -> str:
    project_id = str(request.path_params["project_id"])
    if await store.get_project(project_id) is None:
        raise NotFound(f"No project {project_id!r}.", param="project_id")
    return project_id


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return body


async def create_budget(request: Request, store: Store) -> JSONResponse:
    project_id = await _project(request, store)
    budget = await changes.create_budget(store, project_id, await _body(request), _actor(request))
    await _changed(request, project_id)
    return JSONResponse(budget, status_code=201)


async def list_budgets(request: Request, store: Store) -> JSONResponse:
    project_id = await _project(request, store)
    data = await changes.budgets_with_spend(store, project_id)
    return JSONResponse({"object": "list", "data": data})


async def delete_budget(request: Request, store: Store) -> JSONResponse:
    deleted = await changes.delete_budget(store, request.path_params["budget_id"], _actor(request))
    await _changed(request, deleted["project_id"])
    return JSONResponse(deleted)


async def put_project_limits(request: Request, store: Store) -> JSONResponse:
    project_id = await _project(request, store)
    body = await _body(request)
    shown = await changes.put_limits(store, project_id, None, body, _actor(request))
    await _changed(request, project_id)
    return JSONResponse(shown)


async def get_project_limits(request: Request, store: Store) -> JSONResponse:
    project_id = await _project(request, store)
    rows = await store.list_limits(project_id)
    own = next((r for r in rows if not r.get("api_key_id")), None)
    keys = [changes.limits_json(r, project_id, r["api_key_id"]) for r in rows if r["api_key_id"]]
    return JSONResponse({**changes.limits_json(own, project_id, None), "keys": keys})


async def _key(request: Request, store: Store) -> tuple[str, str]:
    key_id = str(request.path_params["key_id"])
    record = await store.get_api_key(key_id) if valid_id(key_id) else None
    if record is None:
        raise NotFound(f"No API key {key_id!r}.", param="key_id")
    return record.project_id, key_id


async def put_key_limits(request: Request, store: Store) -> JSONResponse:
    project_id, key_id = await _key(request, store)
    body = await _body(request)
    shown = await changes.put_limits(store, project_id, key_id, body, _actor(request))
    await _changed(request, project_id)
    return JSONResponse(shown)


async def get_key_limits(request: Request, store: Store) -> JSONResponse:
    project_id, key_id = await _key(request, store)
    rows = await store.list_limits(project_id)
    own = next((r for r in rows if r.get("api_key_id") == key_id), None)
    return JSONResponse(changes.limits_json(own, project_id, key_id))


async def policy_audit(request: Request, store: Store) -> JSONResponse:
    project_id = await _project(request, store)
    return JSONResponse({"object": "list", "data": await store.policy_audit(project_id)})
