"""What a dashboard user changes, done by origin code on their behalf: API keys are generated
and hashed here, provider keys encrypted here, the cache purged here. Every action takes a
project the caller has already proved membership of with their own token (routes.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from origin.admin.fields import (
    SLUG,
    base_url_field,
    check_destination,
    checked_base_url,
    key_hint,
)
from origin.cache.purge import PurgeResult
from origin.cache.response_cache import PrismCache
from origin.settings import Settings
from origin.spend import changes
from origin.store import ApiKeyRecord, Store
from origin.tenancy.crypto import KeyBox
from origin.tenancy.sealing import seal
from shared.cache_entry import project_index_key
from shared.errors import InvalidRequest, NotFound, PrismError

MAX_SECRET = 4096
MAX_ENTRIES_SCANNED = 2000
ENTRIES_SHOWN = 100
# origin.tenancy.revocation.Revoker.revoke: the database row, then every cache in front of it.
Revoke = Callable[[str], Awaitable[ApiKeyRecord | None]]
# Applies a project's changed budgets on this origin at once (origin.spend.policies), as the
# admin API does; other origin processes pick them up within their policy cache's lifetime.
SpendChanged = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class EntryView:
    fingerprint: str
    model: str
    question: str | None
    created_at: float
    ttl_s: int
    tags: dict[str, str] | None


class Actions:
    def __init__(
        self,
        store: Store,
        keybox: KeyBox | None,
        cache: PrismCache | None,
        revoke: Revoke,
        settings: Settings | None = None,
        spend_changed: SpendChanged | None = None,
    ) -> None:
        self._store, self._keybox, self._cache = store, keybox, cache
        self._revoke, self._spend_changed = revoke, spend_changed
        self._settings = settings or Settings()

    async def create_key(self, project_id: str, name: str) -> tuple[str, ApiKeyRecord]:
        return await self._store.create_api_key(project_id, name.strip()[:100] or None)

    async def revoke_key(self, project_id: str, key_id: str) -> None:
        keys = await self._store.list_api_keys(project_id)
        if not any(k.id == key_id for k in keys):
            raise NotFound("No such API key in this project.", param="key_id")
        # Not the bare database write: the origin workers' and the edge's remembered answers
        # for the key must go too, or it keeps working (and hitting the cache) for a minute.
        await self._revoke(key_id)

    async def add_provider(
        self, project_id: str, provider: str, name: str, base_url: str, secret: str
    ) -> None:
        provider, name = provider.strip(), name.strip() or provider.strip()
        if not SLUG.fullmatch(provider) or not SLUG.fullmatch(name):
            raise InvalidRequest("Provider and name: letters, digits, '.', '_' or '-'.")
        if not secret or len(secret) > MAX_SECRET:
            raise InvalidRequest("Paste the provider's API key.", param="api_key")
        url = base_url_field({"base_url": base_url.strip()}) if base_url.strip() else None
        check_destination(provider, url)
        await checked_base_url(url, self._settings)
        if self._keybox is None:
            raise PrismError("PRISM_MASTER_KEY is not set on this origin.", code="not_configured")
        key = seal(self._keybox, project_id, secret, name, provider, url)
        await self._store.add_provider_key(
            project_id, provider, key.ciphertext, name, url, key_hint=key_hint(secret)
        )

    async def remove_provider(self, project_id: str, name: str) -> None:
        if not await self._store.remove_provider_key(project_id, name):
            raise NotFound(f"No provider key named {name!r}.", param="name")

    async def create_budget(self, project_id: str, body: dict[str, Any], actor: str) -> None:
        await changes.create_budget(self._store, project_id, body, actor)
        await self._applied(project_id)

    async def delete_budget(self, project_id: str, budget_id: str, actor: str) -> None:
        # The id comes from a form: only a budget of this project (which the caller has shown
        # is theirs) may go, never one of another project named by its id.
        rows = await self._store.list_budgets(project_id)
        if not any(str(r.get("id")) == budget_id for r in rows):
            raise NotFound("No such budget in this project.", param="budget_id")
        await changes.delete_budget(self._store, budget_id, actor)
        await self._applied(project_id)

    async def put_limits(
        self, project_id: str, api_key_id: str | None, body: dict[str, Any], actor: str
    ) -> None:
        """Replace the project's (or one of its keys') rate limits: what is left out is none."""
        if api_key_id is not None:
            keys = await self._store.list_api_keys(project_id)
            if not any(k.id == api_key_id for k in keys):
                raise NotFound("No such API key in this project.", param="api_key_id")
        await changes.put_limits(self._store, project_id, api_key_id, body, actor)
        await self._applied(project_id)

    async def _applied(self, project_id: str) -> None:
        if self._spend_changed is not None:
            await self._spend_changed(project_id)

    def _purger_cache(self) -> PrismCache:
        if self._cache is None:
            raise PrismError("The response cache is off on this origin.", code="cache_off")
        return self._cache

    async def purge(self, project_id: str, scope: str, target: str, actor: str) -> PurgeResult:
        purger = self._purger_cache().purger
        if scope == "key":
            return await purger.by_key(project_id, target, actor)
        if scope == "tag":
            key, sep, value = target.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise InvalidRequest("Purge by tag takes key=value.", param="tag")
            return await purger.by_tag(project_id, key.strip(), value.strip(), actor)
        return await purger.by_project(project_id, actor)

    async def cache_entries(self, project_id: str) -> list[EntryView]:
        """The project's newest cached answers, read from Redis with their time left."""
        exact = self._purger_cache().exact
        fingerprints = sorted(await exact.members(project_index_key(project_id)))
        fingerprints = fingerprints[:MAX_ENTRIES_SCANNED]
        entries = await exact.entries(project_id, fingerprints)
        ttls = await exact.ttls(project_id, fingerprints)
        views = [
            EntryView(f, e.model, e.question, e.created_at, ttl, e.tags)
            for f, e, ttl in zip(fingerprints, entries, ttls)
            if e is not None and ttl > 0
        ]
        views.sort(key=lambda v: v.created_at, reverse=True)
        return views[:ENTRIES_SHOWN]
