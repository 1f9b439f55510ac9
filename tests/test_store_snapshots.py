"""Snapshots stand in for the store only as their signer wrote them and only until they
expire; a worker answering from a key's note stops when the note would have expired."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from infra.local.proc import free_port
from origin.settings import Secret
from origin.store import Store
from origin.store.snapshots import Snapshots, snapshot_key
from origin.tenancy.auth import Authenticator
from origin.tenancy.key_notes import KeyNotes
from shared.apikeys import generate_api_key, hash_api_key
from shared.errors import UpstreamUnavailable
from shared.usage import Caller

MASTER = b"m" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def snapshots(redis_server: Any) -> AsyncIterator[Snapshots]:
    kept = Snapshots(redis_server.url, MASTER, clock=Clock())
    yield kept
    await kept.aclose()


def tamper(copy: dict[str, Any], how: str) -> dict[str, Any]:
    if how == "value":
        return {**copy, "value": [{"project_id": "someone-else"}]}
    if how == "expiry":
        return {**copy, "expires": copy["expires"] + 10**6}
    return {**copy, "mac": copy["mac"][::-1]}


@pytest.mark.parametrize("how", ["value", "expiry", "mac"])
async def test_a_tampered_snapshot_is_not_read(
    snapshots: Snapshots, redis: aioredis.Redis, how: str
) -> None:
    name = f"budgets:{uuid.uuid4()}"
    await snapshots.save(name, [{"project_id": "mine"}], 60)
    assert await snapshots.load(name) == ([{"project_id": "mine"}], 60)
    copy = json.loads(await redis.get(snapshot_key(name)))
    await redis.set(snapshot_key(name), json.dumps(tamper(copy, how)))
    assert await snapshots.load(name) is None


async def test_a_snapshot_is_not_read_after_it_expires_or_under_another_master_key(
    snapshots: Snapshots, redis_server: Any
) -> None:
    clock = Clock()
    mine = Snapshots(redis_server.url, MASTER, clock=clock)
    other = Snapshots(redis_server.url, b"o" * 32, clock=clock)
    try:
        name = f"limits:{uuid.uuid4()}"
        await mine.save(name, [], 60)
        assert await other.load(name) is None
        clock.now += 59
        assert await mine.load(name) == ([], 1)
        clock.now += 1
        assert await mine.load(name) is None
    finally:
        await mine.aclose()
        await other.aclose()


async def test_a_key_answered_from_its_note_stops_when_the_note_expires(
    redis_server: Any,
) -> None:
    clock = Clock()
    snapshots = Snapshots(redis_server.url, MASTER, clock=clock)
    down = Store(f"http://127.0.0.1:{free_port()}", Secret("unused"), timeout_s=1.0)
    notes = KeyNotes(snapshots, ttl_s=300)
    auth = Authenticator(down, 30, clock=clock, notes=notes)
    key = generate_api_key()
    caller = Caller(org_id="o", project_id="p", api_key_id="k")
    try:
        await notes.note(hash_api_key(key), caller)  # the store's last confirmation
        clock.now += 200  # this worker starts, and meets the outage, 200 s later
        assert await auth.authenticate(f"Bearer {key}") == caller
        clock.now += 95
        assert await auth.authenticate(f"Bearer {key}") == caller
        # 105 s into this worker's outage, but 305 s since the store last confirmed the key:
        # the note's bound, not the worker's, ends it.
        clock.now += 10
        with pytest.raises(UpstreamUnavailable):
            await auth.authenticate(f"Bearer {key}")
    finally:
        await down.aclose()
        await snapshots.aclose()
