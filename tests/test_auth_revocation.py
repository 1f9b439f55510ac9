"""Revocation reaches every origin worker's key cache at once (Redis pub/sub, real Redis and
PostgREST), and a database outage keeps known keys working only for a bounded window that
starts when the outage does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from origin.store import Project, Store
from origin.tenancy.auth import MAX_STALE_S, STALE_RECHECK_S, Authenticator
from origin.tenancy.revocation import RevocationListener, Revocations, Revoker
from shared.apikeys import REVOKED_RECORD, hash_api_key, key_record_name
from shared.errors import AuthenticationFailed, UpstreamUnavailable

DEADLINE_S = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def project(store: Store) -> Project:
    return await store.create_project("revocation")


def bearer(key: str) -> str:
    return f"Bearer {key}"


@pytest.fixture
async def workers(
    redis_server: Any, store: Store
) -> AsyncIterator[Callable[[], Awaitable[Authenticator]]]:
    """`await worker()` -> an Authenticator subscribed to revocations, as each origin worker's."""
    listeners: list[RevocationListener] = []

    async def worker() -> Authenticator:
        # A long TTL: without the announcement these caches would answer for ten minutes.
        auth = Authenticator(store, 600)
        listener = RevocationListener(redis_server.url, auth.forget)
        listeners.append(listener)
        await listener.start()
        await asyncio.wait_for(listener.subscribed.wait(), DEADLINE_S)
        return auth

    yield worker
    for listener in listeners:
        await listener.aclose()


async def refused_within(auth: Authenticator, key: str, deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            await auth.authenticate(bearer(key))
        except AuthenticationFailed:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_revoking_on_one_worker_drops_the_key_on_every_worker(
    workers: Callable[[], Awaitable[Authenticator]],
    store: Store,
    project: Project,
    redis_server: Any,
    redis: aioredis.Redis,
) -> None:
    here, elsewhere, third = await workers(), await workers(), await workers()
    key, record = await store.create_api_key(project.id)
    for auth in (here, elsewhere, third):
        assert (await auth.authenticate(bearer(key))).api_key_id == record.id
    revocations = Revocations(redis_server.url)
    try:
        assert await Revoker(store, revocations, here.forget).revoke(record.id) is not None
    finally:
        await revocations.aclose()
    with pytest.raises(AuthenticationFailed):
        await here.authenticate(bearer(key))
    assert await refused_within(elsewhere, key, DEADLINE_S)
    assert await refused_within(third, key, DEADLINE_S)
    # The edge's record for the key is now the revocation marker.
    assert await redis.get(key_record_name(hash_api_key(key))) == REVOKED_RECORD


async def test_stale_keys_work_only_for_the_window_from_the_outages_start(
    store: Store, project: Project, pg: Any
) -> None:
    clock = Clock()
    auth = Authenticator(store, 30, clock=clock)
    key, record = await store.create_api_key(project.id)
    await auth.authenticate(bearer(key))
    clock.now += 31  # the cached answer has expired: the next request asks the database
    async with pg.outage():
        began = clock.now
        # Steady traffic through the outage: each answer is stale, none may extend the window.
        while clock.now - began <= MAX_STALE_S:
            assert (await auth.authenticate(bearer(key))).api_key_id == record.id
            clock.now += STALE_RECHECK_S + 0.5
        with pytest.raises(UpstreamUnavailable) as info:
            await auth.authenticate(bearer(key))
        assert info.value.status == 503
    # Once the database answers again, so does the key (and a new outage gets a new window).
    assert (await auth.authenticate(bearer(key))).api_key_id == record.id


async def test_a_revocation_after_a_redis_restart_is_still_announced(
    store: Store, project: Project, redis_server: Any, redis: aioredis.Redis, redis_outage: Any
) -> None:
    # The announcing client's pooled connection died with the restart. Without a retry on a
    # fresh connection the first revocation after it was not announced at all: the edge kept
    # serving the key from its record for a minute, and the note an origin started during a
    # database outage reads kept it alive for five (seen in a full test run).
    revocations = Revocations(redis_server.url)
    try:
        first, first_record = await store.create_api_key(project.id)
        assert await Revoker(store, revocations, lambda _: None).revoke(first_record.id)
        with redis_outage():
            pass  # stopped and started again: every pooled connection is now dead
        key, record = await store.create_api_key(project.id)
        assert await Revoker(store, revocations, lambda _: None).revoke(record.id) is not None
    finally:
        await revocations.aclose()
    assert await redis.get(key_record_name(hash_api_key(key))) == REVOKED_RECORD
