"""The admit / settle / reconcile scripts on a real redis-server: reservations, their expiry
when a worker dies holding one, zero-cost requests, and counters that must be initialised."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from shared.limits import budget_keys, limit_keys, limits_config_key
from shared.spend_scripts import ADMIT, RECONCILE, SETTLE

LIMIT = 1000  # units of 1e-7 cent


class Budget:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.project = str(uuid.uuid4())
        self.keys = list(budget_keys(self.project, str(uuid.uuid4()), _start()))

    async def reconcile(self, db_units: int) -> int:
        return int(await self.redis.eval(RECONCILE, 2, *self.keys, db_units, 2**31))

    async def admit(self, amount: int, ttl_ms: int = 60_000, block: bool = True) -> list[Any]:
        rid = f"req_{uuid.uuid4().hex}"
        keys = [limits_config_key(self.project), *self.keys]
        expire = int(time.time() * 1000) + 86_400_000
        args = [int(time.time() * 1000), rid, ttl_ms, "args", "", 0, 0, "", ""]
        args.append(f"{LIMIT},{amount},{int(block)},{LIMIT * 8 // 10},{expire}")
        reply = await self.redis.eval(ADMIT, len(keys), *keys, *args)
        return [rid, *reply]

    async def settle(self, rid: str, exact: int) -> None:
        tpm = limit_keys(self.project, None, _now())
        await self.redis.eval(SETTLE, 4, tpm[3], tpm[7], *self.keys, rid, 0, exact, 1)

    async def state(self) -> dict[str, str]:
        return dict(await self.redis.hgetall(self.keys[0]))


def _now() -> datetime:
    return datetime.now(UTC)


def _start() -> datetime:
    return _now().replace(hour=0, minute=0, second=0, microsecond=0)


async def test_a_counter_is_used_only_once_initialised_from_postgres(redis: aioredis.Redis) -> None:
    budget = Budget(redis)
    _, status, index = await budget.admit(10)
    assert (status, index) == ("uninit", 1)
    assert await budget.reconcile(300) == 300
    assert await budget.reconcile(200) == 300  # never lowered: Redis runs ahead of the ledger
    assert (await budget.admit(10))[1] == "ok"


async def test_every_uninitialised_counter_is_named_at_once_and_none_is_touched(
    redis: aioredis.Redis,
) -> None:
    """A new project's budgets are all cold at its first request: one reply names them all,
    so they are rebuilt in one round, not one admit each."""
    budgets = [Budget(redis) for _ in range(4)]
    await budgets[1].reconcile(0)  # only the second is initialised
    keys = [limits_config_key(budgets[0].project)]
    expire = int(time.time() * 1000) + 86_400_000
    args = [int(time.time() * 1000), "req_cold", 60_000, "args", "", 0, 0, "", ""]
    for budget in budgets:
        keys += budget.keys
        args.append(f"{LIMIT},10,1,{LIMIT * 8 // 10},{expire}")
    assert await redis.eval(ADMIT, len(keys), *keys, *args) == ["uninit", 1, 3, 4]
    assert (await budgets[1].state()).get("r", "0") == "0"  # nothing reserved on a refusal
    for budget in (budgets[0], budgets[2], budgets[3]):
        await budget.reconcile(0)
    assert (await redis.eval(ADMIT, len(keys), *keys, *args))[0] == "ok"


async def test_reserve_then_settle_to_the_exact_cost(redis: aioredis.Redis) -> None:
    budget = Budget(redis)
    await budget.reconcile(0)
    rid, status, *_ = await budget.admit(600)
    assert status == "ok" and (await budget.state())["r"] == "600"
    refused = await budget.admit(500)  # 0 spent + 600 reserved + 500 > 1000
    assert refused[1:5] == ["budget", 1, 0, 600]
    await budget.settle(rid, 120)
    state = await budget.state()
    assert (state["s"], state["r"]) == ("120", "0")
    assert (await budget.admit(500))[1] == "ok"  # 120 + 500 fits now


async def test_a_dead_workers_reservation_expires(redis: aioredis.Redis) -> None:
    budget = Budget(redis)
    await budget.reconcile(0)
    assert (await budget.admit(900, ttl_ms=200))[1] == "ok"  # never settled: the worker died
    assert (await budget.admit(900))[1] == "budget"
    await asyncio.sleep(0.3)
    assert (await budget.admit(900))[1] == "ok"


async def test_zero_cost_requests_pass_a_spent_budget(redis: aioredis.Redis) -> None:
    budget = Budget(redis)
    await budget.reconcile(LIMIT)
    assert (await budget.admit(1))[1] == "budget"
    assert (await budget.admit(0))[1] == "ok"
    assert (await budget.admit(5000, block=False))[1] == "ok"  # a warn budget never refuses


async def test_the_80_percent_warning_is_first_only_once(redis: aioredis.Redis) -> None:
    budget = Budget(redis)
    await budget.reconcile(LIMIT * 8 // 10)
    first, second = await budget.admit(0), await budget.admit(0)
    assert first[-9] == 1 and second[-9] == 0  # per budget: spent, reserved, first warning
