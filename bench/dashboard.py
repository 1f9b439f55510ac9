"""Dashboard benchmark: how long each page's queries take with a million usage rows per project.

Seeds ROWS usage rows over 90 days for each of two projects (two organisations) in a fresh,
migrated Postgres, with the rollup triggers and every index live, then signs a member of the
first organisation in through the Auth stand-in and times each page's queries exactly as the
page makes them: through the PostgREST stand-in, with the official `supabase` client and the
user's token, so row-level security is part of every measurement.

    .venv/bin/python -m bench.dashboard [--rows 1000000] [--runs 40]

Prints, per page, p50 / p95 / max of the whole page's queries (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from supabase import AsyncClient, AsyncClientOptions, create_async_client

from infra.local import jwt
from infra.local.auth_users import add_member, create_user
from infra.local.postgres import PostgresCluster, apply_migrations
from infra.local.proc import free_port, python_module
from infra.local.projects import insert_project
from infra.local.usage_seed import seed
from origin.dashboard import data

DAYS = 90


async def make_member(dsn: str, name: str) -> tuple[str, str, str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        project = await insert_project(conn, name)
        email, password = f"{name}@bench.test", secrets.token_urlsafe(12)
        await add_member(conn, project.org_id, await create_user(conn, email, password))
    finally:
        await conn.close()
    return project.org_id, project.id, email, password


async def seed_project(dsn: str, org: str, project: str, rows: int, salt: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        await seed(conn, org, project, rows, DAYS, seed=salt, batch=100_000)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


@dataclass(frozen=True)
class PageLoads:
    """Each page load's queries for one project, as one signed-in user's client makes them."""

    client: AsyncClient
    project: str
    today: date
    newest: list[dict[str, Any]]
    since: str

    async def overview(self) -> Any:
        await data.projects(self.client)
        return await data.overview(self.client, self.project)

    def requests(self, filters: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        async def load() -> Any:
            await data.projects(self.client)
            return await data.requests(self.client, self.project, {"limit": 50, **filters})

        return load

    async def detail(self) -> Any:
        await data.projects(self.client)
        return await data.request_detail(self.client, self.project, self.newest[0]["request_id"])

    async def features_30d(self) -> Any:
        return await self._features("feature", 29)

    async def features_90d(self) -> Any:
        return await self._features("team", 89)

    async def _features(self, key: str, days_back: int) -> Any:
        await data.projects(self.client)
        await data.tag_keys(self.client, self.project)
        start = self.today - timedelta(days=days_back)
        return await data.features(self.client, self.project, key, start, self.today)

    async def cache(self) -> Any:
        await data.projects(self.client)
        keys = {f"{i:064x}": 0.0 for i in range(100)}
        await data.cache_entry_stats(self.client, self.project, keys)
        await data.cache_series(self.client, self.project, 14)
        return await data.cache_purges(self.client, self.project)

    async def keys(self) -> Any:
        await data.projects(self.client)
        return await data.api_keys(self.client, self.project)

    async def providers(self) -> Any:
        await data.projects(self.client)
        return await data.provider_keys(self.client, self.project)

    async def live_tick(self) -> Any:
        return await data.savings(self.client, self.project, self.since)


async def pages(client: AsyncClient, project: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Each page load's queries, in the order the page makes them (origin/dashboard/)."""
    today = datetime.now(UTC).date()
    newest = await data.requests(client, project, {"limit": 50})
    cursor = {"before_at": newest[-1]["created_at"], "before_id": newest[-1]["request_id"]}
    week = f"{today - timedelta(days=7)}T00:00:00+00:00"
    since = str(datetime.combine(today - timedelta(days=29), datetime.min.time(), UTC))
    page = PageLoads(client, project, today, newest, since)
    return {
        "overview": page.overview,
        "requests: newest 50": page.requests({}),
        "requests: next page (keyset)": page.requests(cursor),
        "requests: tag feature=search": page.requests(
            {"tag_key": "feature", "tag_value": "search"}
        ),
        "requests: tag no row has": page.requests({"tag_key": "feature", "tag_value": "absent"}),
        "requests: model + last 7 days": page.requests(
            {"model": "claude-sonnet-4-6", "from": week}
        ),
        "requests: failed only": page.requests({"success": False}),
        "requests: one session": page.requests({"session": "sess-42"}),
        "requests: cache status": page.requests({"cache_status": "hit-semantic-edge"}),
        "request detail": page.detail,
        "features (30 days)": page.features_30d,
        "features (90 days)": page.features_90d,
        "cache": page.cache,
        "keys": page.keys,
        "providers": page.providers,
        "live savings tick": page.live_tick,
    }


async def measure(url: str, anon: str, email: str, password: str, project: str, runs: int) -> None:
    options = AsyncClientOptions(auto_refresh_token=False, persist_session=False)
    client = await create_async_client(url, anon, options)
    await client.auth.sign_in_with_password({"email": email, "password": password})
    print(f"{'page load':46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, run in (await pages(client, project)).items():
        await run()  # warm: plans cached, pages in shared buffers, as for a user clicking around
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await run()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        print(f"{name:46} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard")
    parser.add_argument("--rows", type=int, default=1_000_000, help="usage rows per project")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        cluster = PostgresCluster(
            Path(tempfile.mkdtemp(prefix="prism-pg-dash-")), free_port(), fsync=False
        )
        stack.callback(cluster.destroy)
        cluster.start()
        asyncio.run(apply_migrations(cluster.dsn))
        secret = secrets.token_urlsafe(32)
        rest = python_module(
            "postgrest", "infra.local.postgrest", free_port(), "--dsn", cluster.dsn,
            f"--jwt-secret={secret}",
        )  # fmt: skip
        rest.start(timeout=60)
        stack.callback(rest.stop)
        first = asyncio.run(make_member(cluster.dsn, "first"))
        second = asyncio.run(make_member(cluster.dsn, "second"))
        for salt, (org, project, _, _) in enumerate((first, second), start=1):
            took = asyncio.run(seed_project(cluster.dsn, org, project, args.rows, salt))
            print(f"seeded {args.rows:,} rows over {DAYS} days for project {salt} in {took:.0f} s")
        anon = jwt.encode({"role": "anon"}, secret)
        asyncio.run(measure(rest.url, anon, first[2], first[3], first[1], args.runs))


if __name__ == "__main__":
    main()
