"""SETTLE, RECONCILE and ALLOW on counters holding what they cannot read, on a real
redis-server: none may raise (a raising script fails every request of the project until the
key expires). A budget's hash and set are deleted, to be rebuilt from the ledger; a rate-limit
counter is deleted, to be counted afresh. ADMIT is driven through the origin and the edge in
tests/test_spend_corrupt_counters.py."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from origin.spend.allowance_script import ALLOW
from shared.limits import limit_keys
from shared.spend_scripts import SETTLE
from tests.test_spend_scripts import Budget, _now

Corrupt = Callable[[aioredis.Redis, Budget], Awaitable[Any]]


def field(name: str, raw: str) -> Corrupt:
    return lambda redis, budget: redis.hset(budget.keys[0], name, raw)


async def hash_a_string(redis: aioredis.Redis, budget: Budget) -> None:
    await redis.delete(budget.keys[0])
    await redis.set(budget.keys[0], "garbage")


async def set_a_string(redis: aioredis.Redis, budget: Budget) -> None:
    await redis.delete(budget.keys[1])
    await redis.set(budget.keys[1], "garbage")


BUDGET = [
    pytest.param(field("s", "abc"), id="spent-abc"),
    pytest.param(field("s", "1e400"), id="spent-1e400"),
    pytest.param(field("s", "1.5"), id="spent-1.5"),
    pytest.param(field("r", "abc"), id="reserved-abc"),
    pytest.param(field("r", "1e400"), id="reserved-1e400"),
    pytest.param(hash_a_string, id="hash-wrong-type"),
    pytest.param(set_a_string, id="set-wrong-type"),
]
COUNTER = [
    pytest.param(lambda redis, key: redis.set(key, "abc"), id="abc"),
    pytest.param(lambda redis, key: redis.set(key, "1.5"), id="1.5"),
    pytest.param(lambda redis, key: redis.set(key, "1e400"), id="1e400"),
    pytest.param(lambda redis, key: redis.hset(key, "n", "1"), id="wrong-type"),
]


async def initialised(redis: aioredis.Redis) -> Budget:
    budget = Budget(redis)
    await budget.reconcile(0)
    return budget


@pytest.fixture(params=BUDGET)
async def corrupted(redis: aioredis.Redis, request: pytest.FixtureRequest) -> Budget:
    """An initialised budget, then corrupted."""
    budget = await initialised(redis)
    await request.param(redis, budget)
    return budget


async def readable_or_gone(redis: aioredis.Redis, budget: Budget) -> None:
    """Either both keys are gone (rebuilt from the ledger by the next admit) or what is left
    is what the scripts read."""
    kinds = [await redis.type(k) for k in budget.keys]
    assert kinds[0] in ("hash", "none") and kinds[1] in ("zset", "none")
    if kinds[0] == "hash":
        state = await budget.state()
        for name in ("s", "r"):
            int(state.get(name, "0"))
    else:
        assert kinds[1] == "none"


@pytest.mark.parametrize("corrupt", BUDGET)
async def test_a_settle_on_a_corrupt_budget_leaves_it_to_be_rebuilt(
    redis: aioredis.Redis, corrupt: Corrupt
) -> None:
    budget = await initialised(redis)
    rid, status, *_ = await budget.admit(100)
    assert status == "ok"
    await corrupt(redis, budget)
    await budget.settle(rid, 40)  # raised before
    await readable_or_gone(redis, budget)
    if await redis.exists(budget.keys[0]) == 0:
        assert (await budget.admit(10))[1] == "uninit"


async def test_a_reconcile_rebuilds_a_corrupt_budget_from_the_ledger(
    redis: aioredis.Redis, corrupted: Budget
) -> None:
    budget = corrupted
    assert await budget.reconcile(300) == 300  # the ledger's, not the unreadable value
    state = await budget.state()
    assert (state["i"], state["s"], state.get("r", "0")) == ("1", "300", "0")
    assert await redis.type(budget.keys[1]) in ("zset", "none")
    assert (await budget.admit(10))[1] == "ok"


@pytest.mark.parametrize("corrupt", COUNTER)
async def test_a_settle_drops_a_corrupt_token_counter(redis: aioredis.Redis, corrupt: Any) -> None:
    budget = await initialised(redis)
    counters = limit_keys(budget.project, None, _now())
    key_tpm, tpm = counters[3], counters[7]
    await corrupt(redis, tpm)
    await redis.eval(SETTLE, 4, key_tpm, tpm, *budget.keys, "req_x", 5, 0, 1)  # raised before
    assert await redis.exists(tpm) == 0  # counted afresh by the next admit


async def allow(redis: aioredis.Redis, budget: Budget, counter: str) -> list[Any]:
    """One ALLOW call: a budget allowance wanting 50 units, a block of 4 counts."""
    expire = int(time.time() * 1000) + 86_400_000
    args = [int(time.time() * 1000), "w1", 60_000, 1, 1, f"500,0,0,50,{expire}", "500,0,4,60000"]
    return list(await redis.eval(ALLOW, 3, *budget.keys, counter, *args))


async def test_an_allowance_on_a_corrupt_budget_is_refused_until_it_is_rebuilt(
    redis: aioredis.Redis, corrupted: Budget
) -> None:
    budget = corrupted
    counter = limit_keys(budget.project, None, _now())[4]
    assert (await allow(redis, budget, counter))[:3] == [0, 0, -1]  # raised before
    assert [await redis.exists(k) for k in budget.keys] == [0, 0]
    assert (await budget.admit(10))[1] == "uninit"


@pytest.mark.parametrize("corrupt", COUNTER)
async def test_an_allowance_on_a_corrupt_counter_counts_it_afresh(
    redis: aioredis.Redis, corrupt: Any
) -> None:
    budget = await initialised(redis)
    counter = limit_keys(budget.project, None, _now())[4]
    await corrupt(redis, counter)
    assert (await allow(redis, budget, counter))[3:] == [4, 4]  # raised before
    assert await redis.get(counter) == "4"
    assert 0 < await redis.pttl(counter) <= 60_000
