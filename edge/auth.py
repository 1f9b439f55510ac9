"""Who sent a request, from its Bearer key: instance memory, then Upstash, then Supabase.

Three outcomes: the Caller; AuthenticationFailed (answered at the edge with a 401, so the
origin never sees the request); or Undecided, when the backends cannot say right now, in which
case the request goes to the origin, which checks the key itself.

Revocation: the isolate's memory cannot be reached from outside, so an answer served from it is
only provisional. Revoking a key replaces its Upstash record with a marker; a remembered caller
is confirmed against that record in the same round trip as the cache lookup (`Identity.check`),
and only a confirmed key is ever served a cached answer. Everything else goes to the origin,
which checks every key itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Final

from edge.backends import AUTH_TIMEOUT_S, Backends
from edge.context import EdgeContext
from edge.rest import BackendError
from edge.supabase import caller_from
from shared.apikeys import hash_api_key, key_record_name, presented_key, unknown_key
from shared.usage import Caller

log = logging.getLogger("prism.edge.auth")

# How long Upstash keeps a key's record. It bounds how long a revoked key still passes the edge
# (this plus the isolate's 30 s memory), so it is kept close to the origin's 30 s key cache.
RECORD_TTL_S: Final = 60


class Undecided(Exception):
    """The key could not be checked (backends down or unconfigured); let the origin decide."""


@dataclass(frozen=True)
class Identity:
    caller: Caller
    key_hash: str
    # False when the caller came from the isolate's memory: `check` must confirm it against
    # the key's Upstash record before anything is answered at the edge.
    confirmed: bool

    @property
    def record_name(self) -> str | None:
        """The Upstash record to read along with the cache lookup, or None when confirmed."""
        return None if self.confirmed else key_record_name(self.key_hash)


def apikey_key(key_hash: str) -> str:
    return key_record_name(key_hash)


def revoked(record: Any) -> bool:
    """Whether an Upstash key record is the marker revocation leaves behind."""
    return isinstance(record, dict) and record.get("revoked") is True


def check_record(identity: Identity, text: Any, ctx: EdgeContext) -> bool:
    """Confirm a remembered caller by its Upstash record, read with the cache lookup.

    Raises AuthenticationFailed when the key was revoked. False (forget, let the origin answer)
    when the record is gone or unreadable: expired, or dropped by an operator.
    """
    try:
        record = json.loads(text) if isinstance(text, str) and len(text) < 1024 else None
    except ValueError:
        record = None
    if revoked(record):
        ctx.callers.put(identity.key_hash, None)
        raise unknown_key()
    if not isinstance(record, dict):
        ctx.callers.forget(identity.key_hash)
        return False
    return True


async def authenticate(authorization: str | None, ctx: EdgeContext, backends: Backends) -> Identity:
    # The same answers as the origin's Authenticator, so a client can't tell which tier said no.
    key_hash = hash_api_key(presented_key(authorization))
    remembered = ctx.callers.get(key_hash)
    if remembered is not None:
        caller, confirmed = remembered.caller, False
    else:
        caller, confirmed = await _resolve(key_hash, ctx, backends), True
        ctx.callers.put(key_hash, caller)
    if caller is None:
        raise unknown_key()
    return Identity(caller, key_hash, confirmed)


async def _resolve(key_hash: str, ctx: EdgeContext, backends: Backends) -> Caller | None:
    if backends.redis is not None:
        try:
            record = await backends.redis.command("GET", apikey_key(key_hash))
            if isinstance(record, str):
                data = json.loads(record)
                return None if revoked(data) else caller_from(data)
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
        # NX: never over a revocation marker, which may have landed since the lookup began.
        await backends.redis.command(
            "SET", apikey_key(key_hash), json.dumps(record), "EX", RECORD_TTL_S, "NX"
        )
    except BackendError as exc:
        # Only the next lookup's shortcut is lost; the key was checked all the same.
        log.warning("could not store a key record in Upstash: %s", exc)
