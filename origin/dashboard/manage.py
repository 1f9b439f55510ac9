"""The pages that change things: cache purges, API keys, provider keys. Each change is made by
origin code (actions.py) for a project the viewer's own token has shown to be theirs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from origin.cache.exact import LayerDown
from origin.dashboard import data, view_budgets, view_cache, view_keys, view_limits
from origin.dashboard.actions import Actions
from origin.dashboard.context import Context, dash_of
from origin.dashboard.layout import href
from origin.dashboard.site import site_of
from origin.spend import changes
from origin.spend.changes import MAX_CENTS
from origin.store import StoreError, StoreUnavailable
from shared.errors import InvalidRequest, PrismError
from shared.limits import LIMIT_FIELDS, MAX_LIMIT


async def _cache_body(ctx: Context, actions: Actions, notice: str = "") -> str:
    client = ctx.viewer.client
    try:
        entries = await actions.cache_entries(ctx.project_id)
    except (LayerDown, PrismError) as exc:
        entries, notice = [], notice or f"The cache could not be read: {exc}"
    stored = {e.fingerprint: e.created_at for e in entries}
    stats = await data.cache_entry_stats(client, ctx.project_id, stored)
    series = await data.cache_series(client, ctx.project_id, view_cache.SERIES_DAYS)
    purges = await data.cache_purges(client, ctx.project_id)
    return view_cache.render(entries, stats, series, purges, ctx.project_id, notice, ctx.can_manage)


async def cache_page(request: Request, ctx: Context) -> Response:
    return ctx.render("Cache", await _cache_body(ctx, dash_of(request).actions), "/cache")


async def cache_purge(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    scope = form.get("scope", "")
    scope = scope if scope in ("key", "tag", "project") else "project"
    try:
        result = await dash_of(request).actions.purge(
            ctx.project_id, scope, form.get("target", ""), f"user:{ctx.viewer.email}"
        )
        notice = f"Purged {result.removed} cached answer{'s' if result.removed != 1 else ''}."
    except (PrismError, LayerDown, StoreUnavailable, StoreError) as exc:
        notice = f"Purge failed: {exc}"
    return ctx.render("Cache", await _cache_body(ctx, dash_of(request).actions, notice), "/cache")


NEW_KEY_COOKIE = "prism_dash_new_key"


async def keys_page(request: Request, ctx: Context) -> Response:
    # A key just created arrives once, in a short-lived cookie set by keys_create, and is
    # deleted as it is shown: reloading the page (or the POST) can neither show nor mint it again.
    created = request.cookies.get(NEW_KEY_COOKIE, "")
    keys = await data.api_keys(ctx.viewer.client, ctx.project_id)
    response = ctx.render(
        "API keys",
        view_keys.render_keys(keys, ctx.project_id, created, can_manage=ctx.can_manage),
        "/keys",
    )
    if created:
        response.delete_cookie(NEW_KEY_COOKIE, path="/dashboard/keys")
    return response


async def keys_create(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    try:
        created, _ = await dash_of(request).actions.create_key(ctx.project_id, form.get("name", ""))
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
        secure=site_of(request).secure(request),
    )
    return response


async def keys_revoke(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    try:
        await dash_of(request).actions.revoke_key(ctx.project_id, form.get("key_id", ""))
    except (PrismError, StoreUnavailable, StoreError) as exc:
        keys = await data.api_keys(ctx.viewer.client, ctx.project_id)
        body = view_keys.render_keys(keys, ctx.project_id, error=str(exc))
        return ctx.render("API keys", body, "/keys", 400)
    return RedirectResponse(href("/keys", ctx.project_id), status_code=303)


async def providers_page(request: Request, ctx: Context) -> Response:
    keys = await data.provider_keys(ctx.viewer.client, ctx.project_id)
    body = view_keys.render_providers(keys, ctx.project_id, can_manage=ctx.can_manage)
    return ctx.render("Providers", body, "/providers")


async def providers_add(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    notice, error = "", ""
    try:
        await dash_of(request).actions.add_provider(
            ctx.project_id,
            form.get("provider", ""),
            form.get("name", ""),
            form.get("base_url", ""),
            form.get("api_key", ""),
        )
        notice = "Provider key added."
    except (PrismError, StoreUnavailable, StoreError) as exc:
        error = _message(exc)
    keys = await data.provider_keys(ctx.viewer.client, ctx.project_id)
    body = view_keys.render_providers(keys, ctx.project_id, notice, error)
    return ctx.render("Providers", body, "/providers", 400 if error else 200)


async def providers_remove(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    try:
        await dash_of(request).actions.remove_provider(ctx.project_id, form.get("name", ""))
    except (PrismError, StoreUnavailable, StoreError):
        pass  # already gone: the list below shows the truth
    return RedirectResponse(href("/providers", ctx.project_id), status_code=303)


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, PrismError) else str(exc)


async def _budgets_page(
    request: Request, ctx: Context, notice: str = "", error: str = ""
) -> Response:
    client, project_id = ctx.viewer.client, ctx.project_id
    budgets, audit, limits, keys = await asyncio.gather(
        changes.budgets_with_spend(data.Budgets(client), project_id),
        data.policy_audit(client, project_id),
        data.rate_limits(client, project_id),
        data.api_keys(client, project_id),
    )
    body = view_budgets.render(budgets, ctx.project_id, ctx.can_manage, notice, error)
    body += view_limits.render(limits, keys, ctx.project_id, ctx.can_manage)
    body += view_budgets.audit_panel(audit)
    return ctx.render("Budgets", body, "/budgets", 400 if error else 200)


async def budgets_page(request: Request, ctx: Context) -> Response:
    return await _budgets_page(request, ctx)


def _budget_body(form: dict[str, str]) -> dict[str, object]:
    """The admin API's budget body from the page's form, whose limit is in dollars."""
    try:
        dollars = Decimal(form.get("limit_dollars", "").strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        dollars = Decimal("NaN")
    # Bounded before it is multiplied: decimal arithmetic raises (a 500) on an exponent as
    # large as a form can carry, and budgets stop at MAX_CENTS anyway.
    if not dollars.is_finite() or not 0 <= dollars <= MAX_CENTS / 100:
        raise InvalidRequest(
            "Limit: an amount in US dollars up to 10,000,000,000, e.g. 50 or 12.50.",
            param="limit",
        )
    tag = form.get("tag", "").strip()
    return {
        "limit_cents": str(dollars * 100),
        "period": form.get("period", ""),
        "action": form.get("action", ""),
        **({"tag": tag} if tag else {}),
    }


async def _budgets_change(
    request: Request, ctx: Context, change: Callable[[Actions, str], Awaitable[None]]
) -> Response:
    """Make a budget or limit change as the viewer, then back to the page (with what failed)."""
    try:
        await change(dash_of(request).actions, f"user:{ctx.viewer.email}")
    except (PrismError, StoreUnavailable, StoreError) as exc:
        return await _budgets_page(request, ctx, error=_message(exc))
    return RedirectResponse(href("/budgets", ctx.project_id), status_code=303)


async def budgets_create(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    return await _budgets_change(
        request,
        ctx,
        lambda actions, actor: actions.create_budget(ctx.project_id, _budget_body(form), actor),
    )


async def budgets_delete(request: Request, ctx: Context) -> Response:
    budget_id = request.state.form.get("budget_id", "")
    return await _budgets_change(
        request, ctx, lambda actions, actor: actions.delete_budget(ctx.project_id, budget_id, actor)
    )


def _limits_body(form: dict[str, str]) -> dict[str, object]:
    """The admin API's limits body from the page's form: an empty field is no limit."""
    body: dict[str, object] = {}
    for name in LIMIT_FIELDS:
        text = form.get(name, "").strip().replace(",", "")
        if not text:
            continue
        # ASCII digits only, and few of them: str.isdigit() also takes "²", which int() does
        # not, and int() refuses numbers of more than 4,300 digits; either was our 500.
        if not (text.isascii() and text.isdigit() and len(text) <= 13) or not (
            0 < int(text) <= MAX_LIMIT
        ):
            label = view_limits.LABELS[name]
            raise InvalidRequest(
                f"{label}: a whole number above 0 and up to {MAX_LIMIT:,}, or empty for none.",
                param=name,
            )
        body[name] = int(text)
    return body


async def limits_set(request: Request, ctx: Context) -> Response:
    form: dict[str, str] = request.state.form
    subject = form.get("subject", view_limits.PROJECT)
    key_id = None if subject == view_limits.PROJECT else subject
    return await _budgets_change(
        request,
        ctx,
        lambda actions, actor: actions.put_limits(
            ctx.project_id, key_id, _limits_body(form), actor
        ),
    )
