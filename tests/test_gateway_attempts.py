"""The racer: which attempt wins a hedge, and what it reports about the ones that lost."""

from __future__ import annotations

import asyncio

from origin.gateway.attempts import Racer, Target
from origin.routing.health import HealthBoard, HealthConfig

A = Target("gpt-4o-mini", "openai", "gpt-4o-mini")
B = Target("gemini-2.5-flash", "gemini", "gemini-2.5-flash")


async def test_a_hedge_whose_loser_finished_in_the_same_instant_reports_its_answer() -> None:
    # Both attempts finish together: the loser's provider answered (and billed it), so the
    # loser comes back with its value for its own row, and that value is released.
    gate = asyncio.Event()
    released: list[str] = []

    async def attempt(target: Target) -> str:
        await gate.wait()
        return f"answer from {target.provider}"

    async def close(value: str) -> None:
        released.append(value)

    async def open_gate_once_both_run() -> None:
        await asyncio.sleep(0.05)  # well after the 10 ms hedge started B
        gate.set()

    opener = asyncio.create_task(open_gate_once_both_run())
    won = await Racer(HealthBoard(HealthConfig())).run([A, B], attempt, close, hedge_s=0.01)
    await opener
    assert won.hedge == B
    (loser,) = won.losers
    assert {won.target, loser[0]} == {A, B}
    assert loser[1] == f"answer from {loser[0].provider}"
    assert released == [loser[1]]


async def test_a_hedge_loser_cancelled_before_answering_has_no_value() -> None:
    async def attempt(target: Target) -> str:
        await asyncio.sleep(10 if target == A else 0)
        return target.provider

    async def close(value: str) -> None:
        raise AssertionError("nothing finished, nothing to release")

    won = await Racer(HealthBoard(HealthConfig())).run([A, B], attempt, close, hedge_s=0.01)
    assert (won.target, won.value, won.hedge) == (B, "gemini", B)
    assert won.losers == [(A, None)]
