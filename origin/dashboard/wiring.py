"""Building the dashboard at start-up, from the origin's settings and shared dependencies."""

from __future__ import annotations

import contextlib

from origin.cache.response_cache import PrismCache
from origin.dashboard.actions import Actions, Revoke, SpendChanged
from origin.dashboard.routes import Dashboard, dashboard_routes
from origin.dashboard.site import Site
from origin.dashboard.supa import Supa
from origin.dashboard.team import Team
from origin.settings import Settings
from origin.store import Store
from origin.tenancy.crypto import KeyBox

__all__ = ["build_dashboard", "dashboard_routes"]


async def build_dashboard(
    settings: Settings,
    store: Store,
    keybox: KeyBox | None,
    cache: PrismCache | None,
    revoke: Revoke,
    stack: contextlib.AsyncExitStack,
    spend_changed: SpendChanged | None = None,
) -> Dashboard | None:
    """The dashboard, or None (its pages then say how to enable it) without an anon key."""
    if not settings.supabase_anon_key:
        return None
    supa = Supa(settings.supabase_url, settings.supabase_anon_key, settings.supabase_service_key)
    stack.push_async_callback(supa.aclose)
    actions = Actions(store, keybox, cache, revoke, settings, spend_changed)
    return Dashboard(supa, actions, Team(store, supa), Site(settings.public_url))
