"""Prism API keys: their format, the 401s a header without one gets, and the hash under which
they are stored and looked up.

Only the SHA-256 of a key is stored (and a short display prefix); both tiers hash the
presented key the same way to find its record. Keys carry 256 bits of randomness, so an
unsalted fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets

from shared.errors import AuthenticationFailed

PREFIX = "prism_sk_"
DISPLAY_LENGTH = len(PREFIX) + 6
# Issued keys are 52 characters; a presented one far longer is refused before it is hashed.
MAX_KEY_LENGTH = 200


def generate_api_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_LENGTH]


def bearer_token(authorization: str | None) -> str | None:
    """The key from an `Authorization: Bearer <key>` header, or None if it isn't one."""
    try:
        return presented_key(authorization)
    except AuthenticationFailed:
        return None


def presented_key(authorization: str | None) -> str:
    """The Prism key of an Authorization header, or the 401 both tiers answer without it.

    The messages never repeat the header: it may hold a secret, if not a Prism one.
    """
    if not authorization:
        raise AuthenticationFailed(
            f"Missing API key: send it as 'Authorization: Bearer {PREFIX}...'.",
            code="missing_api_key",
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(
            f"Malformed Authorization header: expected 'Bearer {PREFIX}...'."
        )
    if not token.startswith(PREFIX):
        # Most often an OpenAI or other provider key pasted where the gateway key belongs.
        raise AuthenticationFailed(
            f"Invalid API key: Prism keys start with '{PREFIX}' (this looks like a provider "
            "key; add provider keys to the project instead)."
        )
    if len(token) > MAX_KEY_LENGTH:
        raise unknown_key()  # no key this long was ever issued; not worth hashing
    return token


def unknown_key() -> AuthenticationFailed:
    return AuthenticationFailed("Invalid API key: it does not exist or was revoked.")


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
