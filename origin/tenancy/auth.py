"""Gateway API-key authentication, with a short in-process cache in front of Supabase.

Every request presents a key; looking each one up in Supabase would add a round trip to
every call, so answers are cached per key hash: found keys for `ttl_s` (which bounds how
long a revoked key keeps working on this process), unknown keys only briefly (so a key
created a moment ago starts working quickly, while a flood of bad keys still can't turn
into a flood of lookups). Concurrent misses for one key share a single lookup.

A found key in use is looked up again in the background during the second half of its `ttl_s`,
so a key in steady use never waits for the database, not even one that hangs (the lookup's
store timeout is far shorter than half the TTL); its answer still never outlives `ttl_s`.
While the store is known to be down, an expired known key is answered from memory at once and
looked up again in the background, within the outage bound below. A worker that knows nothing
of a key while the store is down reads the key's signed note (origin.tenancy.key_notes).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from starlette.requests import HTTPConnection

from origin.store import StoreError, StoreUnavailable
from origin.tenancy.abuse import AddressThrottle
from shared.apikeys import hash_api_key, presented_key, unknown_key
from shared.errors import AuthenticationFailed, PrismError, UpstreamUnavailable
from shared.usage import Caller

DEFAULT_TTL_S = 30.0
DEFAULT_NEGATIVE_TTL_S = 3.0
DEFAULT_MAX_ENTRIES = 10_000
# While the key store is down, a key known before keeps working, but only this long from the
# moment the outage began (not from its last stale answer, or traffic would extend it forever):
# an outage of Supabase must not turn into an outage of the gateway for known callers, and a
# revocation must not wait indefinitely for the database to come back.
MAX_STALE_S = 300.0
STALE_RECHECK_S = 5.0
# Background lookups in flight at once: a hung store must not hold a task open per known key.
MAX_REFRESHES = 64


class KeyResolver(Protocol):
    async def resolve_api_key(self, key_hash: str) -> Caller | None: ...


class KeyNotes(Protocol):
    """Where confirmed keys are noted for a worker that starts mid-outage (key_notes)."""

    async def note(self, key_hash: str, caller: Caller) -> None: ...

    async def recall(self, key_hash: str) -> tuple[Caller, float] | None: ...


class Authenticator:
    """Turns an Authorization header into the Caller it belongs to, or a 401/503."""

    def __init__(
        self,
        store: KeyResolver,
        ttl_s: float = DEFAULT_TTL_S,
        *,
        negative_ttl_s: float = DEFAULT_NEGATIVE_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_stale_s: float = MAX_STALE_S,
        clock: Callable[[], float] = time.monotonic,
        throttle: AddressThrottle | None = None,
        notes: KeyNotes | None = None,
    ) -> None:
        self._store = store
        self._notes = notes
        # key hash -> when its note expires, for answers recalled from a note: the note's
        # expiry bounds them, not this worker's own outage clock (it may have started mid-way).
        self._noted_until: dict[str, float] = {}
        self._ttl_s = ttl_s
        self._negative_ttl_s = min(negative_ttl_s, ttl_s)
        self._max_entries = max(1, max_entries)
        self._clock = clock
        self._max_stale_s = max_stale_s
        # When the first lookup of the current store outage failed; None while the store answers.
        self._outage_since: float | None = None
        # key hash -> (expires at, caller or None for "no such live key"); oldest first.
        self._cache: OrderedDict[str, tuple[float, Caller | None]] = OrderedDict()
        # Unknown keys live apart, bounded on their own: a flood of bad keys can't push the
        # known ones out of `_cache` (and turn every good request into a lookup).
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self.throttle = throttle or AddressThrottle()
        self._inflight: dict[str, asyncio.Future[Caller | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Bumped by `forget`: a lookup that began before a revocation must not cache its answer.
        self._epoch = 0
        self.lookups = 0  # store round trips made, for health pages and tests

    async def authenticate(
        self, authorization_header: str | None, address: str | None = None
    ) -> Caller:
        """The caller; `address` (the client's) is slowed down after many bad keys."""
        try:
            return await self._authenticate(authorization_header, address)
        except AuthenticationFailed:
            self.throttle.failed(address)
            raise

    async def _authenticate(self, authorization_header: str | None, address: str | None) -> Caller:
        key_hash = hash_api_key(presented_key(authorization_header))
        if not self._known(key_hash):
            self.throttle.check(address)
        caller = await self._lookup(key_hash)
        if caller is None:
            raise unknown_key()
        return caller

    def _known(self, key_hash: str) -> bool:
        # Good when last looked up, even if that answer has expired since: the throttle must
        # not stop a working key from being looked up again (it would be locked out for the
        # rest of the minute). The lookup still decides; a revoked key is forgotten at once.
        entry = self._cache.get(key_hash)
        return entry is not None and entry[1] is not None

    def forget(self, key_hash: str | None = None) -> None:
        """Drop one cached answer (or all), e.g. right after revoking a key on this process."""
        self._epoch += 1
        if key_hash is None:
            self._cache.clear()
            self._unknown.clear()
            self._noted_until.clear()
        else:
            self._cache.pop(key_hash, None)
            self._unknown.pop(key_hash, None)
            self._noted_until.pop(key_hash, None)

    async def _lookup(self, key_hash: str) -> Caller | None:
        unknown_until = self._unknown.get(key_hash)
        if unknown_until is not None and unknown_until > self._clock():
            return None
        hit = self._cache.get(key_hash)
        now = self._clock()
        if hit is not None and hit[0] > now:
            self._cache.move_to_end(key_hash)
            if hit[1] is not None and self._outage_since is None and hit[0] - now < self._ttl_s / 2:
                self._revalidate(key_hash)
            return hit[1]
        if hit is not None and hit[1] is not None and self._stale(key_hash) is not None:
            self._revalidate(key_hash)  # the store is known down: answer now, recheck behind
            return hit[1]
        pending = self._inflight.get(key_hash) or self._start(key_hash)
        # Shielded: one caller giving up (client disconnect) must not cancel the shared lookup.
        return await asyncio.shield(pending)

    def _revalidate(self, key_hash: str) -> None:
        if key_hash not in self._inflight and len(self._inflight) < MAX_REFRESHES:
            self._start(key_hash)

    def _start(self, key_hash: str) -> asyncio.Future[Caller | None]:
        pending: asyncio.Future[Caller | None] = asyncio.get_running_loop().create_future()
        self._inflight[key_hash] = pending
        task = asyncio.get_running_loop().create_task(self._resolve(key_hash, pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return pending

    async def _resolve(self, key_hash: str, pending: asyncio.Future[Caller | None]) -> None:
        epoch = self._epoch
        try:
            self.lookups += 1
            caller = await self._store.resolve_api_key(key_hash)
        except StoreUnavailable:
            if self._outage_since is None:
                self._outage_since = self._clock()
            stale = self._stale(key_hash)
            if stale is None:
                stale = await self._recall(key_hash)
            if stale is not None:
                # Never shortened: a background lookup may fail while the answer is still fresh.
                expires = max(self._cache[key_hash][0], self._clock() + STALE_RECHECK_S)
                self._cache[key_hash] = (expires, stale)
                pending.set_result(stale)
                return
            pending.set_exception(
                UpstreamUnavailable(
                    "Cannot verify the API key right now: the key store is unavailable. Retry shortly.",
                    retry_after=1,
                )
            )
        except StoreError:
            pending.set_exception(PrismError("Cannot verify the API key: the key store refused."))
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - a bug below us: the waiters turn it into a 500
            pending.set_exception(exc)
        else:
            self._outage_since = None
            if epoch == self._epoch:
                self._remember(key_hash, caller)
            pending.set_result(caller)
            if caller is not None and self._notes is not None:
                await self._notes.note(key_hash, caller)
        finally:
            self._inflight.pop(key_hash, None)
            # Nobody may be waiting any more; mark the outcome retrieved so asyncio doesn't warn.
            if pending.done() and not pending.cancelled():
                pending.exception()

    def _stale(self, key_hash: str) -> Caller | None:
        entry = self._cache.get(key_hash)
        began = self._outage_since
        if entry is None or began is None:
            return None
        noted_until = self._noted_until.get(key_hash)
        if noted_until is not None:
            return entry[1] if self._clock() < noted_until else None
        return entry[1] if self._clock() - began <= self._max_stale_s else None

    async def _recall(self, key_hash: str) -> Caller | None:
        """The caller a key's note names, for a worker with no memory of the key."""
        recalled = await self._notes.recall(key_hash) if self._notes is not None else None
        if recalled is None:
            return None
        caller, left = recalled
        now = self._clock()
        self._noted_until[key_hash] = now + left
        self._cache[key_hash] = (now, caller)  # expired already: answered as stale from here
        return caller

    def _remember(self, key_hash: str, caller: Caller | None) -> None:
        if caller is None:
            self._cache.pop(key_hash, None)
            self._noted_until.pop(key_hash, None)
            self._unknown[key_hash] = self._clock() + self._negative_ttl_s
            self._unknown.move_to_end(key_hash)
            while len(self._unknown) > self._max_entries:
                self._unknown.popitem(last=False)
            return
        self._unknown.pop(key_hash, None)
        self._noted_until.pop(key_hash, None)
        self._cache[key_hash] = (self._clock() + self._ttl_s, caller)
        self._cache.move_to_end(key_hash)
        while len(self._cache) > self._max_entries:
            self._noted_until.pop(self._cache.popitem(last=False)[0], None)


def client_address(request: HTTPConnection) -> str | None:
    """The peer a bad key is counted against (AddressThrottle): every keyed route must pass
    it, or that route lets one address guess keys without limit."""
    return request.client.host if request.client else None
