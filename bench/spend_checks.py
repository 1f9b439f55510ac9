"""The spend checks alone, in-process: admit + settle for one request against a real Redis.

bench.spend measures them through the whole origin with wrk; on a busy machine that
difference of two p50s is noisy. This times exactly the added work per request (Python and
the Redis round trips) for a project with two block budgets and a rate limit, and for one
without any (which makes no Redis call), with the same SpendControl the origin builds.

    .venv/bin/python -m bench.spend_checks [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.proc import free_port
from infra.local.redis_server import RedisServer
from origin.gateway.receipt import Receipt
from origin.spend.admission import Admission
from origin.spend.audit import AuditLog
from origin.spend.control import SpendControl
from origin.spend.counters import Counters
from origin.spend.policies import Policies
from origin.spend.reconcile import Reconciler
from shared.options import RequestOptions
from shared.pricing import TokenUsage, cost_for_model
from shared.usage import Caller

PROJECT = str(uuid.uuid4())


class PolicyRows:
    """The two Store reads Policies makes, answered from memory: the database is not what
    this benchmark measures (policies are cached in-process on the request path anyway)."""

    def __init__(self, guarded: bool) -> None:
        self.guarded = guarded

    async def list_budgets(self, project_id: str) -> list[dict[str, Any]]:
        if not self.guarded:
            return []
        base = {"project_id": project_id, "limit_cents": "1000000", "action": "block"}
        return [
            {**base, "id": str(uuid.uuid4()), "period": "month", "tag_key": None},
            {**base, "id": str(uuid.uuid4()), "period": "day", "tag_key": "feature",
             "tag_value": "bench"},
        ]  # fmt: skip

    async def list_limits(self, project_id: str) -> list[dict[str, Any]]:
        return [{"requests_per_minute": 10**9}] if self.guarded else []

    async def budget_spend(self, *args: Any) -> Any:
        from decimal import Decimal

        return Decimal(0)

    async def all_budgets(self) -> list[dict[str, Any]]:
        return []

    async def insert_policy_audit(self, rows: list[dict[str, Any]]) -> None:
        return None


@dataclass
class BenchCall:
    request_id: str
    caller: Caller
    options: RequestOptions
    body: dict[str, Any]
    attempts: list[tuple[str, str, str]]
    spend: Admission | None = None
    receipt: Receipt = field(default_factory=lambda: Receipt("r", "balanced"))


def new_call() -> BenchCall:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 32}  # fmt: skip
    return BenchCall(
        f"req_{uuid.uuid4().hex}",
        Caller(str(uuid.uuid4()), PROJECT, str(uuid.uuid4())),
        RequestOptions(tags={"feature": "bench"}, cache="no-store"),
        body,
        [("gpt-4o-mini", "openai", "gpt-4o-mini"), ("gpt-5.4-mini", "openai", "gpt-5.4-mini")],
    )


def redis_cpu_s(pid: int | None) -> float:
    """CPU seconds the redis-server has used (utime + stime from /proc)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timings(redis_url: str, guarded: bool, requests: int) -> tuple[list[float], float]:
    counters = Counters(redis_url, 3.0)
    store: Any = PolicyRows(guarded)
    policies = Policies(store, counters, ttl_s=3600)
    spend = SpendControl(
        policies, counters, Reconciler(store, counters, policies, 3600), AuditLog(store), 80
    )
    usage = TokenUsage(5, 8)
    cost = cost_for_model("gpt-4o-mini", usage)
    out = []
    cpu_start = 0.0
    for n in range(requests + 200):
        if n == 200:
            cpu_start = time.process_time()
        call = new_call()
        started = time.perf_counter()
        await spend.admit(call)
        call.receipt.headers()
        spend.settle(call, usage, cost, True)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0)  # the settle runs after the response, as in the origin
        if n >= 200:
            out.append(elapsed * 1000)
    cpu_ms = (time.process_time() - cpu_start) * 1000 / requests
    await spend.aclose()
    await policies.aclose()
    await counters.aclose()
    return out, cpu_ms


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.spend_checks")
    p.add_argument("--requests", type=int, default=5000)
    args = p.parse_args(argv)
    server = RedisServer(free_port(), Path(tempfile.mkdtemp(prefix="prism-bench-redis-")))
    server.start()
    try:
        result = {}
        for name, guarded in (("none", False), ("two budgets + a rate limit", True)):
            redis_before = redis_cpu_s(server.pid)
            ms, cpu_ms = asyncio.run(timings(server.url, guarded, args.requests))
            redis_ms = (redis_cpu_s(server.pid) - redis_before) * 1000 / args.requests
            q = statistics.quantiles(ms, n=100)
            result[name] = {
                "wall_p50_ms": round(q[49], 3),
                "wall_p95_ms": round(q[94], 3),
                "gateway_cpu_ms_per_request": round(cpu_ms, 3),
                "redis_cpu_ms_per_request": round(redis_ms, 3),
            }
        result["load_average_1m"] = os.getloadavg()[0]
    finally:
        server.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
