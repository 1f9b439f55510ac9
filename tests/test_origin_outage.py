"""Postgres stops for 30 s while requests flow: no request fails because of logging, and
afterwards every request has exactly one usage row."""

from __future__ import annotations

import asyncio
import time

import httpx

OUTAGE_S = 30.0


async def test_database_outage_loses_no_row_and_fails_no_request(
    origin_server, make_project, sim, pg
):
    project = await make_project("outage")
    headers = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "keep going"}]}
    request_ids: list[str] = []
    failures: list[tuple[int, str]] = []

    async with httpx.AsyncClient(base_url=origin_server.base_url, timeout=30) as client:

        async def send(stream: bool) -> None:
            payload = {**body, "stream": stream}
            response = await client.post("/chat/completions", json=payload, headers=headers)
            if response.status_code != 200:
                failures.append((response.status_code, response.text[:200]))
            request_ids.append(response.headers.get("x-prism-request-id", ""))

        await send(False)  # the key and provider keys are known before the outage begins
        await pg.stop()
        try:
            deadline = time.monotonic() + OUTAGE_S
            i = 0
            while time.monotonic() < deadline:
                await asyncio.gather(send(i % 2 == 0), send(i % 3 == 0))
                i += 1
                await asyncio.sleep(0.2)
        finally:
            await pg.start()
        await send(False)

    assert failures == []
    assert len(request_ids) > 100 and all(request_ids)
    rows = await origin_server.rows(project.id, expect=len(request_ids), timeout=60)
    assert sorted(r["request_id"] for r in rows) == sorted(request_ids)
