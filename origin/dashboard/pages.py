"""The read-only pages (overview, request log and receipt, features) and signing in and out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from origin.dashboard import (
    csv_export,
    data,
    view_activity,
    view_features,
    view_keys,
    view_overview,
    view_requests,
)
from origin.dashboard.context import Context, read_form, supa_of
from origin.dashboard.layout import bare
from origin.dashboard.session import Viewer, clear_session_cookies, set_session_cookies
from origin.dashboard.site import site_of
from origin.dashboard.supa import SignInFailed


async def login_form(request: Request) -> Response:
    return bare("Sign in", view_keys.render_login(next_path=request.query_params.get("next", "")))


def _safe_next(target: str) -> str:
    return target if target.startswith("/dashboard") and "//" not in target else "/dashboard"


async def login(request: Request) -> Response:
    try:
        form = await read_form(request)
    except PermissionError:
        return bare("Sign in", view_keys.render_login("Refused."), 403)
    try:
        session = await supa_of(request).sign_in(form.get("email", ""), form.get("password", ""))
    except SignInFailed:
        body = view_keys.render_login("Wrong email or password.", form.get("next", ""))
        return bare("Sign in", body, 400)
    response = RedirectResponse(_safe_next(form.get("next", "")), status_code=303)
    set_session_cookies(response, session, site_of(request).secure(request))
    return response


async def logout(request: Request, viewer: Viewer) -> Response:
    await supa_of(request).sign_out(viewer.access_token)
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
    keys, key, first, last, result = await _features(request, ctx)
    body = view_features.render(result, keys, key, first, last, ctx.project_id)
    return ctx.render("Features", body, "/features")


async def features_download(request: Request, ctx: Context) -> Response:
    """The Features table of the same key and period, as a CSV file."""
    _, key, first, last, result = await _features(request, ctx)
    disposition = f'attachment; filename="{csv_export.filename(key, first, last)}"'
    return Response(
        csv_export.features_csv(result, key, first, last),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


async def _features(
    request: Request, ctx: Context
) -> tuple[list[str], str, date, date, dict[str, Any]]:
    q = request.query_params
    keys = await data.tag_keys(ctx.viewer.client, ctx.project_id)
    key = q.get("key") or ("feature" if "feature" in keys or not keys else keys[0])
    first, last = view_features.period(q.get("from"), q.get("to"), datetime.now(UTC).date())
    result = await data.features(ctx.viewer.client, ctx.project_id, key, first, last)
    return keys, key, first, last, result


async def activity(request: Request, ctx: Context) -> Response:
    entries = await data.activity(ctx.viewer.client, ctx.project_id)
    return ctx.render("Activity", view_activity.render_activity(entries), "/activity")
