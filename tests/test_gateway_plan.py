"""The call plan's hedge delay: when a second model starts alongside the first, by health."""

from __future__ import annotations

from typing import Any

import pytest

from origin.gateway.attempts import Target
from origin.gateway.call import Call
from origin.gateway.plan import DEFAULT_HEDGE_S, PROBE_HEDGE_S, Planner
from origin.gateway.receipt import Receipt
from origin.observability.tracing import Tracing
from origin.routing.health import HealthBoard, HealthConfig
from origin.routing.router import Router
from shared.options import RequestOptions
from shared.usage import Caller

A = Target("gpt-4o-mini", "openai", "gpt-4o-mini")
B = Target("gemini-2.5-flash", "gemini", "gemini-2.5-flash")


def feed(board: HealthBoard, target: Target, ok: int, fail: int, latency_s: float) -> None:
    for outcome in [True] * ok + [False] * fail:
        board.end(target.key, board.begin(target.key), outcome, latency_s)


def hedge_s(
    a: tuple[int, int],
    *,
    stream: bool = False,
    enabled: bool = True,
    **options: Any,
) -> float | None:
    board = HealthBoard(HealthConfig(enabled=enabled, min_samples=3, max_deadline_s=5.0))
    feed(board, A, *a, latency_s=0.03)  # A's history: a 50 ms p99 bin, so a 1 s deadline
    feed(board, B, 20, 0, latency_s=0.15)  # B's p90 bin is 200 ms
    caller = Caller("org", "project")
    call = Call("r", caller, RequestOptions(**options), {"stream": stream}, 0.0, Receipt("r", ""))
    call.targets = [A, B]
    return Planner(Router(), board, Tracing()).hedge_s(call)


@pytest.mark.parametrize(
    ("a", "kwargs", "expected"),
    [
        # A whole answer from a model at full weight that has failed lately: the next one
        # starts once A counts as hung.
        ((19, 1), {}, 1.0),
        ((20, 0), {}, None),  # spotless: no hedge (a first hang costs the timeout once)
        ((0, 0), {}, None),  # no history, no deadline of its own: the transport's timeout
        ((19, 1), {"stream": True}, None),  # a stream's attempt is cut at its deadline instead
        ((19, 1), {"hedge": False}, None),  # X-Prism-Hedge: off
        ((19, 1), {"enabled": False}, None),  # health routing off
        # A degraded model keeping its place, or a probe of a failing one: the next one
        # starts after about its usual time (B's p90).
        ((18, 2), {}, 0.2),
        ((18, 2), {"stream": True}, 0.2),
        ((0, 5), {}, 0.2),
        # Asked for: the given delay, else A's own p90, else the default.
        ((20, 0), {"hedge": True, "hedge_delay_ms": 300}, 0.3),
        ((20, 0), {"mode": "sport"}, 0.05),
        ((0, 0), {"mode": "sport"}, DEFAULT_HEDGE_S),
    ],
)
def test_the_hedge_delay_follows_health_and_the_request(
    a: tuple[int, int], kwargs: dict[str, Any], expected: float | None
) -> None:
    assert hedge_s(a, **kwargs) == expected


def test_a_probe_without_latency_history_next_in_line_hedges_quickly() -> None:
    board = HealthBoard(HealthConfig(min_samples=3))
    feed(board, A, 0, 5, latency_s=0.03)
    call = Call("r", Caller("o", "p"), RequestOptions(), {}, 0.0, Receipt("r", ""))
    call.targets = [A, B]
    assert Planner(Router(), board, Tracing()).hedge_s(call) == PROBE_HEDGE_S
