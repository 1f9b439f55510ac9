"""The dashboard's routes under /dashboard. Reads go through Supabase as the signed-in user;
the few writes go through origin code (actions.py, team.py) once the user's own token has shown
the project is theirs, and a user's own password changes with their own session (account.py).
Pages are server-rendered HTML; the savings counter is live over SSE."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from origin.dashboard.account import account_change, account_page
from origin.dashboard.context import Dashboard, project_page, supa_of
from origin.dashboard.layout import bare
from origin.dashboard.live import live_savings
from origin.dashboard.manage import (
    budgets_create,
    budgets_delete,
    budgets_page,
    cache_page,
    cache_purge,
    keys_create,
    keys_page,
    keys_revoke,
    limits_set,
    providers_add,
    providers_page,
    providers_remove,
)
from origin.dashboard.members import members_add, members_page, members_remove, members_role
from origin.dashboard.pages import (
    activity,
    features,
    features_download,
    login,
    login_form,
    logout,
    overview,
    request_detail,
    requests_page,
)
from origin.dashboard.session import signed_in

__all__ = ["Dashboard", "dashboard_routes"]


def _configured(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
    async def run(request: Request) -> Response:
        if getattr(request.app.state, "dashboard", None) is None:
            body = (
                "<main><h1>Dashboard not configured</h1><p>Set SUPABASE_ANON_KEY on the origin."
                "</p></main>"
            )
            return bare("Dashboard", body, 503)
        return await endpoint(request)

    return run


def dashboard_routes() -> list[Route]:
    return [
        Route(route.path, _configured(route.endpoint), methods=sorted(route.methods or ()))
        for route in _routes()
    ]


def _routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/dashboard/login", login_form, methods=get),
        Route("/dashboard/login", login, methods=post),
        Route("/dashboard/logout", signed_in(supa_of, logout), methods=post),
        # The user's own account, not a project's: members and users in no organisation too.
        Route("/dashboard/account", signed_in(supa_of, account_page), methods=get),
        Route("/dashboard/account", signed_in(supa_of, account_change), methods=post),
        Route("/dashboard", project_page(overview), methods=get),
        Route("/dashboard/requests", project_page(requests_page), methods=get),
        Route("/dashboard/requests/{request_id}", project_page(request_detail), methods=get),
        Route("/dashboard/features", project_page(features), methods=get),
        Route("/dashboard/features.csv", project_page(features_download), methods=get),
        Route("/dashboard/budgets", project_page(budgets_page), methods=get),
        Route("/dashboard/budgets", project_page(budgets_create), methods=post),
        Route("/dashboard/budgets/delete", project_page(budgets_delete), methods=post),
        Route("/dashboard/limits", project_page(limits_set), methods=post),
        Route("/dashboard/cache", project_page(cache_page), methods=get),
        Route("/dashboard/cache/purge", project_page(cache_purge), methods=post),
        Route("/dashboard/keys", project_page(keys_page), methods=get),
        Route("/dashboard/keys", project_page(keys_create), methods=post),
        Route("/dashboard/keys/revoke", project_page(keys_revoke), methods=post),
        Route("/dashboard/providers", project_page(providers_page), methods=get),
        Route("/dashboard/providers", project_page(providers_add), methods=post),
        Route("/dashboard/providers/remove", project_page(providers_remove), methods=post),
        Route("/dashboard/members", project_page(members_page), methods=get),
        Route("/dashboard/members", project_page(members_add), methods=post),
        Route("/dashboard/members/role", project_page(members_role), methods=post),
        Route("/dashboard/members/remove", project_page(members_remove), methods=post),
        Route("/dashboard/activity", project_page(activity), methods=get),
        Route("/dashboard/live/savings", project_page(live_savings), methods=get),
    ]
