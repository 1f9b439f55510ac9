"""Which providers a project can call, with its decrypted keys, cached briefly in-process.

Decrypting and fetching keys on every request would put a database round trip on the hot
path, so each project's endpoints live here for `ttl_s`; a key added or removed through the
CLI or admin API takes effect within that time plus one read. Expired endpoints keep serving
while they are read again in the background (origin.revalidating): a database that hangs
holds no request, and one that is down leaves the last keys read in use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from origin.providers.base import Endpoint
from origin.providers.registry import PROVIDERS, endpoint_for
from origin.revalidating import Revalidating
from origin.settings import Secret
from origin.store import Store, StoredProviderKey, StoreError, StoreUnavailable
from origin.tenancy.crypto import DecryptionFailed, KeyBox
from origin.tenancy.sealing import unseal, upgrade_legacy
from shared.errors import PrismError

log = logging.getLogger("prism.origin")

SIMULATOR_KEY = Secret("sim-key")


@dataclass(frozen=True)
class Keyring:
    endpoints: dict[str, Endpoint]
    # Providers whose stored key this origin cannot use (it does not decrypt under this
    # PRISM_MASTER_KEY, or its destination is no longer allowed): named in the error a
    # request gets when nothing else can serve it, rather than "no keys configured".
    unusable: frozenset[str] = frozenset()

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
        self._cache = Revalidating("provider keys", self._load, ttl_s)

    async def for_project(self, project_id: str) -> Keyring:
        return await self._cache.get(project_id)

    async def aclose(self) -> None:
        await self._cache.aclose()

    async def _load(self, project_id: str) -> Keyring:
        endpoints: dict[str, Endpoint] = {}
        unusable: set[str] = set()
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
                unusable.add(key.provider)
                continue
            await self._upgrade(project_id, key, secret)
            endpoints[endpoint.provider] = endpoint
        if not endpoints and not unusable and self._simulator_url:
            # No real keys: the local stack answers every provider from the simulator (not a
            # project whose keys are broken: that must show, as it would in production).
            for provider in PROVIDERS:
                endpoints[provider] = endpoint_for(
                    provider, SIMULATOR_KEY, None, self._simulator_url
                )
        return Keyring(endpoints, frozenset(unusable - set(endpoints)))

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
