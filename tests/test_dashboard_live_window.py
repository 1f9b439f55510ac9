"""The overview's live savings counter counts the 30 days its card names, at every poll: a page
left open past midnight UTC must not keep counting from the day its window began."""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
import pytest
from starlette.datastructures import QueryParams

from origin.dashboard import live, view_overview
from tests.test_dashboard_http import signed_in_browser


def _live_url(project_id: str) -> str:
    page = view_overview.render({"savings_30d": {"since": "2026-11-08T00:00:00+00:00"}}, project_id)
    start = page.index('data-live="') + len('data-live="')
    return unescape(page[start : page.index('"', start)])


def test_the_card_asks_for_a_rolling_window_not_a_fixed_start() -> None:
    query = parse_qs(urlparse(_live_url("p")).query)
    assert query.get("days") == ["30"] and "since" not in query


@pytest.mark.parametrize(
    "now", ["2026-12-07T23:59:59+00:00", "2026-12-08T00:00:01+00:00", "2027-03-01T12:00:00+00:00"]
)
async def test_the_window_is_dash_period_start_at_each_moment(
    pg_conn: asyncpg.Connection, now: str
) -> None:
    moment = datetime.fromisoformat(now)
    expected = await pg_conn.fetchval("SELECT public.dash_period_start(30, $1)", moment)
    assert datetime.fromisoformat(live.window_start(30, moment)) == expected.astimezone(UTC)


def test_days_and_since_are_read_and_anything_else_refused() -> None:
    period = live._period(QueryParams("days=30"))
    assert period is not None
    assert period() == live.window_start(30, datetime.now(UTC))
    fixed = live._period(QueryParams("since=2026-01-01T00:00:00%2B00:00"))
    assert fixed is not None and fixed() == "2026-01-01T00:00:00+00:00"
    for bad in ("days=0", "days=-3", "days=x", "days=400", "since=yesterday", ""):
        assert live._period(QueryParams(bad)) is None, bad


async def test_the_live_endpoint_takes_the_cards_url(origin_server: Any, make_member: Any) -> None:
    me = await make_member("livewindow")
    async for http in signed_in_browser(origin_server.url, me):
        async with http.stream("GET", _live_url(me.project_id)) as stream:
            assert stream.status_code == 200
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    assert '"total_cents": "0"' in line
                    break
