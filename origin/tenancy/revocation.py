"""Making a revoked key stop at once, everywhere its owner might still be remembered.

The database row is the truth, but three caches sit in front of it: each origin worker's
Authenticator, the edge's key record in Upstash Redis, and each edge isolate's memory. Revoking
a key therefore also (1) replaces the edge's key record with a revocation marker, which edge
isolates check before answering from their memory, and deletes the note a worker started
mid-outage would read (origin.tenancy.key_notes), and (2) announces the key's hash on a Redis
channel every origin worker listens to, so each drops its cached answer within milliseconds.

The origin's REDIS_URL is the database the edge reaches through Upstash's REST API (the
edge-queue drain relies on the same fact), so both steps go through one redis-py client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from origin.background import stop_task
from origin.store import ApiKeyRecord, Store
from origin.store.snapshots import snapshot_key
from origin.tenancy.key_notes import note_name
from shared.apikeys import (
    REVOCATIONS_CHANNEL,
    REVOKED_RECORD,
    REVOKED_RECORD_TTL_S,
    key_record_name,
)

log = logging.getLogger("prism.origin.revocation")

ANNOUNCE_TIMEOUT_S: Final = 3.0
RETRY_FIRST_S: Final = 0.5
RETRY_MAX_S: Final = 10.0
CLOSE_TIMEOUT_S: Final = 3.0
HEALTH_CHECK_S: Final = 15

# Called with a revoked key's hash, or None for "anything may have been revoked" (after the
# channel was unreachable for a while and announcements may have been missed).
Forget = Callable[[str | None], None]


class Revocations:
    """Announces revocations: the edge's marker and the origin workers' channel."""

    def __init__(self, redis_url: str, timeout_s: float = ANNOUNCE_TIMEOUT_S) -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            redis_url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # Once on a new connection: a pooled one may have died with a Redis restart, and
            # then the first revocation after it would go unannounced.
            retry=Retry(NoBackoff(), 1),
        )

    async def announce(self, key_hash: str) -> bool:
        """Tell the edge and every origin worker; False (and logged) when Redis is unreachable.

        The revocation itself is already in the database by then: a failure here only means
        caches expire on their own (the edge's within a minute, an origin worker's within its
        key-cache TTL) instead of at once.
        """
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.set(key_record_name(key_hash), REVOKED_RECORD, ex=REVOKED_RECORD_TTL_S)
                pipe.delete(snapshot_key(note_name(key_hash)))
                pipe.publish(REVOCATIONS_CHANNEL, key_hash)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.error("revocation of key %s... not announced: %s", key_hash[:12], exc)
            return False
        return True

    async def aclose(self) -> None:
        await self._client.aclose()


class RevocationListener:
    """One origin worker's subscription: drops each announced key from its Authenticator."""

    def __init__(self, redis_url: str, forget: Forget) -> None:
        self._redis_url = redis_url
        self._forget = forget
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()  # set while subscribed; for health checks and tests

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="prism-revocation-listener")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop_task(task, "revocation listener", CLOSE_TIMEOUT_S)

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                log.warning("revocation channel lost (%s); retrying in %.1fs", exc, delay)
            if self.subscribed.is_set():
                delay = RETRY_FIRST_S  # it had worked: this is a new outage, start gently
            self.subscribed.clear()
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX_S, delay * 2)

    async def _listen(self) -> None:
        # Pings keep a silently dropped connection from leaving us deaf to revocations.
        client: aioredis.Redis = aioredis.Redis.from_url(
            self._redis_url, health_check_interval=HEALTH_CHECK_S, socket_keepalive=True
        )
        pubsub = client.pubsub(ignore_subscribe_messages=False)
        try:
            await pubsub.subscribe(REVOCATIONS_CHANNEL)
            while True:
                # A bounded wait, so the health-check ping goes out even on a quiet channel.
                message = await pubsub.get_message(timeout=HEALTH_CHECK_S)
                if message is not None:
                    self._handle(message)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()

    def _handle(self, message: dict[str, Any]) -> None:
        kind, data = message.get("type"), message.get("data")
        if kind == "subscribe":
            # Announcements made while we were not subscribed are lost: forget every cached
            # key once, so each is looked up again.
            self._forget(None)
            self.subscribed.set()
        elif kind == "message" and isinstance(data, bytes):
            self._forget(data.decode("ascii", "replace"))


class Revoker:
    """Revokes a key in the database, then makes every cache in front of it let go."""

    def __init__(self, store: Store, revocations: Revocations, forget_here: Forget) -> None:
        self._store = store
        self._revocations = revocations
        # This worker's own cache is dropped directly, so the very next request it serves is
        # refused without waiting for its own announcement to come back.
        self._forget_here = forget_here

    async def revoke(self, key_id: str) -> ApiKeyRecord | None:
        record = await self._store.revoke_api_key(key_id)
        if record is None:
            return None
        key_hash = await self._store.api_key_hash(key_id)
        if key_hash is not None:
            self._forget_here(key_hash)
            await self._revocations.announce(key_hash)
        return record
