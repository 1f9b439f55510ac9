"""Prism API keys: their format, and the hash under which they are stored and looked up.

Only the SHA-256 of a key is stored (and a short display prefix); both tiers hash the
presented key the same way to find its record. Keys carry 256 bits of randomness, so an
unsalted fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "prism_sk_"
DISPLAY_LENGTH = len(PREFIX) + 6


def generate_api_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_LENGTH]


def bearer_token(authorization: str | None) -> str | None:
    """The key from an `Authorization: Bearer <key>` header, or None if it isn't one."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(PREFIX) or len(token) > 200:
        return None
    return token


# Where the edge keeps a key's record in Redis (Upstash), and what replaces it on revocation.
# The marker outlives any key lookup that was already in flight when the key was revoked, and
# the edge writes records only where none exists, so such a lookup cannot bring a record back.
KEY_RECORD_PREFIX = "prism:apikey:"
REVOKED_RECORD = '{"revoked":true}'
REVOKED_RECORD_TTL_S = 600
# The Redis pub/sub channel on which a revoked key's hash is announced to every origin worker.
REVOCATIONS_CHANNEL = "prism:apikey-revocations"


def key_record_name(key_hash: str) -> str:
    return f"{KEY_RECORD_PREFIX}{key_hash}"
