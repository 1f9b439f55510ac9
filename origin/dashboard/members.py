"""The Members page's routes. Everyone in the organisation sees its members, read with their own
token; owners and admins add, re-role and remove them through origin code (team.py). A member's
posts never get here: context.py refuses every change a member posts."""

from __future__ import annotations

import base64
import binascii
import json

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from origin.dashboard import data, view_members
from origin.dashboard.context import Context, dash_of
from origin.dashboard.layout import href
from origin.dashboard.site import site_of
from origin.dashboard.team import Added
from origin.store import MemberRefused, StoreError, StoreUnavailable
from shared.errors import PrismError

# Who was just added (and their temporary password, for a new Auth user) arrives once, in a
# short-lived HttpOnly cookie deleted as it is shown, as a new API key does (manage.keys_page):
# reloading the page can neither show the password again nor add anyone twice.
ADDED_COOKIE = "prism_dash_added_member"
ADDED_PATH = "/dashboard/members"


async def _page(
    ctx: Context, added: Added | None = None, error: str = "", status: int = 200
) -> Response:
    members = await data.members(ctx.viewer.client, ctx.project_id)
    body = view_members.render(members, ctx.project_id, ctx.viewer.user_id, ctx.role, added, error)
    return ctx.render("Members", body, "/members", status)


def _encode(added: Added) -> str:
    raw = json.dumps({"email": added.email, "password": added.password}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(value: str) -> Added | None:
    try:
        fields = json.loads(base64.urlsafe_b64decode(value.encode()))
        return Added(str(fields["email"]), str(fields["password"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None


async def members_page(request: Request, ctx: Context) -> Response:
    cookie = request.cookies.get(ADDED_COOKIE, "")
    response = await _page(ctx, _decode(cookie) if cookie else None)
    if cookie:
        response.delete_cookie(ADDED_COOKIE, path=ADDED_PATH)
    return response


def _refusal(exc: Exception) -> tuple[str, int]:
    """What the page says about a refused change, and its status."""
    if isinstance(exc, MemberRefused):
        return exc.message, exc.status
    if isinstance(exc, PrismError):
        return exc.message, exc.status
    return str(exc), 503 if isinstance(exc, StoreUnavailable) else 400


async def members_add(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    try:
        added = await dash_of(request).team.add(
            ctx.project_id, ctx.viewer, form.get("email", ""), form.get("role", "member")
        )
    except (PrismError, StoreUnavailable, StoreError) as exc:
        message, status = _refusal(exc)
        return await _page(ctx, error=message, status=status)
    response = RedirectResponse(href("/members", ctx.project_id), status_code=303)
    response.set_cookie(
        ADDED_COOKIE,
        _encode(added),
        max_age=120,
        path=ADDED_PATH,
        httponly=True,
        samesite="strict",
        secure=site_of(request).secure(request),
    )
    return response


async def _change(request: Request, ctx: Context, role: str | None) -> Response:
    form: dict[str, str] = request.state.form
    try:
        await dash_of(request).team.change(
            ctx.project_id, ctx.viewer, form.get("user_id", ""), role
        )
    except (PrismError, StoreUnavailable, StoreError) as exc:
        message, status = _refusal(exc)
        return await _page(ctx, error=message, status=status)
    return RedirectResponse(href("/members", ctx.project_id), status_code=303)


async def members_role(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    return await _change(request, ctx, form.get("role", ""))


async def members_remove(request: Request, ctx: Context) -> Response:
    return await _change(request, ctx, None)
