"""Sealing a project's provider keys to where they may be sent, and re-sealing on change.

A key is sealed under its project, name, provider and base URL (crypto.py), so every path
that writes one of those (adding a key, changing its provider or URL, upgrading a version 1
token) goes through here and seals the key afresh under the values it stores.
"""

from __future__ import annotations

from origin.settings import Secret
from origin.store import ProviderKeyInfo, Store, StoredProviderKey
from origin.tenancy.crypto import KeyBox, is_legacy, legacy_context, provider_key_context


def seal(
    box: KeyBox, project_id: str, plaintext: str, name: str, provider: str, base_url: str | None
) -> StoredProviderKey:
    context = provider_key_context(project_id, name, provider, base_url)
    return StoredProviderKey(provider, name, base_url, box.encrypt(plaintext, context))


def unseal(box: KeyBox, project_id: str, key: StoredProviderKey) -> Secret:
    """The plaintext, if the row's provider and base URL are the ones it was sealed for;
    DecryptionFailed otherwise."""
    context = provider_key_context(project_id, key.name, key.provider, key.base_url)
    return box.decrypt(key.ciphertext, context, legacy_context(project_id, key.name))


async def upgrade_legacy(
    store: Store, box: KeyBox, project_id: str, key: StoredProviderKey, secret: Secret
) -> bool:
    """Re-seal a version 1 token under the full context; whether anything was rewritten."""
    if not is_legacy(key.ciphertext):
        return False
    now = seal(box, project_id, secret.reveal(), key.name, key.provider, key.base_url)
    return await store.reseal_provider_key(project_id, key.name, key, now) is not None


async def change_destination(
    store: Store,
    box: KeyBox,
    project_id: str,
    key: StoredProviderKey,
    provider: str,
    base_url: str | None,
) -> ProviderKeyInfo | None:
    """Point a stored key at another provider or base URL, re-sealed for it; None if the row
    changed underneath (or no longer exists)."""
    secret = unseal(box, project_id, key)
    now = seal(box, project_id, secret.reveal(), key.name, provider, base_url)
    return await store.reseal_provider_key(project_id, key.name, key, now)
