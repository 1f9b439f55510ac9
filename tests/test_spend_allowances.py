"""Spend control's fast path (origin.spend.allowances) against a real redis-server.

Far from its limit a budget is checked in memory against an allowance this worker reserved in
Redis; what was spent reaches Redis exactly; nothing is ever admitted beyond what is reserved;
near the limit there is no allowance and every request goes through the ADMIT script.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import openai
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from origin.spend.admission import Admission
from origin.spend.allowance_state import KEEP_SHARE, WANT_COUNTS
from origin.spend.allowances import MAX_SHARE, WANT_REQUESTS, Allowances
from origin.spend.counters import Counters
from origin.spend.policy import Budget
from origin.spend.windows import BudgetWindow, Windows
from shared.limits import budget_keys, limit_keys
from shared.worst_case import to_units

LIMIT_CENTS = Decimal(1)
AMOUNT = 1_000  # units: an allowance (WANT_REQUESTS of it) is well under 1/MAX_SHARE of 1 cent


class Setup:
    def __init__(self, url: str, spent: int = 0) -> None:
        self.url, self.spent = url, spent
        self.project = str(uuid.uuid4())
        self.budget = Budget(str(uuid.uuid4()), self.project, "month", LIMIT_CENTS, "block")
        self.now = datetime.now(UTC)
        self.window: BudgetWindow = Windows().budget(
            self.budget, self.now, int(self.now.timestamp() * 1000)
        )

    async def start(self, counters: Counters) -> None:
        end = int(self.window.end.timestamp()) + 86_400
        await counters.reconcile(self.window.keys, [self.spent, end])

    def admission(self) -> Admission:
        now_ms = int(self.now.timestamp() * 1000)
        keys = limit_keys(self.project, None, self.now)
        admission = Admission(f"req_{uuid.uuid4().hex}", self.project, self.now, keys, now_ms)
        admission.amount = AMOUNT
        return admission

    def seen(self, spent: int = 0, reserved: int = 0) -> list[tuple[Any, ...]]:
        return [(self.window, spent, reserved)]


async def state(redis: aioredis.Redis, setup: Setup) -> tuple[int, int]:
    spent, reserved = await redis.hmget(setup.window.keys[0], "s", "r")
    return int(spent or 0), int(reserved or 0)


async def until_granted(allowances: Allowances, setup: Setup) -> None:
    for _ in range(100):
        if allowances.try_admit(probe := setup.admission(), [setup.window]):
            allowances.settle(probe, 0)  # give back what the probe took
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no allowance was granted")


@pytest.fixture
async def counters(redis_server: Any) -> AsyncIterator[Counters]:
    client = Counters(redis_server.url, 2.0)
    yield client
    await client.aclose()


async def started(counters: Counters, setup: Setup, seen: list[tuple[Any, ...]]) -> Allowances:
    """A worker's allowances, told (as ADMIT would) what the budget has spent."""
    await setup.start(counters)
    allowances = Allowances(counters, 60_000)
    allowances.observe(setup.admission(), seen)
    return allowances


async def granted(counters: Counters, url: str) -> tuple[Setup, Allowances]:
    """A worker already admitting in memory on a budget far from its limit."""
    setup = Setup(url)
    allowances = await started(counters, setup, setup.seen())
    await until_granted(allowances, setup)
    return setup, allowances


def test_the_constants_keep_an_allowance_small() -> None:
    assert AMOUNT * WANT_REQUESTS * MAX_SHARE <= to_units(LIMIT_CENTS)


async def test_far_from_its_limit_a_budget_is_checked_in_memory_and_settles_exactly(
    redis_server: Any, redis: aioredis.Redis, counters: Counters
) -> None:
    setup = Setup(redis_server.url)
    await setup.start(counters)
    assert not Allowances(counters, 60_000).try_admit(setup.admission(), [setup.window])
    allowances = await started(counters, setup, setup.seen())
    await until_granted(allowances, setup)
    assert await state(redis, setup) == (0, AMOUNT * WANT_REQUESTS)
    admitted = [setup.admission() for _ in range(20)]
    assert all(allowances.try_admit(a, [setup.window]) for a in admitted)
    assert all(a.fast and a.holds for a in admitted)
    for n, admission in enumerate(admitted):
        allowances.settle(admission, 100 + n)
    await allowances.refresh()
    total = sum(100 + n for n in range(20))
    assert await state(redis, setup) == (total, AMOUNT * WANT_REQUESTS)
    await allowances.aclose()
    assert await state(redis, setup) == (total, 0)


async def test_near_its_limit_a_budget_has_no_allowance(
    redis_server: Any, redis: aioredis.Redis, counters: Counters
) -> None:
    half = to_units(LIMIT_CENTS) // 2
    setup = Setup(redis_server.url, spent=half - AMOUNT)
    allowances = await started(counters, setup, setup.seen(spent=half - AMOUNT))
    await asyncio.sleep(0.2)
    assert not allowances.try_admit(setup.admission(), [setup.window])
    assert await state(redis, setup) == (half - AMOUNT, 0)
    await allowances.aclose()


async def test_past_half_only_requests_in_flight_stay_reserved(
    redis_server: Any, redis: aioredis.Redis, counters: Counters
) -> None:
    setup, allowances = await granted(counters, redis_server.url)
    in_flight = setup.admission()
    assert allowances.try_admit(in_flight, [setup.window])
    # Another worker's spend takes the budget past half.
    await redis.hincrby(setup.window.keys[0], "s", to_units(LIMIT_CENTS) // 2)
    await allowances.refresh()
    # Refused its want, the worker admits nothing more here (and says so before a lookup);
    # what it kept for the renewal's round trip goes back at the next one, and only the
    # request in flight stays reserved.
    assert not allowances.try_admit(setup.admission(), [setup.window])
    assert not allowances.hold_all([setup.window.keys[0]], [])
    assert (await state(redis, setup))[1] == AMOUNT * (1 + WANT_REQUESTS // KEEP_SHARE)
    await allowances.refresh()
    assert (await state(redis, setup))[1] == AMOUNT
    allowances.settle(in_flight, 300)
    await allowances.aclose()
    assert await state(redis, setup) == (to_units(LIMIT_CENTS) // 2 + 300, 0)


async def test_while_a_renewal_is_out_requests_are_admitted_against_what_it_keeps(
    redis_server: Any, redis: aioredis.Redis, counters: Counters
) -> None:
    setup, allowances = await granted(counters, redis_server.url)
    renewal = asyncio.ensure_future(allowances.refresh())
    await asyncio.sleep(0)  # its script call is out
    during = [setup.admission() for _ in range(WANT_REQUESTS // KEEP_SHARE)]
    assert all(allowances.try_admit(a, [setup.window]) for a in during)
    # No further than what the renewal keeps reserved, whatever Redis answers.
    assert not allowances.try_admit(setup.admission(), [setup.window])
    await renewal
    # What was admitted meanwhile came out of the new want: the reservation did not grow.
    assert (await state(redis, setup))[1] == AMOUNT * WANT_REQUESTS
    for admission in during:
        allowances.settle(admission, 10)
    await allowances.aclose()
    assert await state(redis, setup) == (10 * len(during), 0)


async def test_requests_that_only_check_a_budget_keep_its_allowance(
    redis_server: Any, redis: aioredis.Redis, counters: Counters
) -> None:
    setup, allowances = await granted(counters, redis_server.url)
    # 1.5 s of cache hits: each checks the budget's allowance and takes nothing from it.
    for _ in range(15):
        assert allowances.hold_all([setup.window.keys[0]], [])
        await asyncio.sleep(0.1)
    await allowances.refresh()
    assert (await state(redis, setup))[1] == AMOUNT * WANT_REQUESTS
    assert allowances.try_admit(setup.admission(), [setup.window])
    await allowances.aclose()


def counted(setup: Setup) -> Admission:
    """A request under the project's requests-per-minute limit (slot 4), far from it."""
    admission = setup.admission()
    admission.amount, admission.limits_counted = 0, True
    admission.limits = (0, 0, 0, 0, 1_000_000, 0, 0, 0)
    admission.counts[4], admission.resets_s[4] = 1, 60.0
    return admission


async def test_a_request_counter_stays_exact_across_a_renewal_that_is_out(
    redis: aioredis.Redis, counters: Counters
) -> None:
    setup = Setup("")
    key = setup.admission().limit_keys[4]
    await redis.set(key, 1)  # ADMIT counted the first request
    allowances = Allowances(counters, 60_000)
    allowances.observe(counted(setup), [])
    for _ in range(100):
        if allowances.try_admit(first := counted(setup), []):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("no counter allowance was granted")
    renewal = asyncio.ensure_future(allowances.refresh())
    await asyncio.sleep(0)
    during = [counted(setup) for _ in range(WANT_COUNTS // KEEP_SHARE)]
    assert all(allowances.try_admit(a, []) for a in during)
    assert not allowances.try_admit(counted(setup), [])
    await renewal
    await allowances.aclose()
    # Every request counts once: the first (ADMIT), the one admitted before the renewal and
    # those admitted while it was out; everything unused went back.
    assert int(await redis.get(key)) == 1 + 1 + len(during)
    assert first.fast


OPS = st.lists(
    st.tuples(
        st.integers(0, 1),  # which worker
        st.sampled_from(["admit", "admit", "admit", "settle", "refresh", "refresh-racing"]),
        st.integers(0, AMOUNT),  # what a settled request cost
    ),
    max_size=60,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_two_workers_never_admit_beyond_what_redis_holds_for_them(
    redis_server: Any, ops: list[tuple[int, str, int]]
) -> None:
    asyncio.run(_two_workers(redis_server.url, ops))


async def _two_workers(url: str, ops: list[tuple[int, str, int]]) -> None:
    setup = Setup(url)
    counters = Counters(url, 2.0)
    await setup.start(counters)
    workers = [Allowances(counters, 60_000), Allowances(counters, 60_000)]
    for worker in workers:
        worker.observe(setup.admission(), setup.seen())
        await until_granted(worker, setup)
    in_flight: list[list[Admission]] = [[], []]
    unsent = [0, 0]  # spend settled by each worker since its last renewal
    reader = aioredis.Redis.from_url(url)
    for who, op, cost in ops:
        worker = workers[who]
        if op == "admit":
            admission = setup.admission()
            if worker.try_admit(admission, [setup.window]):
                in_flight[who].append(admission)
        elif op == "settle" and in_flight[who]:
            worker.settle(in_flight[who].pop(0), cost)
            unsent[who] += cost
        elif op == "refresh":
            await worker.refresh()
            unsent[who] = 0
        elif op == "refresh-racing":
            racing = asyncio.ensure_future(worker.refresh())
            await asyncio.sleep(0)  # its script call is out
            admission = setup.admission()
            if worker.try_admit(admission, [setup.window]):  # while the renewal is out
                in_flight[who].append(admission)
            await racing
            unsent[who] = 0
        spent, reserved = await state(reader, setup)
        # What the workers took in memory (worst cases in flight, spend not yet sent) is
        # always inside what Redis holds reserved for them, and that inside the limit.
        assert AMOUNT * sum(len(f) for f in in_flight) + sum(unsent) <= reserved
        assert spent + reserved <= to_units(LIMIT_CENTS)
    for n, worker in enumerate(workers):
        for admission in in_flight[n]:
            worker.settle(admission, AMOUNT)
        await worker.aclose()
    spent, reserved = await state(reader, setup)
    assert reserved == 0
    await reader.aclose()
    await counters.aclose()


async def within_one_minute_window() -> None:
    """Limit windows are whole minutes: a run of requests that crosses into the next one sees
    its remaining count start again, so start where the run (a few seconds) fits."""
    second = datetime.now(UTC).second
    if second >= 45:
        await asyncio.sleep(60.5 - second)


async def test_through_the_origin_requests_far_from_limits_skip_redis_and_spend_is_exact(
    origin_server: Any, make_project: Any, origin_admin: Any, redis: aioredis.Redis
) -> None:
    project = await make_project("allowance-e2e")
    made = await origin_admin.post(
        f"/projects/{project.id}/budgets", json={"limit_cents": "1000", "period": "month"}
    )
    assert made.status_code == 201, made.text
    limits = await origin_admin.put(
        f"/projects/{project.id}/limits", json={"requests_per_minute": 100_000}
    )
    assert limits.status_code == 200, limits.text
    api = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    costs: list[Decimal] = []
    remaining: list[int] = []
    await within_one_minute_window()
    for n in range(60):
        raw = await api.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"question {n} {uuid.uuid4().hex}"}],
            max_tokens=10,
        )
        costs.append(Decimal(raw.headers["x-prism-cost-cents"]))
        remaining.append(int(raw.headers["x-ratelimit-remaining-requests"]))
    # Each request still counts: the remaining count falls by one per request.
    assert remaining == list(range(remaining[0], remaining[0] - 60, -1))
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    key = budget_keys(project.id, made.json()["id"], start)[0]
    # The worker holds an allowance on the budget (the requests were admitted against it)...
    assert any(field.startswith("q:A:") for field in await redis.hkeys(key))
    # ...and what was spent reaches the budget's counters exactly, within a renewal or two.
    for _ in range(50):
        if int(await redis.hget(key, "s") or 0) == to_units(sum(costs)):
            break
        await asyncio.sleep(0.1)
    assert int(await redis.hget(key, "s") or 0) == to_units(sum(costs))


async def test_hits_of_requests_left_to_routing_count_one_each_far_from_the_limit(
    origin_server: Any, make_project: Any, origin_admin: Any
) -> None:
    project = await make_project("allowance-auto-hits")
    limits = await origin_admin.put(
        f"/projects/{project.id}/limits", json={"requests_per_minute": 100_000}
    )
    assert limits.status_code == 200, limits.text
    api = openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": f"Name a colour. {uuid.uuid4().hex}"}],
        "max_tokens": 200,
    }
    remaining: list[int] = []
    statuses: list[str] = []
    await within_one_minute_window()
    for _ in range(40):
        raw = await api.chat.completions.with_raw_response.create(**body)
        statuses.append(raw.headers["x-prism-cache-status"])
        remaining.append(int(raw.headers["x-ratelimit-remaining-requests"]))
    assert statuses.count("miss") <= 5 and statuses[-1].startswith("hit")
    assert remaining == list(range(remaining[0], remaining[0] - 40, -1))
