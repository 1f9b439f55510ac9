"""No overshoot under concurrency: two origin processes sharing Redis and Postgres, one block
budget that affords about 20 requests, 200 requests fired at once across both."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import openai
import pytest

from tests.fixtures.origin import OriginHandle, start_origin

# Each request below costs about 0.00074 cents; its worst case (10 tokens out, maybe from the
# fallback gpt-5.4-mini) about 0.0052, so at most a handful are in flight at once.
LIMIT = Decimal("0.015")


@pytest.fixture
def two_origins(origin_env, pg, tmp_path_factory):
    handles = []
    try:
        for n in range(2):
            env = {**origin_env, "PRISM_DATA_DIR": str(tmp_path_factory.mktemp(f"worker{n}"))}
            service = start_origin(env, tmp_path_factory.mktemp(f"worker{n}-logs"))
            handles.append(OriginHandle(service, env, pg.dsn))
        yield handles
    finally:
        for handle in handles:
            handle.service.stop()


def ask(n: int) -> dict[str, Any]:
    content = f"burst {n} {uuid.uuid4().hex[:8]}"
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 10,
    }


async def send(api: openai.AsyncOpenAI, n: int) -> tuple[int, str | None]:
    try:
        await api.chat.completions.create(**ask(n))
    except openai.APIStatusError as exc:
        return exc.status_code, exc.body.get("code") if isinstance(exc.body, dict) else None
    return 200, None


async def test_200_concurrent_requests_on_two_workers_never_overshoot(
    two_origins, make_project, pg
):
    project = await make_project("burst")
    conn = await pg.connect()
    try:
        await conn.execute(
            "insert into budgets (project_id, period, limit_cents, action) "
            "values ($1, 'day', $2, 'block')",
            project.id,
            LIMIT,
        )
    finally:
        await conn.close()
    clients = [
        openai.AsyncOpenAI(base_url=o.base_url, api_key=project.api_key, max_retries=0, timeout=60)
        for o in two_origins
    ]
    outcomes = await asyncio.gather(*(send(clients[n % 2], n) for n in range(200)))

    served = [o for o in outcomes if o[0] == 200]
    refused = [o for o in outcomes if o[0] != 200]
    assert served, "the budget affords some requests"
    assert refused and all(o == (402, "budget_exceeded") for o in refused), set(refused)
    rows = await two_origins[0].rows(project.id, expect=200, timeout=60)
    assert len(rows) == 200
    spent = sum((Decimal(r["cost_total_cents"]) for r in rows), Decimal(0))
    assert 0 < spent <= LIMIT
    assert sum(1 for r in rows if r["success"]) == len(served)
