"""The health board: weights from the rolling window, probes, hung detection, sharing via Redis."""

from __future__ import annotations

import asyncio
import bisect
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from origin.routing.health import HealthBoard, HealthConfig
from origin.routing.health_window import BOUNDS_MS, Counts, HealthWindow

KEY = "openai:gpt-4o-mini"


def board(**overrides: Any) -> HealthBoard:
    return HealthBoard(HealthConfig(**{"min_samples": 3, "probe_s": 60.0, **overrides}))


def feed(b: HealthBoard, key: str, ok: int, fail: int, latency_s: float = 0.03) -> None:
    for outcome in [True] * ok + [False] * fail:
        b.end(key, b.begin(key), outcome, latency_s)


@pytest.mark.parametrize(
    ("ok", "fail", "weight"),
    [
        (0, 0, 1.0),  # no history: full weight
        (0, 2, 1.0),  # too few outcomes to judge
        (95, 5, 1.0),  # 95%: full
        (94, 6, 0.1),  # just under 95%: a tenth
        (50, 50, 0.1),  # 50%: still a tenth
        (49, 51, 0.0),  # under 50%: none
        (0, 3, 0.0),
    ],
)
def test_weights_follow_the_success_rate(ok: int, fail: int, weight: float) -> None:
    b = board()
    feed(b, KEY, ok, fail)
    assert b.weight(KEY) == weight


def test_a_model_that_went_down_stays_down_after_its_failures_age_out_until_it_succeeds() -> None:
    b = board(window_s=0.3, slot_s=0.05)
    feed(b, KEY, 0, 3)
    assert b.weight(KEY) == 0.0
    time.sleep(0.45)
    assert b.stats(KEY).samples == 0
    assert b.weight(KEY) == 0.0  # no news is not good news
    feed(b, KEY, 1, 0)  # a probe answered
    assert b.weight(KEY) == 1.0


def test_a_workers_window_forgets_the_slots_that_aged_out() -> None:
    # A worker runs for days: it must not keep every slot it ever counted an outcome in.
    window = HealthWindow(window_s=0.01, slot_s=0.001, redis_url=None)
    for _ in range(200):  # over about 100 slots
        window.add(KEY, True, 0.03)
        time.sleep(0.0005)
    assert len(window._local[KEY].slots) <= 12
    assert 0 < window.totals(KEY).samples <= 200


def test_zero_weight_models_go_last_except_for_one_probe_per_interval() -> None:
    b = board(probe_s=0.2)
    feed(b, "a", 0, 5)
    assert b.order(["a", "b", "c"]) == ["a", "b", "c"]  # the probe
    assert b.order(["a", "b", "c"]) == ["b", "c", "a"]  # skipped until the next one is due
    time.sleep(0.25)
    assert b.order(["a", "b", "c"])[0] == "a"


def test_a_tenth_weight_model_keeps_its_place_about_one_time_in_ten() -> None:
    b = board()
    feed(b, "a", 70, 30)
    firsts = [b.order(["a", "b"])[0] for _ in range(2000)]
    assert 100 < firsts.count("a") < 320


def test_an_attempt_waiting_past_its_deadline_marks_the_model_hung_at_once() -> None:
    b = board(min_deadline_s=0.05, max_deadline_s=0.05)
    attempt = b.begin(KEY)
    assert b.weight(KEY) == 1.0
    time.sleep(0.08)
    assert b.hung(KEY) and b.weight(KEY) == 0.0
    b.end(KEY, attempt, None)  # abandoned: says nothing either way
    assert b.weight(KEY) == 1.0 and b.stats(KEY).samples == 0


def test_the_first_byte_deadline_is_three_times_the_p99_within_bounds() -> None:
    b = board(min_deadline_s=1.0, max_deadline_s=30.0)
    assert b.deadline_s(KEY) == 30.0  # no history: the transport's limit
    feed(b, KEY, 100, 0, latency_s=0.75)  # the 800 ms bin
    assert b.deadline_s(KEY) == pytest.approx(2.4)
    feed(b, "fast", 100, 0, latency_s=0.01)
    assert b.deadline_s("fast") == 1.0
    assert b.p90_s("fast") == BOUNDS_MS[0] / 1000


@given(st.lists(st.floats(min_value=0, max_value=120_000), min_size=1, max_size=200))
def test_the_percentile_is_an_upper_bound_of_that_share_of_latencies(values: list[float]) -> None:
    counts = Counts()
    for ms in values:
        counts.bins[bisect.bisect_left(BOUNDS_MS, ms)] += 1
    p90 = counts.percentile_ms(0.9)
    assert p90 is not None
    below = sum(1 for v in values if v <= p90)
    assert below >= 0.9 * len(values) or p90 == BOUNDS_MS[-1]


async def test_workers_share_their_windows_through_redis(redis_server: Any) -> None:
    config = HealthConfig(min_samples=3, sync_s=0.05)
    one, two = HealthBoard(config, redis_server.url), HealthBoard(config, redis_server.url)
    await one.clear_shared()
    await one.start()
    await two.start()
    try:
        feed(one, KEY, 0, 4)
        assert two.weight(KEY) == 1.0  # not synced yet: the hot path never waits for Redis
        deadline = time.monotonic() + 5
        while two.weight(KEY) != 0.0:
            assert time.monotonic() < deadline, "worker two never saw worker one's failures"
            await asyncio.sleep(0.05)
        assert two.report()[KEY]["samples"] == 4
    finally:
        await one.clear_shared()
        await one.aclose()
        await two.aclose()


async def test_without_redis_a_worker_uses_its_own_window() -> None:
    b = HealthBoard(HealthConfig(min_samples=3, sync_s=0.05), "redis://127.0.0.1:1/0")
    await b.start()
    try:
        feed(b, KEY, 0, 3)
        await asyncio.sleep(0.3)  # a sync or two failed meanwhile
        assert b.weight(KEY) == 0.0
    finally:
        await b.aclose()
