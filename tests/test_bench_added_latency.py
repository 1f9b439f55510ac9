"""The benchmark's reading of the origin's added-latency histogram: the p50 of cumulative
bucket deltas, interpolated within the bucket as Prometheus' histogram_quantile does."""

from __future__ import annotations

import bisect
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.added_latency import quantile

INF = float("inf")
BOUNDS = (0.0005, 0.001, 0.002, 0.005, 0.01, INF)


def cumulative(values: list[float]) -> dict[float, float]:
    return {b: float(sum(1 for v in values if v <= b)) for b in BOUNDS}


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        ({0.001: 0.0, 0.002: 10.0, INF: 10.0}, 0.5, 0.0015),  # all in one bucket: its middle
        ({0.001: 5.0, 0.002: 10.0, INF: 10.0}, 0.5, 0.001),  # exactly at a bound
        ({0.001: 2.0, 0.002: 4.0, 0.004: 8.0, INF: 8.0}, 0.5, 0.002),
        ({0.001: 0.0, INF: 4.0}, 0.5, 0.001),  # past the largest bound: that bound
        ({0.001: 0.0, INF: 0.0}, 0.5, None),  # nothing observed
        ({}, 0.5, None),
    ],
)
def test_quantile_of_cumulative_buckets(
    buckets: dict[float, float], q: float, expected: float | None
) -> None:
    got = quantile(buckets, q)
    assert got == (None if expected is None else pytest.approx(expected))


@given(st.lists(st.floats(min_value=0.0, max_value=0.009), min_size=1, max_size=200))
def test_the_p50_lies_in_the_bucket_that_holds_the_true_median(values: list[float]) -> None:
    got = quantile(cumulative(values), 0.5)
    assert got is not None
    true = statistics.median_low(sorted(values))
    i = bisect.bisect_left(BOUNDS, true)
    low = 0.0 if i == 0 else BOUNDS[i - 1]
    assert low <= got <= BOUNDS[i]
