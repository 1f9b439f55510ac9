"""The Account page's routes: the signed-in user changes their own password.

It is about the user, not a project, so it runs under `signed_in` rather than `project_page`:
a member (whom project_page refuses every POST) changes their own password like anyone, and so
does a user no organisation has yet, such as an account the Members page made whose maker then
dropped it: another organisation cannot add that account until its password is its owner's
(0035_org_member_created_accounts.sql), and this page is where it becomes theirs.

The current password is proved by a sign-in before anything changes, so a stolen session cookie
alone cannot take the account over. Auth then signs out every other session of the user (whoever
knew the old password included), and the browser carries on with the session that made the
change. No password is logged or written back into a page."""

from __future__ import annotations

import logging

from postgrest import APIError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from origin.dashboard import data, view_account
from origin.dashboard.context import Context, read_form, supa_of, unavailable
from origin.dashboard.layout import bare, href
from origin.dashboard.session import Viewer
from origin.dashboard.supa import PasswordNotChanged, SignInFailed
from origin.dashboard.view_account import MAX_PASSWORD_BYTES, MIN_PASSWORD

# One line per change: whose password changed. Never the password.
log = logging.getLogger("prism.dashboard.account")


def password_problem(current: str, new: str, again: str) -> str:
    """What to fix in the form, or "" when it may go to Auth."""
    if not current:
        return "Enter your current password."
    if new != again:
        return "The new password and its repeat differ: type the same new password twice."
    if len(new) < MIN_PASSWORD:
        return f"The new password is too short: use at least {MIN_PASSWORD} characters."
    if len(new.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return f"The new password is too long: use at most {MAX_PASSWORD_BYTES} bytes."
    if new == current:
        return "The new password is the one you have now: choose a different one."
    return ""


async def _page(
    viewer: Viewer, wanted: str, changed: bool = False, error: str = "", status: int = 200
) -> Response:
    """The page, in the navigation of ?project= when it is the viewer's (else their first; none
    for a user in no organisation)."""
    try:
        projects = await data.projects(viewer.client)
    except APIError as exc:
        return unavailable(exc)
    ids = [p["id"] for p in projects]
    ctx = Context(viewer, projects, wanted if wanted in ids else (ids[0] if ids else ""))
    body = view_account.render(viewer.email, ctx.project_id, changed, error)
    return ctx.render("Account", body, "/account", status)


async def account_page(request: Request, viewer: Viewer) -> Response:
    query = request.query_params
    return await _page(viewer, query.get("project", ""), changed=query.get("changed") == "1")


async def account_change(request: Request, viewer: Viewer) -> Response:
    try:
        form = await read_form(request)
    except PermissionError:
        return bare("Refused", "<main><h1>Refused</h1></main>", 403)
    wanted = form.get("project", "")
    current, new = form.get("current_password", ""), form.get("new_password", "")
    problem = password_problem(current, new, form.get("new_password_again", ""))
    if problem:
        return await _page(viewer, wanted, error=problem, status=400)
    try:
        session = await supa_of(request).change_password(viewer.email, current, new)
    except SignInFailed:
        message = "Your current password is not right, so nothing was changed."
        return await _page(viewer, wanted, error=message, status=403)
    except PasswordNotChanged as exc:
        message = f"Supabase Auth did not take the new password: {exc.message}"
        return await _page(viewer, wanted, error=message, status=exc.status)
    # Auth has signed out the session this request came with: the browser takes the new one
    # (signed_in sets the cookies of a renewed session on the response).
    viewer.renewed = session
    log.info("password changed: %s", viewer.email)
    return RedirectResponse(href("/account", wanted or None, changed="1"), status_code=303)
