"""A backend that hangs (frozen, not refusing) must not hold requests that need nothing new
from it: a hung database costs no request that has a stale policy, provider keys or key
record, and a hung spend Redis costs one request its timeout, not every request."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from origin.settings import Secret
from origin.store import Store
from origin.tenancy.auth import Authenticator
from tests.fixtures.freezable import FreezableProxy
from tests.test_cache_helpers import chat, chat_body
from tests.test_cache_resilience import origin_with, silent_server

# Every bound below is far under the timeout a stall would cost (the store's 5 s, or 3 s for
# the hung-store Store built here, and spend's 3 s), so a stall fails the test by seconds.
QUICK_S = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def timed(work: Any) -> tuple[float, Any]:
    began = time.monotonic()
    result = await work
    return time.monotonic() - began, result


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("hung")


async def test_a_known_key_is_answered_at_once_while_the_store_hangs(
    postgrest: Any, postgrest_proxy: FreezableProxy, store: Store, project: Any
) -> None:
    hung_store = Store(postgrest_proxy.url, Secret(postgrest.service_key), timeout_s=3.0)
    clock = Clock()
    auth = Authenticator(hung_store, 30, clock=clock)
    try:
        key, record = await store.create_api_key(project.id)
        await auth.authenticate(f"Bearer {key}")
        postgrest_proxy.freeze()
        clock.now += 20  # the second half of the TTL: answered, and checked behind
        elapsed, caller = await timed(auth.authenticate(f"Bearer {key}"))
        assert caller.api_key_id == record.id and elapsed < QUICK_S
        await asyncio.sleep(4.0)  # that background check meets the store timeout
        clock.now += 20  # now expired, with the store known to be down
        for _ in range(3):
            elapsed, caller = await timed(auth.authenticate(f"Bearer {key}"))
            assert caller.api_key_id == record.id and elapsed < QUICK_S
    finally:
        postgrest_proxy.thaw()
        await hung_store.aclose()


async def test_expired_policies_and_keys_are_served_while_the_database_hangs(
    origin_server: Any, origin_admin: Any, postgrest_proxy: FreezableProxy, project: Any, tmp_path
) -> None:
    res = await origin_admin.put(
        f"/projects/{project.id}/limits", json={"requests_per_minute": 1000}
    )
    assert res.status_code == 200, res.text
    async with origin_with(
        origin_server, tmp_path, SUPABASE_URL=postgrest_proxy.url, PRISM_SPEND_POLICY_TTL_S="0.5"
    ) as sick:
        assert (await chat(sick, project, chat_body("warm up"))).status_code == 200
        postgrest_proxy.freeze()
        try:
            await asyncio.sleep(1.0)  # the policy read above has expired
            for n in range(3):
                elapsed, response = await timed(chat(sick, project, chat_body(f"hung {n}")))
                assert response.status_code == 200, response.text
                assert elapsed < QUICK_S, f"request {n} waited {elapsed:.2f}s"
        finally:
            postgrest_proxy.thaw()


async def test_a_hung_spend_redis_costs_one_timeout_then_a_cooldown(
    origin_server: Any, origin_admin: Any, project: Any, tmp_path
) -> None:
    res = await origin_admin.put(
        f"/projects/{project.id}/limits", json={"requests_per_minute": 1000}
    )
    assert res.status_code == 200, res.text
    async with (
        silent_server() as redis_addr,
        origin_with(
            origin_server,
            tmp_path,
            REDIS_URL=f"redis://{redis_addr}/0",
            PRISM_SPEND_COOLDOWN_MS="2000",
        ) as sick,
    ):
        times = []
        for n in range(4):
            elapsed, response = await timed(chat(sick, project, chat_body(f"counters {n}")))
            assert response.status_code == 200, response.text
            times.append(elapsed)
        assert times[0] > 2.5, times  # the spend timeout (3 s), once
        assert all(t < QUICK_S for t in times[1:]), times
        await asyncio.sleep(2.5)  # the cooldown lapses: one request tries Redis again
        elapsed, response = await timed(chat(sick, project, chat_body("counters again")))
        assert response.status_code == 200 and elapsed > 2.5, elapsed
        elapsed, response = await timed(chat(sick, project, chat_body("counters after")))
        assert response.status_code == 200 and elapsed < QUICK_S, elapsed
