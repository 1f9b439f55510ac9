"""Admits and settles batched per round trip: every request still gets its own answer, none
is lost at shutdown, what waits is bounded, and the scripts are found again after Redis forgot
them (a restart empties its script cache)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from origin.spend.batcher import Batcher
from origin.spend.counters import Counters
from shared.limits import budget_keys, limit_keys, limits_config_key

LIMIT = 10_000  # units of 1e-7 cent


@pytest.fixture
async def counters(redis_server) -> AsyncIterator[Counters]:  # type: ignore[no-untyped-def]
    found = Counters(redis_server.url, 3.0)
    yield found
    await found.aclose()


class Project:
    def __init__(self, batcher: Batcher) -> None:
        self.batcher = batcher
        self.id = str(uuid.uuid4())
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.budget = list(budget_keys(self.id, str(uuid.uuid4()), start))
        self.tokens = limit_keys(self.id, None, datetime.now(UTC))

    async def init(self, redis: aioredis.Redis) -> None:
        await redis.hset(self.budget[0], mapping={"s": "0", "i": "1"})

    async def reserve(self, amount: int) -> tuple[str, list[str]]:
        """One admitted request: its reservation held, as the admit script leaves it."""
        reply, rid, keys = await self.admit(amount)
        assert reply[0] == "ok", reply
        return rid, keys

    async def admit(self, amount: int) -> tuple[list[Any], str, list[str]]:
        rid = f"req_{uuid.uuid4().hex}"
        now = int(time.time() * 1000)
        keys = [limits_config_key(self.id), *self.budget]
        args: list[str | int] = [now, rid, 60_000, "args", "", 0, 0, "", ""]
        args.append(f"{LIMIT},{amount},1,{LIMIT},{now + 86_400_000}")
        reply = await self.batcher.admit(keys, args)
        return reply, rid, [self.tokens[3], self.tokens[7], *self.budget]

    async def state(self, redis: aioredis.Redis) -> tuple[str, str]:
        found = await redis.hgetall(self.budget[0])
        return str(found.get("s", "0")), str(found.get("r", "0"))


async def test_settles_of_concurrent_requests_all_land_and_aclose_sends_what_waits(
    counters: Counters, redis: aioredis.Redis
) -> None:
    settler = Batcher(counters, 3.0)
    projects = [Project(settler), Project(settler)]
    expected = []
    for project in projects:
        await project.init(redis)
        held = [await project.reserve(1000) for _ in range(4)]
        assert (await project.state(redis))[1] == "4000"
        for n, (rid, keys) in enumerate(held):
            settler.settle(project.id, keys, [rid, 0, 100 + n, 1])  # settled to 100..103
        expected.append(("406", "0"))
    await settler.aclose()  # at shutdown: nothing submitted is left behind
    assert [await p.state(redis) for p in projects] == expected


async def test_a_settle_past_the_bound_is_dropped_and_its_reservation_lapses_instead(
    counters: Counters, redis: aioredis.Redis
) -> None:
    settler = Batcher(counters, 3.0, max_pending=2)
    project = Project(settler)
    await project.init(redis)
    held = [await project.reserve(1000) for _ in range(3)]
    for rid, keys in held:  # all three end together, while nothing is on its way yet
        settler.settle(project.id, keys, [rid, 0, 10, 1])
    await settler.aclose()
    # Two settled to 10 each; the third still holds its 1000 until its TTL.
    assert await project.state(redis) == ("20", "1000")


async def test_scripts_are_loaded_again_when_redis_forgot_them(
    counters: Counters, redis: aioredis.Redis
) -> None:
    settler = Batcher(counters, 3.0)
    project = Project(settler)
    await project.init(redis)
    await redis.script_flush()
    rid, keys = await project.reserve(1000)  # admit: NOSCRIPT, loaded, run once
    assert await project.state(redis) == ("0", "1000")
    await redis.script_flush()
    settler.settle(project.id, keys, [rid, 0, 250, 1])
    await settler.aclose()
    assert await project.state(redis) == ("250", "0")


async def test_concurrent_admits_each_get_their_own_answer_and_never_overshoot(
    counters: Counters, redis: aioredis.Redis
) -> None:
    batcher = Batcher(counters, 3.0)
    project = Project(batcher)
    await project.init(redis)
    await redis.script_flush()  # the first batch also finds its script missing
    replies = await asyncio.gather(*(project.admit(1500) for _ in range(10)))
    statuses = [reply[0] for reply, _, _ in replies]
    assert sorted(statuses) == ["budget"] * 4 + ["ok"] * 6  # 6 x 1500 <= 10,000 < 7 x 1500
    assert await project.state(redis) == ("0", "9000")
    assert len({rid for _, rid, _ in replies}) == 10
