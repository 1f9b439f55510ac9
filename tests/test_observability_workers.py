"""Metrics with `prism serve --workers 2`: whichever worker a scrape reaches, the counters are
the totals of both (prometheus-client's multiprocess mode, one directory per run), and the
edge's counters (read from Redis) appear once."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from infra.local.proc import Service, free_port
from shared import edge_metrics

REQUESTS = 20
MAX_ROUNDS = 25
SCRAPES = 8
TOKEN = secrets.token_urlsafe(16)
# Not db 0: the session's origin drains the edge queue there.
WORKERS_REDIS_DB = 8


@pytest.fixture
def two_workers(origin_env: dict[str, str], redis_server: Any, tmp_path: Path) -> Iterator[Service]:
    port = free_port()
    env = {
        **origin_env,
        "PRISM_HOST": "127.0.0.1",
        "PRISM_PORT": str(port),
        "PRISM_DATA_DIR": str(tmp_path / "data"),
        "PRISM_METRICS_TOKEN": TOKEN,
        "REDIS_URL": redis_server.url.rsplit("/", 1)[0] + f"/{WORKERS_REDIS_DB}",
    }
    argv = [sys.executable, "-m", "origin.admin.cli", "serve", "--workers", "2"]
    service = Service("prism-serve-metrics", argv, port, env=env, log_path=tmp_path / "serve.log")
    service.start(timeout=90)
    try:
        yield service
    finally:
        service.stop(timeout=30)


def answered(text: str) -> tuple[float, float]:
    """(requests answered 200, edge-tier exact hits) in one scrape."""
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return (
        sum(
            s.value
            for s in samples
            if s.name == "prism_requests_total" and s.labels.get("status") == "200"
        ),
        sum(
            s.value
            for s in samples
            if s.name == "prism_cache_hits_total" and s.labels == {"layer": "exact", "tier": "edge"}
        ),
    )


async def test_every_scrape_counts_every_workers_requests(
    two_workers: Service, make_project: Any, tmp_path: Path, redis_server: Any
) -> None:
    project = await make_project("metrics-workers")
    # The edge's counters, as the Worker leaves them in Redis: every worker reads the same
    # hash, so each scrape shows them once, not once per worker.
    redis = aioredis.Redis.from_url(redis_server.url.rsplit("/", 1)[0] + f"/{WORKERS_REDIS_DB}")
    try:
        await redis.delete(edge_metrics.KEY)
        await redis.hincrby(edge_metrics.KEY, edge_metrics.hit_field("exact"), 3)
    finally:
        await redis.aclose()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "count me"}]}
    # A new connection per request: which worker accepts one is the kernel's choice, so keep
    # sending (a bounded number of rounds) until both workers have answered some.
    headers = {
        "Authorization": f"Bearer {project.api_key}",
        "X-Prism-Cache": "no-store",
        "Connection": "close",
    }
    metrics_dir = tmp_path / "data" / "metrics"
    sent = 0
    async with httpx.AsyncClient(base_url=two_workers.url, timeout=30) as client:
        for _ in range(MAX_ROUNDS):
            replies = await asyncio.gather(
                *(
                    client.post("/v1/chat/completions", json=body, headers=headers)
                    for _ in range(REQUESTS)
                )
            )
            assert [r.status_code for r in replies] == [200] * REQUESTS
            sent += REQUESTS
            if len(_writers(metrics_dir)) == 2:
                break
        # Both workers recorded: each keeps its values in its own files in the run's directory.
        assert len(_writers(metrics_dir)) == 2
        scrapes = []
        for _ in range(SCRAPES):
            response = await client.get(
                "/metrics", headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
            )
            assert response.status_code == 200
            scrapes.append(answered(response.text))
    assert scrapes == [(sent, 3)] * SCRAPES


def _writers(metrics_dir: Path) -> set[str]:
    """The pids that wrote counters in this run's directory."""
    runs = list(metrics_dir.iterdir()) if metrics_dir.exists() else []
    return {p.stem.rsplit("_", 1)[1] for run in runs for p in run.glob("counter_*.db")}
