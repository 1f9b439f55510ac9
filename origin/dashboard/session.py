"""Who is looking: the Supabase session in two HttpOnly cookies, checked with Supabase Auth on
every request (a signed-out session stops working at once), refreshed when the access token
expires."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from origin.dashboard.site import site_of
from origin.dashboard.supa import Supa

if TYPE_CHECKING:  # only supa.py loads supabase-py, once the dashboard is first used
    from supabase import AsyncClient
    from supabase_auth.types import Session

ACCESS_COOKIE = "prism_dash_at"
REFRESH_COOKIE = "prism_dash_rt"
COOKIE_PATH = "/dashboard"
REFRESH_LIFETIME_S = 30 * 24 * 3600


@dataclass
class Viewer:
    email: str
    access_token: str
    client: AsyncClient
    user_id: str
    # A new session the response hands the browser: this request refreshed the old one, or
    # changed the password (which signs every other session out).
    renewed: Session | None = None


def set_session_cookies(response: Response, session: Session, secure: bool) -> None:
    common: dict[str, Any] = {
        "httponly": True,
        "samesite": "lax",
        "secure": secure,
        "path": COOKIE_PATH,
    }
    response.set_cookie(ACCESS_COOKIE, session.access_token, max_age=session.expires_in, **common)
    response.set_cookie(REFRESH_COOKIE, session.refresh_token, max_age=REFRESH_LIFETIME_S, **common)


def clear_session_cookies(response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path=COOKIE_PATH)


async def resolve_viewer(request: Request, supa: Supa) -> Viewer | None:
    token = request.cookies.get(ACCESS_COOKIE)
    if token:
        found = await supa.user_of(token)
        if found is not None:
            user_id, email = found
            return Viewer(email, token, supa.as_user(token), user_id)
    refresh = request.cookies.get(REFRESH_COOKIE)
    if not refresh:
        return None
    session = await supa.refresh(refresh)
    if session is None or session.user is None:
        return None
    token = session.access_token
    user = session.user
    return Viewer(user.email or "", token, supa.as_user(token), user.id, renewed=session)


Handler = Callable[[Request, Viewer], Awaitable[Response]]


def signed_in(supa_of: Callable[[Request], Supa], handler: Handler) -> Callable[..., Any]:
    """Run `handler` for a signed-in viewer; send anyone else to the login page."""

    async def run(request: Request) -> Response:
        viewer = await resolve_viewer(request, supa_of(request))
        if viewer is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response: Response = RedirectResponse(
                f"/dashboard/login?next={quote(target, safe='')}", status_code=303
            )
            clear_session_cookies(response)
            return response
        response = await handler(request, viewer)
        if viewer.renewed is not None:
            set_session_cookies(response, viewer.renewed, site_of(request).secure(request))
        return response

    return run
