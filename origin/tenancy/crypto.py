"""Encryption at rest for customers' provider keys (AES-256-GCM under one master key).

A stored token is base64(version byte + 12-byte random nonce + ciphertext + 16-byte tag).
Bound as associated data is everything that decides who uses the key and where it is sent:
project, name, provider and base URL (version 2). A token copied into another project's row,
or a row whose provider or base URL was changed behind the gateway's back, fails to decrypt,
so a stored key cannot be pointed at someone else's host by editing the database.

Version 1 tokens bound only project and name; they still decrypt (under their own context,
`legacy_context`) so the keyring can re-seal them as version 2 on first use.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from origin.env_values import MASTER_KEY_BYTES, decode_key
from origin.settings import Secret, Settings

VERSION = 2
LEGACY_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = MASTER_KEY_BYTES
# Domain-separates these tokens from anything else that might one day share the master key.
_AAD_PREFIXES = {VERSION: b"prism/provider-key/v2:", LEGACY_VERSION: b"prism/provider-key/v1:"}


class MasterKeyError(ValueError):
    """The configured master key is missing or not 32 bytes of base64 or hex."""


class DecryptionFailed(ValueError):
    """A token is corrupt, was tampered with, belongs to another context or another master key."""


class KeyBox:
    """Encrypts and decrypts provider keys; holds the master key and nothing else."""

    __slots__ = ("_aead",)

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise MasterKeyError(f"master key must be {KEY_BYTES} bytes, got {len(master_key)}")
        self._aead = AESGCM(master_key)

    def __repr__(self) -> str:
        return "KeyBox(***)"

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _aad(VERSION, context))
        return base64.b64encode(bytes([VERSION]) + nonce + sealed).decode("ascii")

    def decrypt(self, token: str, context: str, legacy_context: str | None = None) -> Secret:
        """The plaintext of `token` sealed under `context`; a version 1 token is opened under
        `legacy_context` (and refused without one)."""
        raw = _raw(token)
        version = raw[0]
        if version == LEGACY_VERSION and legacy_context is not None:
            context = legacy_context
        elif version != VERSION:
            raise DecryptionFailed("provider key ciphertext has an unknown format")
        nonce, sealed = raw[1 : 1 + NONCE_BYTES], raw[1 + NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad(version, context))
        except InvalidTag as exc:
            raise DecryptionFailed(
                "provider key does not decrypt: wrong master key, wrong project/name, or tampered"
            ) from exc
        return Secret(plain.decode("utf-8"))


def _raw(token: str) -> bytes:
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise DecryptionFailed("provider key ciphertext is not base64") from exc
    if len(raw) < 1 + NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("provider key ciphertext has an unknown format")
    return raw


def _aad(version: int, context: str) -> bytes:
    return _AAD_PREFIXES[version] + context.encode("utf-8")


def is_legacy(token: str) -> bool:
    """Whether `token` was sealed under the version 1 context and should be re-sealed."""
    try:
        return _raw(token)[0] == LEGACY_VERSION
    except DecryptionFailed:
        return False


def provider_key_context(project_id: str, name: str, provider: str, base_url: str | None) -> str:
    """The associated data a provider key is sealed under; store and router must agree on it.

    JSON, so no value can contain a separator that shifts the others."""
    return json.dumps([project_id, name, provider, base_url or ""], separators=(",", ":"))


def legacy_context(project_id: str, name: str) -> str:
    """What version 1 tokens were sealed under: project and name only."""
    return f"{project_id}:{name}"


def master_key_from(source: Settings | Secret | str) -> bytes:
    """32 key bytes from base64 (standard or URL-safe) or hex text; the value is never echoed."""
    if isinstance(source, Settings):
        source = source.master_key
    text = (source.reveal() if isinstance(source, Secret) else source).strip()
    if not text:
        raise MasterKeyError("PRISM_MASTER_KEY is not set (generate one with `prism master-key`)")
    key = decode_key(text)
    if key is None:
        raise MasterKeyError(
            f"PRISM_MASTER_KEY must be {KEY_BYTES} bytes written as base64 or hex "
            f"(got {len(text)} characters that decode to neither)"
        )
    return key


def generate_master_key() -> str:
    """A fresh master key as base64 text, the form PRISM_MASTER_KEY takes."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def load_or_create_master_key(path: Path) -> Secret:
    """The key stored at `path`, creating it (owner-only permissions) on first use.

    For local runs: losing this file makes every stored provider key unreadable, so it is
    never overwritten.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text(encoding="ascii").strip()
        master_key_from(text)
        return Secret(text)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        key = generate_master_key()
        handle.write(key + "\n")
    return Secret(key)
