"""The spend checks alone, in-process: what they add to one request, against a real Redis.

bench.spend measures them through the whole origin with wrk; on a busy machine that
difference of two p50s is noisy. This times exactly the added work per request (Python and
the Redis round trips), with the same SpendControl the origin builds, on uvloop as
`prism serve` runs, for a project with two block budgets and a rate limit and for one
without any (which makes no Redis call), on two paths:

  miss      the cache is consulted and misses: before_lookup, admit after routing, settle
  no-store  the cache is not consulted: admit, settle

each at concurrency 1 (one request after another; wall time is the checks' p50) and at
concurrency 32 (32 requests in flight, each yielding once where the provider would answer:
settles of requests that end together are batched). Per request it prints the origin's CPU,
redis-server's CPU, the script calls (INFO commandstats) and the round trips that carried
them (counted by origin.spend.counters; batched admits and settles share one).

    .venv/bin/python -m bench.spend_checks [--requests N] [--rounds R]

Rounds alternate the scenarios; each figure is the median over rounds.
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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import redis
import uvloop

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
CALLER = Caller(str(uuid.uuid4()), PROJECT, str(uuid.uuid4()))  # one API key, as in bench.spend


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

    async def budget_spend(self, *args: Any) -> Decimal:
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


def new_call(cache: str) -> BenchCall:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 32}  # fmt: skip
    return BenchCall(
        f"req_{uuid.uuid4().hex}",
        CALLER,
        RequestOptions(tags={"feature": "bench"}, cache=cache),
        body,
        [("gpt-4o-mini", "openai", "gpt-4o-mini"), ("gpt-5.4-mini", "openai", "gpt-5.4-mini")],
    )


@dataclass
class Scenario:
    name: str
    guarded: bool
    cache: str  # "default": consulted (and missed); "no-store": not consulted
    concurrency: int


SCENARIOS = [
    Scenario(f"{who} {path} c={c}", guarded, cache, c)
    for c in (1, 32)
    for path, cache in (("miss", "default"), ("no-store", "no-store"))
    for who, guarded in (("none", False), ("guarded", True))
]


async def one_request(spend: SpendControl, cache: str) -> float:
    """The checks of one request, as the gateway runs them; returns their wall time (s)."""
    usage = TokenUsage(5, 8)
    call = new_call(cache)
    started = time.perf_counter()
    if call.options.cache_lookup:
        await spend.before_lookup(call)  # the lookup misses: no hit to count
    await spend.admit(call)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0)  # the provider answers
    started = time.perf_counter()
    call.receipt.headers()
    spend.settle(call, usage, cost_for_model("gpt-4o-mini", usage), True)
    return elapsed + time.perf_counter() - started


async def run_scenario(redis_url: str, scenario: Scenario, requests: int) -> dict[str, float]:
    counters = Counters(redis_url, 3.0)
    store: Any = PolicyRows(scenario.guarded)
    policies = Policies(store, counters, ttl_s=3600)
    spend = SpendControl(
        policies, counters, Reconciler(store, counters, policies, 3600), AuditLog(store), 80
    )
    warm = 200
    walls: list[float] = []

    async def worker(count: int, keep: bool) -> None:
        for _ in range(count):
            elapsed = await one_request(spend, scenario.cache)
            if keep:
                walls.append(elapsed * 1000)
            await asyncio.sleep(0)  # the response goes out; the next request comes in

    per_worker = max(1, requests // scenario.concurrency)
    await asyncio.gather(*(worker(warm // scenario.concurrency + 1, False) for _ in range(32)))
    await spend.aclose()
    client = redis.Redis.from_url(redis_url)
    commands_before, trips_before = _evalsha_calls(client), counters.round_trips
    cpu_start = time.process_time()
    await asyncio.gather(*(worker(per_worker, True) for _ in range(scenario.concurrency)))
    await spend.aclose()  # the settles still waiting are part of the cost
    done = per_worker * scenario.concurrency
    cpu_ms = (time.process_time() - cpu_start) * 1000 / done
    commands = (_evalsha_calls(client) - commands_before) / done
    round_trips = (counters.round_trips - trips_before) / done
    client.close()
    await policies.aclose()
    await counters.aclose()
    return {
        "checks_wall_p50_ms": statistics.median(walls),
        "gateway_cpu_ms_per_request": cpu_ms,
        "redis_scripts_per_request": commands,
        "redis_round_trips_per_request": round_trips,
    }


def _evalsha_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


def redis_cpu_s(pid: int | None) -> float:
    """CPU seconds the redis-server has used (utime + stime from /proc)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(work: Callable[[], Coroutine[Any, Any, dict[str, float]]]) -> dict[str, float]:
    """Run on uvloop, as `prism serve` and the bench origin do."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(work())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.spend_checks")
    p.add_argument("--requests", type=int, default=3000, help="per scenario and round")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    server = RedisServer(free_port(), Path(tempfile.mkdtemp(prefix="prism-bench-redis-")))
    server.start()
    runs: dict[str, list[dict[str, float]]] = {s.name: [] for s in SCENARIOS}
    try:
        for number in range(args.rounds):
            print(f"bench: round {number + 1}/{args.rounds}", file=sys.stderr, flush=True)
            for scenario in SCENARIOS:
                redis_before = redis_cpu_s(server.pid)
                result = _run(partial(run_scenario, server.url, scenario, args.requests))
                redis_s = redis_cpu_s(server.pid) - redis_before
                result["redis_cpu_ms_per_request"] = redis_s * 1000 / args.requests
                runs[scenario.name].append(result)
    finally:
        server.stop()
    out: dict[str, Any] = {
        name: {k: round(statistics.median(r[k] for r in results), 3) for k in results[0]}
        for name, results in runs.items()
    }
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
