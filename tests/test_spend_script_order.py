"""A client sending one request after another sees its previous request settled, even when the
edge loaded the admit script into Redis before the origin's settle script was there."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from origin.spend.allowance_script import ALLOW
from shared.spend_scripts import ADMIT, SETTLE
from tests.fixtures.origin import OriginHandle, start_origin
from tests.test_spend_budgets import ask, budget, client


async def test_the_second_answer_counts_the_first_as_settled_after_a_script_flush(
    origin_server: OriginHandle,
    origin_admin: httpx.AsyncClient,
    make_project: Any,
    redis: aioredis.Redis,
    tmp_path: Path,
) -> None:
    project = await make_project("script-order")
    limit = Decimal("0.0123")
    await budget(origin_admin, project.id, limit_cents=str(limit), period="day")
    # Redis restarted (its script cache empty), then an edge hit loaded ADMIT, and only ADMIT.
    await redis.script_flush()
    await redis.script_load(ADMIT)
    service = await asyncio.to_thread(start_origin, origin_server.env, tmp_path)
    try:
        api = client(OriginHandle(service, origin_server.env, origin_server.dsn), project)
        answers = [await api.chat.completions.with_raw_response.create(**ask(n)) for n in range(3)]
    finally:
        await asyncio.to_thread(service.stop)
        for script in (SETTLE, ALLOW):  # as every other origin of the session had them
            await redis.script_load(script)
    costs = [Decimal(a.headers["x-prism-cost-cents"]) for a in answers]
    remaining = [Decimal(a.headers["x-prism-budget-remaining-cents"]) for a in answers]
    assert remaining == [limit - sum(costs[: i + 1], Decimal(0)) for i in range(len(costs))]
