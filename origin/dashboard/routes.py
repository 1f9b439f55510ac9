"""The dashboard's routes under /dashboard. Reads go through Supabase as the signed-in user;
the few writes go through origin code (actions.py) once the user's own token has shown the
project is theirs. Pages are server-rendered HTML; the savings counter is live over SSE."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from postgrest import APIError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from origin.cache.exact import LayerDown
from origin.dashboard import (
    data,
    fmt,
    view_cache,
    view_features,
    view_keys,
    view_overview,
    view_requests,
)
from origin.dashboard.actions import Actions
from origin.dashboard.layout import bare, href, page
from origin.dashboard.session import (
    Viewer,
    clear_session_cookies,
    set_session_cookies,
    signed_in,
)
from origin.dashboard.supa import SignInFailed, Supa
from origin.store import StoreError, StoreUnavailable
from shared.errors import PrismError

MAX_FORM_BYTES = 64 * 1024
LIVE_INTERVAL_S = 1.0
LIVE_HEARTBEAT_S = 15.0
LIVE_MAX_S = 600.0  # then the browser's EventSource reconnects (and the session is re-checked)


class Dashboard:
    """Everything the routes need, built once at start-up (origin/app.py)."""

    def __init__(self, supa: Supa, actions: Actions) -> None:
        self.supa, self.actions = supa, actions


def _dash(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def _supa(request: Request) -> Supa:
    return _dash(request).supa


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form, from a page of ours: a cross-site POST is refused."""
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.url.netloc:
        raise PermissionError("cross-site form")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise PermissionError("form too large")
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


class Context:
    """The viewer's projects (as RLS shows them) and the one this page is about."""

    def __init__(self, viewer: Viewer, projects: list[dict[str, str]], project_id: str) -> None:
        self.viewer, self.projects, self.project_id = viewer, projects, project_id

    def render(self, title: str, body: str, current: str, status: int = 200) -> Response:
        return page(
            title,
            body,
            current=current,
            email=self.viewer.email,
            projects=self.projects,
            project_id=self.project_id,
            status=status,
        )


PageHandler = Callable[[Request, Context], Awaitable[Response]]


def project_page(handler: PageHandler) -> Callable[..., Any]:
    """A page about one of the viewer's projects: ?project= if it is theirs, else their first."""

    async def with_project(request: Request, viewer: Viewer) -> Response:
        try:
            projects = await data.projects(viewer.client)
        except APIError as exc:
            return bare("Unavailable", f'<main><div class="error">{exc.message}</div></main>', 502)
        if not projects:
            return bare(
                "No projects",
                "<main><h1>No projects yet</h1><p>Your account is not a member of any "
                'organisation. Ask an owner to add you.</p><form method="post" '
                'action="/dashboard/logout"><button>Sign out</button></form></main>',
            )
        wanted = request.query_params.get("project")
        ids = {p["id"] for p in projects}
        if request.method == "POST":
            try:
                form = await _form(request)
            except PermissionError:
                return bare("Refused", "<main><h1>Refused</h1></main>", 403)
            request.state.form = form
            wanted = form.get("project")
            if wanted not in ids:
                return bare("Not found", "<main><h1>No such project</h1></main>", 404)
        project_id = wanted if wanted in ids else projects[0]["id"]
        try:
            return await handler(request, Context(viewer, projects, project_id))
        except APIError as exc:
            return bare("Unavailable", f'<main><div class="error">{exc.message}</div></main>', 502)

    return signed_in(_supa, with_project)


async def login_form(request: Request) -> Response:
    return bare("Sign in", view_keys.render_login(next_path=request.query_params.get("next", "")))


def _safe_next(target: str) -> str:
    return target if target.startswith("/dashboard") and "//" not in target else "/dashboard"


async def login(request: Request) -> Response:
    try:
        form = await _form(request)
    except PermissionError:
        return bare("Sign in", view_keys.render_login("Refused."), 403)
    try:
        session = await _supa(request).sign_in(form.get("email", ""), form.get("password", ""))
    except SignInFailed:
        body = view_keys.render_login("Wrong email or password.", form.get("next", ""))
        return bare("Sign in", body, 400)
    response = RedirectResponse(_safe_next(form.get("next", "")), status_code=303)
    set_session_cookies(response, session, request.url.scheme == "https")
    return response


async def logout(request: Request, viewer: Viewer) -> Response:
    await _supa(request).sign_out(viewer.access_token)
    response = RedirectResponse("/dashboard/login", status_code=303)
    clear_session_cookies(response)
    return response


async def overview(request: Request, ctx: Context) -> Response:
    result = await data.overview(ctx.viewer.client, ctx.project_id)
    return ctx.render("Overview", view_overview.render(result, ctx.project_id), "")


async def requests_page(request: Request, ctx: Context) -> Response:
    filters = view_requests.filters_from(request.query_params)
    rows = await data.requests(ctx.viewer.client, ctx.project_id, filters)
    body = view_requests.render_list(rows, request.query_params, ctx.project_id)
    return ctx.render("Requests", body, "/requests")


async def request_detail(request: Request, ctx: Context) -> Response:
    request_id = request.path_params["request_id"]
    row, feedback = await data.request_detail(ctx.viewer.client, ctx.project_id, request_id)
    if row is None:
        return ctx.render("Not found", "<h1>No such request in this project</h1>", "/requests", 404)
    return ctx.render(
        "Request", view_requests.render_detail(row, feedback, ctx.project_id), "/requests"
    )


async def features(request: Request, ctx: Context) -> Response:
    q = request.query_params
    keys = await data.tag_keys(ctx.viewer.client, ctx.project_id)
    key = q.get("key") or ("feature" if "feature" in keys or not keys else keys[0])
    first, last = view_features.period(q.get("from"), q.get("to"), datetime.now(UTC).date())
    result = await data.features(ctx.viewer.client, ctx.project_id, key, first, last)
    body = view_features.render(result, keys, key, first, last, ctx.project_id)
    return ctx.render("Features", body, "/features")


async def _cache_body(ctx: Context, actions: Actions, notice: str = "") -> str:
    client = ctx.viewer.client
    try:
        entries = await actions.cache_entries(ctx.project_id)
    except (LayerDown, PrismError) as exc:
        entries, notice = [], notice or f"The cache could not be read: {exc}"
    stats = await data.cache_entry_stats(client, ctx.project_id, [e.fingerprint for e in entries])
    series = await data.cache_series(client, ctx.project_id, view_cache.SERIES_DAYS)
    purges = await data.cache_purges(client, ctx.project_id)
    return view_cache.render(entries, stats, series, purges, ctx.project_id, notice)


async def cache_page(request: Request, ctx: Context) -> Response:
    return ctx.render("Cache", await _cache_body(ctx, _dash(request).actions), "/cache")


async def cache_purge(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    scope = form.get("scope", "")
    scope = scope if scope in ("key", "tag", "project") else "project"
    try:
        result = await _dash(request).actions.purge(
            ctx.project_id, scope, form.get("target", ""), f"user:{ctx.viewer.email}"
        )
        notice = f"Purged {result.removed} cached answer{'s' if result.removed != 1 else ''}."
    except (PrismError, LayerDown, StoreUnavailable, StoreError) as exc:
        notice = f"Purge failed: {exc}"
    return ctx.render("Cache", await _cache_body(ctx, _dash(request).actions, notice), "/cache")


NEW_KEY_COOKIE = "prism_dash_new_key"


async def keys_page(request: Request, ctx: Context) -> Response:
    # A key just created arrives once, in a short-lived cookie set by keys_create, and is
    # deleted as it is shown: reloading the page (or the POST) can neither show nor mint it again.
    created = request.cookies.get(NEW_KEY_COOKIE, "")
    keys = await data.api_keys(ctx.viewer.client, ctx.project_id)
    response = ctx.render("API keys", view_keys.render_keys(keys, ctx.project_id, created), "/keys")
    if created:
        response.delete_cookie(NEW_KEY_COOKIE, path="/dashboard/keys")
    return response


async def keys_create(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    try:
        created, _ = await _dash(request).actions.create_key(ctx.project_id, form.get("name", ""))
    except (StoreUnavailable, StoreError) as exc:
        keys = await data.api_keys(ctx.viewer.client, ctx.project_id)
        body = view_keys.render_keys(keys, ctx.project_id, error=f"Not created: {exc}")
        return ctx.render("API keys", body, "/keys", 503)
    response = RedirectResponse(href("/keys", ctx.project_id), status_code=303)
    response.set_cookie(
        NEW_KEY_COOKIE,
        created,
        max_age=120,
        path="/dashboard/keys",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def keys_revoke(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    try:
        await _dash(request).actions.revoke_key(ctx.project_id, form.get("key_id", ""))
    except (PrismError, StoreUnavailable, StoreError) as exc:
        keys = await data.api_keys(ctx.viewer.client, ctx.project_id)
        body = view_keys.render_keys(keys, ctx.project_id, error=str(exc))
        return ctx.render("API keys", body, "/keys", 400)
    return RedirectResponse(href("/keys", ctx.project_id), status_code=303)


async def providers_page(request: Request, ctx: Context) -> Response:
    keys = await data.provider_keys(ctx.viewer.client, ctx.project_id)
    return ctx.render("Providers", view_keys.render_providers(keys, ctx.project_id), "/providers")


async def providers_add(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    notice, error = "", ""
    try:
        await _dash(request).actions.add_provider(
            ctx.project_id,
            form.get("provider", ""),
            form.get("name", ""),
            form.get("base_url", ""),
            form.get("api_key", ""),
        )
        notice = "Provider key added."
    except (PrismError, StoreUnavailable, StoreError) as exc:
        error = exc.message if isinstance(exc, PrismError) else str(exc)
    keys = await data.provider_keys(ctx.viewer.client, ctx.project_id)
    body = view_keys.render_providers(keys, ctx.project_id, notice, error)
    return ctx.render("Providers", body, "/providers", 400 if error else 200)


async def providers_remove(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    try:
        await _dash(request).actions.remove_provider(ctx.project_id, form.get("name", ""))
    except (PrismError, StoreUnavailable, StoreError):
        pass  # already gone: the list below shows the truth
    return RedirectResponse(href("/providers", ctx.project_id), status_code=303)


def _savings_event(savings: dict[str, Any]) -> bytes:
    parts = (
        f"exact {fmt.money(savings.get('cache_exact_cents'))} · semantic "
        f"{fmt.money(savings.get('cache_semantic_cents'))} · provider cache "
        f"{fmt.money(savings.get('native_cents'))} · routing {fmt.money(savings.get('routing_cents'))}"
    )
    payload = {
        "total": fmt.money(savings.get("total_cents")),
        "total_cents": savings.get("total_cents"),
        "parts": parts,
        "requests": savings.get("requests"),
    }
    return f"event: savings\ndata: {json.dumps(payload)}\n\n".encode()


async def live_savings(request: Request, ctx: Context) -> Response:
    since = request.query_params.get("since") or ""
    try:
        datetime.fromisoformat(since)
    except ValueError:
        return Response("since must be an ISO timestamp", status_code=400)
    client, project_id = ctx.viewer.client, ctx.project_id

    async def events() -> AsyncIterator[bytes]:
        last: Any = None
        last_sent = started = time.monotonic()
        while time.monotonic() - started < LIVE_MAX_S and not await request.is_disconnected():
            try:
                savings = await data.savings(client, project_id, since)
            except APIError:
                return  # the session expired or was revoked: the browser reconnects
            now = time.monotonic()
            if savings.get("total_cents") != last or now - last_sent > LIVE_HEARTBEAT_S:
                last, last_sent = savings.get("total_cents"), now
                yield _savings_event(savings)
            await asyncio.sleep(LIVE_INTERVAL_S)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


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
        Route("/dashboard/logout", signed_in(_supa, logout), methods=post),
        Route("/dashboard", project_page(overview), methods=get),
        Route("/dashboard/requests", project_page(requests_page), methods=get),
        Route("/dashboard/requests/{request_id}", project_page(request_detail), methods=get),
        Route("/dashboard/features", project_page(features), methods=get),
        Route("/dashboard/cache", project_page(cache_page), methods=get),
        Route("/dashboard/cache/purge", project_page(cache_purge), methods=post),
        Route("/dashboard/keys", project_page(keys_page), methods=get),
        Route("/dashboard/keys", project_page(keys_create), methods=post),
        Route("/dashboard/keys/revoke", project_page(keys_revoke), methods=post),
        Route("/dashboard/providers", project_page(providers_page), methods=get),
        Route("/dashboard/providers", project_page(providers_add), methods=post),
        Route("/dashboard/providers/remove", project_page(providers_remove), methods=post),
        Route("/dashboard/live/savings", project_page(live_savings), methods=get),
    ]
