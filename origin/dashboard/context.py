"""What every dashboard route shares: the dependencies built at start-up, the signed-in viewer's
projects as row-level security shows them, and forms accepted only from our own pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape
from typing import Any
from urllib.parse import parse_qs

from postgrest import APIError
from starlette.requests import Request
from starlette.responses import Response

from origin.dashboard import data
from origin.dashboard.actions import Actions
from origin.dashboard.layout import bare, page
from origin.dashboard.session import Viewer, signed_in
from origin.dashboard.site import Site, site_of
from origin.dashboard.supa import Supa
from origin.dashboard.team import Team
from origin.store.actor import acting_for

MAX_FORM_BYTES = 64 * 1024


class Dashboard:
    """Everything the routes need, built once at start-up (origin/app.py)."""

    def __init__(self, supa: Supa, actions: Actions, team: Team, site: Site) -> None:
        self.supa, self.actions, self.team, self.site = supa, actions, team, site


def dash_of(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def supa_of(request: Request) -> Supa:
    return dash_of(request).supa


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form, from a page of ours: a POST that does not show it comes from this
    host (its Origin, or failing that its Referer) is refused. Browsers send Origin with every
    POST; a request with neither header is no browser's form, and SameSite cookies alone would
    leave such a request's fate to the browser's cookie policy."""
    sent_from = request.headers.get("origin") or request.headers.get("referer") or ""
    if not site_of(request).same_origin(request, sent_from):
        raise PermissionError("cross-site form")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise PermissionError("form too large")
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


# Who may change a project (its API keys, provider keys, cache); everyone else only looks.
MANAGING_ROLES = frozenset({"owner", "admin"})


class Context:
    """The viewer's projects (as RLS shows them) and the one this page is about."""

    def __init__(self, viewer: Viewer, projects: list[dict[str, str]], project_id: str) -> None:
        self.viewer, self.projects, self.project_id = viewer, projects, project_id
        self.role = next((p.get("role", "") for p in projects if p["id"] == project_id), "")
        self.can_manage = self.role in MANAGING_ROLES

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


READ_ONLY_PAGE = (
    "<main><h1>Refused</h1><p>Your role in this organisation is member: you can see its "
    "projects but not change them. Ask an owner or admin.</p></main>"
)

PageHandler = Callable[[Request, Context], Awaitable[Response]]


def unavailable(exc: APIError) -> Response:
    """What a page says when PostgREST refused or failed a read it needs."""
    message = escape(exc.message or "the database refused")
    return bare("Unavailable", f'<main><div class="error">{message}</div></main>', 502)


def project_page(handler: PageHandler) -> Callable[..., Any]:
    """A page about one of the viewer's projects: ?project= if it is theirs, else their first."""

    async def with_project(request: Request, viewer: Viewer) -> Response:
        try:
            projects = await data.projects(viewer.client)
        except APIError as exc:
            return unavailable(exc)
        if not projects:
            return bare(
                "No projects",
                "<main><h1>No projects yet</h1><p>Your account is not a member of any "
                "organisation. Ask an owner to add you. If whoever made your account gave you "
                'a temporary password, <a href="/dashboard/account">set your own</a> first: '
                'another organisation cannot add you until then.</p><form method="post" '
                'action="/dashboard/logout"><button>Sign out</button></form></main>',
            )
        wanted = request.query_params.get("project")
        ids = {p["id"] for p in projects}
        if request.method == "POST":
            try:
                form = await read_form(request)
            except PermissionError:
                return bare("Refused", "<main><h1>Refused</h1></main>", 403)
            request.state.form = form
            wanted = form.get("project")
            if wanted not in ids:
                return bare("Not found", "<main><h1>No such project</h1></main>", 404)
        project_id = wanted if wanted in ids else projects[0]["id"]
        ctx = Context(viewer, projects, project_id)
        # Every POST under a project changes it, so one check here covers every form, and a
        # page added later is refused for members until it is meant for them.
        if request.method == "POST" and not ctx.can_manage:
            return bare("Refused", READ_ONLY_PAGE, 403)
        try:
            # Whoever signed in is who the activity trail names for what this page changes.
            with acting_for(f"user:{viewer.email}"):
                return await handler(request, ctx)
        except APIError as exc:
            return unavailable(exc)

    return signed_in(supa_of, with_project)
