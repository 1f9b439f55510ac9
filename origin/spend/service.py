"""Building spend control from the origin's settings, and closing it: what app.py calls."""

from __future__ import annotations

from contextlib import AsyncExitStack

from origin.settings import Settings
from origin.spend.audit import AuditLog
from origin.spend.control import SpendControl
from origin.spend.counters import Counters
from origin.spend.policies import Policies
from origin.spend.reconcile import Reconciler
from origin.store import Store

# A reservation outlives the longest request it can belong to, then lapses on its own.
RESERVATION_MARGIN_S = 60.0


async def start_spend(settings: Settings, store: Store, stack: AsyncExitStack) -> SpendControl:
    counters = Counters(settings.redis_url, settings.spend_timeout_s, settings.spend_cooldown_s)
    stack.push_async_callback(counters.aclose)
    await counters.load_scripts()
    policies = Policies(store, counters, settings.spend_policy_ttl_s)
    stack.push_async_callback(policies.aclose)
    audit = AuditLog(store)
    await audit.start()
    stack.push_async_callback(audit.aclose)
    reconciler = Reconciler(store, counters, policies, settings.spend_reconcile_interval_s)
    await reconciler.start()
    stack.push_async_callback(reconciler.aclose)
    ttl = settings.total_timeout_s + RESERVATION_MARGIN_S
    spend = SpendControl(policies, counters, reconciler, audit, ttl)
    stack.push_async_callback(spend.aclose)
    return spend
