"""Who sent a request, from its Bearer key: instance memory, then Upstash, then Supabase.

Three outcomes: the Caller; AuthenticationFailed (answered at the edge with a 401, so the
origin never sees the request); or Undecided, when the backends cannot say right now, in which
case the request goes to the origin, which checks the key itself.
"""

from __future__ import annotations

import json
import logging
from typing import Final

from edge.backends import AUTH_TIMEOUT_S, Backends
from edge.context import EdgeContext
from edge.rest import BackendError
from edge.supabase import caller_from
from shared.apikeys import bearer_token, hash_api_key
from shared.errors import AuthenticationFailed
from shared.usage import Caller

log = logging.getLogger("prism.edge.auth")

# How long Upstash keeps a key's record. It bounds how long a revoked key still passes the edge
# (this plus the isolate's 30 s memory), so it is kept close to the origin's 30 s key cache.
RECORD_TTL_S: Final = 60


class Undecided(Exception):
    """The key could not be checked (backends down or unconfigured); let the origin decide."""


def apikey_key(key_hash: str) -> str:
    return f"prism:apikey:{key_hash}"


async def authenticate(authorization: str | None, ctx: EdgeContext, backends: Backends) -> Caller:
    # The same answers as the origin's Authenticator, so a client can't tell which tier said no.
    if not authorization:
        raise AuthenticationFailed(
            "Missing API key: send it as 'Authorization: Bearer prism_sk_...'.",
            code="missing_api_key",
        )
    key = bearer_token(authorization)
    if key is None:
        raise AuthenticationFailed(
            "Malformed Authorization header: expected 'Bearer prism_sk_...'."
        )
    key_hash = hash_api_key(key)
    remembered = ctx.callers.get(key_hash)
    if remembered is not None:
        caller = remembered.caller
    else:
        caller = await _resolve(key_hash, ctx, backends)
        ctx.callers.put(key_hash, caller)
    if caller is None:
        raise AuthenticationFailed("Invalid API key: it does not exist or was revoked.")
    return caller


async def _resolve(key_hash: str, ctx: EdgeContext, backends: Backends) -> Caller | None:
    if backends.redis is not None:
        try:
            record = await backends.redis.command("GET", apikey_key(key_hash))
            if isinstance(record, str):
                return caller_from(json.loads(record))
        except (BackendError, ValueError) as exc:
            # A broken or unreadable record is only a missed shortcut: ask Supabase instead.
            log.warning("key record lookup in Upstash failed: %s", exc)
    if backends.supabase is None:
        raise Undecided("no Supabase binding to check the key against")
    try:
        caller = await backends.supabase.resolve_api_key(key_hash, AUTH_TIMEOUT_S)
    except BackendError as exc:
        raise Undecided(f"key lookup failed: {exc}") from exc
    if caller is not None and backends.redis is not None:
        ctx.background.wait_until(_remember(backends, key_hash, caller))
    return caller


async def _remember(backends: Backends, key_hash: str, caller: Caller) -> None:
    assert backends.redis is not None
    record = {
        "org_id": caller.org_id,
        "project_id": caller.project_id,
        "api_key_id": caller.api_key_id,
    }
    try:
        await backends.redis.command(
            "SET", apikey_key(key_hash), json.dumps(record), "EX", RECORD_TTL_S
        )
    except BackendError as exc:
        # Only the next lookup's shortcut is lost; the key was checked all the same.
        log.warning("could not store a key record in Upstash: %s", exc)
