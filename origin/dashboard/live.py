"""The live savings counter: Server-Sent Events with the project's savings, read from Postgres
as the viewer every second and sent when they change (and every 15 s to keep the line open)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from postgrest import APIError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from origin.dashboard import data, fmt
from origin.dashboard.context import Context

LIVE_INTERVAL_S = 1.0
LIVE_HEARTBEAT_S = 15.0
LIVE_MAX_S = 600.0  # then the browser's EventSource reconnects (and the session is re-checked)


def _savings_event(savings: dict[str, Any]) -> bytes:
    parts = (
        f"exact {fmt.money(savings.get('cache_exact_cents'))} · semantic "
        f"{fmt.money(savings.get('cache_semantic_cents'))} · provider cache "
        f"{fmt.money(savings.get('native_cents'))} · routing {fmt.money(savings.get('routing_cents'))}"
    )
    payload = {
        "total": fmt.money(savings.get("total_cents")),
        "total_cents": savings.get("total_cents"),
        "parts": parts,
        "requests": savings.get("requests"),
    }
    return f"event: savings\ndata: {json.dumps(payload)}\n\n".encode()


def window_start(days: int, now: datetime) -> str:
    """The start of the UTC day `days - 1` days before now's: dash_period_start in Python."""
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(first, datetime.min.time(), UTC).isoformat()


def _period(query: QueryParams) -> Callable[[], str] | None:
    """When the counted period starts, asked afresh at each poll: `days` is a window that rolls
    with the UTC day (a page left open past midnight keeps counting the days its card names),
    `since` a fixed moment. None if neither reads."""
    days = query.get("days")
    if days is not None:
        count = int(days) if days.isdigit() else 0
        return (lambda: window_start(count, datetime.now(UTC))) if 1 <= count <= 366 else None
    since = query.get("since") or ""
    try:
        datetime.fromisoformat(since)
    except ValueError:
        return None
    return lambda: since


async def live_savings(request: Request, ctx: Context) -> Response:
    period = _period(request.query_params)
    if period is None:
        return Response("give days (1-366) or since (an ISO timestamp)", status_code=400)
    client, project_id = ctx.viewer.client, ctx.project_id

    async def events() -> AsyncIterator[bytes]:
        last: Any = None
        last_sent = started = time.monotonic()
        while time.monotonic() - started < LIVE_MAX_S and not await request.is_disconnected():
            try:
                savings = await data.savings(client, project_id, period())
            except APIError:
                return  # the session expired or was revoked: the browser reconnects
            now = time.monotonic()
            if savings.get("total_cents") != last or now - last_sent > LIVE_HEARTBEAT_S:
                last, last_sent = savings.get("total_cents"), now
                yield _savings_event(savings)
            await asyncio.sleep(LIVE_INTERVAL_S)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
