"""The admin API under /admin/v1: projects, gateway API keys, provider keys, recent usage.

Guarded by `Authorization: Bearer <PRISM_ADMIN_TOKEN>`; with no token configured every
request is refused. JSON in and out, the OpenAI error envelope on errors. Secrets flow one
way: a new gateway key is shown once in the create response; a provider key goes in,
is encrypted before it reaches the store, and never comes back out.

Dependencies are passed to `admin_routes()` or, when omitted, read per request from
`request.app.state.store` (Store), `.keybox` (KeyBox, or None without a master key) and
`.settings` (Settings), which the app's lifespan sets.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from origin.admin.fields import (
    MAX_SECRET,
    SLUG,
    base_url_field,
    check_destination,
    checked_base_url,
    key_hint,
    name_taken,
    parse_since,
    parse_tag_filter,
    text_field,
)
from origin.settings import Settings
from origin.store import Store, StoreError, StoreUnavailable, valid_id
from origin.store.actor import acting_for
from origin.tenancy.crypto import DecryptionFailed, KeyBox
from origin.tenancy.sealing import change_destination, seal
from shared.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PrismError,
    UpstreamError,
    UpstreamUnavailable,
)
from shared.json_depth import check_json_depth

PREFIX = "/admin/v1"
# Provider-key names appear in URLs and in the encryption context: keep them plain.


class Conflict(PrismError):
    status, type, code = 409, "invalid_request_error", "conflict"


class NotConfigured(PrismError):
    status, type, code = 503, "api_error", "not_configured"


@dataclass(frozen=True)
class AdminDeps:
    store: Store
    keybox: KeyBox | None
    settings: Settings


Handler = Callable[[Request, AdminDeps], Awaitable[JSONResponse]]


def admin_routes(
    store: Store | None = None, keybox: KeyBox | None = None, settings: Settings | None = None
) -> list[Route]:
    """The admin routes; dependencies not given here are read from `request.app.state`."""

    def deps_for(request: Request) -> AdminDeps:
        state = request.app.state
        found_store = store or getattr(state, "store", None)
        found_settings = settings or getattr(state, "settings", None)
        if found_store is None or found_settings is None:
            raise NotConfigured("The admin API is not wired to a store yet.")
        return AdminDeps(found_store, keybox or getattr(state, "keybox", None), found_settings)

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(PREFIX + path, _guarded(handler, deps_for), methods=[method])

    return [
        route("/projects", create_project, "POST"),
        route("/projects", list_projects, "GET"),
        route("/projects/{project_id}/api_keys", create_api_key, "POST"),
        route("/projects/{project_id}/api_keys", list_api_keys, "GET"),
        route("/api_keys/{key_id}", revoke_api_key, "DELETE"),
        route("/projects/{project_id}/provider_keys", add_provider_key, "POST"),
        route("/projects/{project_id}/provider_keys", list_provider_keys, "GET"),
        route("/projects/{project_id}/provider_keys/{name}", remove_provider_key, "DELETE"),
        route("/projects/{project_id}/provider_keys/{name}", update_provider_key, "PATCH"),
        route("/usage", recent_usage, "GET"),
        route("/projects/{project_id}/feedback", feedback_quality, "GET"),
    ]


def _guarded(
    handler: Handler, deps_for: Callable[[Request], AdminDeps]
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        # Store failures become our errors here; the app's one handler renders every error.
        deps = deps_for(request)
        check_token(request, deps.settings)
        try:
            with acting_for("admin"):
                return await handler(request, deps)
        except StoreUnavailable as exc:
            raise UpstreamUnavailable(
                "The database is unavailable; retry shortly.", retry_after=1
            ) from exc
        except StoreError as exc:
            raise _store_refusal(exc) from exc

    return endpoint


def check_token(request: Request, settings: Settings) -> None:
    expected = settings.admin_token.reveal()
    if not expected:
        raise PermissionDenied(
            "The admin API is disabled: set PRISM_ADMIN_TOKEN to enable it.", code="admin_disabled"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Constant-time: the comparison must not reveal how much of a guessed token was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise AuthenticationFailed("Invalid admin token.", code="invalid_admin_token")


def _store_refusal(exc: StoreError) -> PrismError:
    if exc.conflict:
        return Conflict(f"Already exists: {exc.message}")
    if exc.missing_reference:
        return NotFound("The referenced project or organisation does not exist.")
    return UpstreamError(f"The database refused the request: {exc.message}", code="store_error")


def _ok(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)


def _listing(kind: str, items: list[Any]) -> JSONResponse:
    data = [{"object": kind, **(asdict(i) if not isinstance(i, dict) else i)} for i in items]
    return _ok({"object": "list", "data": data})


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    check_json_depth(raw)
    try:
        body = json.loads(raw) if raw else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return body


async def _project(request: Request, deps: AdminDeps) -> str:
    project_id = request.path_params["project_id"]
    if await deps.store.get_project(project_id) is None:
        raise NotFound(f"No project {project_id!r}.", param="project_id")
    return str(project_id)


async def create_project(request: Request, deps: AdminDeps) -> JSONResponse:
    body = await _body(request)
    name = text_field(body, "name", required=True)
    org_id = text_field(body, "org_id", required=False)
    if org_id is not None and not valid_id(org_id):
        raise InvalidRequest("'org_id' must be a uuid.", param="org_id")
    project = await deps.store.create_project(str(name), org_id)
    return _ok({"object": "project", **asdict(project)}, 201)


async def list_projects(request: Request, deps: AdminDeps) -> JSONResponse:
    return _listing("project", await deps.store.list_projects())


async def create_api_key(request: Request, deps: AdminDeps) -> JSONResponse:
    project_id = await _project(request, deps)
    name = text_field(await _body(request), "name", required=False)
    key, record = await deps.store.create_api_key(project_id, name)
    # The only time the key exists outside the caller's hands: it is not stored, only its hash.
    return _ok({"object": "api_key", **asdict(record), "key": key}, 201)


async def list_api_keys(request: Request, deps: AdminDeps) -> JSONResponse:
    project_id = await _project(request, deps)
    return _listing("api_key", await deps.store.list_api_keys(project_id))


async def revoke_api_key(request: Request, deps: AdminDeps) -> JSONResponse:
    key_id = request.path_params["key_id"]
    revoker = getattr(request.app.state, "revoker", None)
    record = await (revoker.revoke(key_id) if revoker else deps.store.revoke_api_key(key_id))
    if record is None:
        raise NotFound(f"No API key {key_id!r}.", param="key_id")
    return _ok({"object": "api_key", **asdict(record)})


async def add_provider_key(request: Request, deps: AdminDeps) -> JSONResponse:
    body = await _body(request)
    provider = text_field(body, "provider", required=True, limit=64, pattern=SLUG)
    name = text_field(body, "name", required=False, limit=64, pattern=SLUG) or str(provider)
    base_url = base_url_field(body)
    secret = text_field(body, "api_key", required=True, limit=MAX_SECRET)
    check_destination(str(provider), base_url)
    await checked_base_url(base_url, deps.settings)
    box = _keybox(deps)
    project_id = await _project(request, deps)
    key = seal(box, project_id, str(secret), name, str(provider), base_url)
    try:
        info = await deps.store.add_provider_key(
            project_id, key.provider, key.ciphertext, name, base_url, key_hint=key_hint(str(secret))
        )
    except StoreError as exc:
        if exc.conflict:
            raise Conflict(name_taken(name), param="name") from None
        raise
    return _ok({"object": "provider_key", **asdict(info)}, 201)


async def update_provider_key(request: Request, deps: AdminDeps) -> JSONResponse:
    """Change where a key is sent (`provider`, `base_url`; null resets the URL to the
    provider's own); the key is re-sealed for its new destination."""
    body = await _body(request)
    box = _keybox(deps)
    project_id = await _project(request, deps)
    name = request.path_params["name"]
    found = await deps.store.provider_keys(project_id, name) if SLUG.fullmatch(name) else []
    if not found:
        raise NotFound(f"No provider key named {name!r} in this project.", param="name")
    key = found[0]
    provider = text_field(body, "provider", required=False, limit=64, pattern=SLUG) or key.provider
    base_url = base_url_field(body) if "base_url" in body else key.base_url
    check_destination(provider, base_url)
    await checked_base_url(base_url, deps.settings)
    try:
        info = await change_destination(deps.store, box, project_id, key, provider, base_url)
    except DecryptionFailed:
        raise Conflict(
            f"Provider key {name!r} does not decrypt for its stored provider and base URL; "
            "add it again."
        ) from None
    if info is None:
        raise Conflict(f"Provider key {name!r} changed meanwhile; retry.")
    return _ok({"object": "provider_key", **asdict(info)})


def _keybox(deps: AdminDeps) -> KeyBox:
    if deps.keybox is None:
        raise NotConfigured(
            "PRISM_MASTER_KEY is not set on this origin; provider keys can't be stored until it is."
        )
    return deps.keybox


async def list_provider_keys(request: Request, deps: AdminDeps) -> JSONResponse:
    project_id = await _project(request, deps)
    return _listing("provider_key", await deps.store.list_provider_keys(project_id))


async def remove_provider_key(request: Request, deps: AdminDeps) -> JSONResponse:
    project_id = await _project(request, deps)
    name = request.path_params["name"]
    if not SLUG.fullmatch(name) or not await deps.store.remove_provider_key(project_id, name):
        raise NotFound(f"No provider key named {name!r} in this project.", param="name")
    return _ok({"object": "provider_key", "project_id": project_id, "name": name, "deleted": True})


async def feedback_quality(request: Request, deps: AdminDeps) -> JSONResponse:
    """Ratings per task type and model, worst quality first: where routing hurts answers."""
    project_id = await _project(request, deps)
    since = parse_since(request.query_params.get("since"))
    rows = await deps.store.feedback_quality(project_id, since)
    return _ok({"object": "list", "data": rows})


async def recent_usage(request: Request, deps: AdminDeps) -> JSONResponse:
    query = request.query_params
    project_id = query.get("project_id")
    if project_id is not None and not valid_id(project_id):
        raise InvalidRequest("'project_id' must be a uuid.", param="project_id")
    tag = parse_tag_filter(query.get("tag"))
    try:
        limit = int(query.get("limit", "50"))
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    rows = await deps.store.recent_usage(project_id, limit, tag, parse_since(query.get("since")))
    return _ok({"object": "list", "data": rows})
