"""Which providers a project can call, with its decrypted keys, cached briefly in-process.

Decrypting and fetching keys on every request would put a database round trip on the hot
path, so each project's endpoints live here for `ttl_s`; a key added or removed through the
CLI or admin API takes effect within that time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from origin.providers.base import Endpoint
from origin.providers.registry import PROVIDERS, endpoint_for
from origin.settings import Secret
from origin.store import Store, StoredProviderKey, StoreError, StoreUnavailable
from origin.tenancy.crypto import DecryptionFailed, KeyBox
from origin.tenancy.sealing import unseal, upgrade_legacy
from shared.errors import PrismError, UpstreamUnavailable

log = logging.getLogger("prism.origin")

SIMULATOR_KEY = Secret("sim-key")


@dataclass(frozen=True)
class Keyring:
    endpoints: dict[str, Endpoint]

    @property
    def available(self) -> frozenset[str]:
        return frozenset(self.endpoints)


class Keyrings:
    def __init__(
        self, store: Store, keybox: KeyBox | None, simulator_url: str, ttl_s: float = 30.0
    ) -> None:
        self._store = store
        self._keybox = keybox
        self._simulator_url = simulator_url
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Keyring]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def for_project(self, project_id: str) -> Keyring:
        cached = self._cache.get(project_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        lock = self._locks.setdefault(project_id, asyncio.Lock())
        async with lock:  # one load per project, however many requests arrive at once
            cached = self._cache.get(project_id)
            if cached and cached[0] > time.monotonic():
                return cached[1]
            try:
                keyring = await self._load(project_id)
            except StoreUnavailable as exc:
                if cached is None:
                    raise UpstreamUnavailable(
                        "This project's provider keys can't be read right now; retry shortly.",
                        retry_after=1,
                    ) from exc
                # Keys don't change during a database outage; keep serving the last ones.
                keyring = cached[1]
            self._cache[project_id] = (time.monotonic() + self._ttl_s, keyring)
            return keyring

    async def _load(self, project_id: str) -> Keyring:
        endpoints: dict[str, Endpoint] = {}
        stored = await self._store.provider_keys(project_id)
        for key in stored:
            if self._keybox is None:
                break
            try:
                secret = unseal(self._keybox, project_id, key)
                endpoint = endpoint_for(
                    key.name, secret, key.base_url, self._simulator_url, vendor=key.provider
                )
            except (DecryptionFailed, PrismError) as exc:
                # One unusable key must not take the project's other providers down with it;
                # a key whose provider or base URL was changed behind our back lands here.
                log.warning(
                    "skipping provider key %r of project %s: %s",
                    key.name,
                    project_id,
                    type(exc).__name__,
                )
                continue
            await self._upgrade(project_id, key, secret)
            endpoints[endpoint.provider] = endpoint
        if not endpoints and self._simulator_url:
            # No real keys: the local stack answers every provider from the simulator.
            for provider in PROVIDERS:
                endpoints[provider] = endpoint_for(
                    provider, SIMULATOR_KEY, None, self._simulator_url
                )
        return Keyring(endpoints)

    async def _upgrade(self, project_id: str, key: StoredProviderKey, secret: Secret) -> None:
        """Re-seal a version 1 key under its provider and base URL, once; the next load reads
        the new token. A failure only postpones it to that load."""
        if self._keybox is None:
            return
        try:
            if await upgrade_legacy(self._store, self._keybox, project_id, key, secret):
                log.info("re-sealed provider key %r of project %s", key.name, project_id)
        except (StoreError, StoreUnavailable) as exc:
            log.warning("provider key %r not re-sealed yet: %s", key.name, type(exc).__name__)
