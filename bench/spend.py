"""What spend control costs on the request path: budgets and a rate limit active vs none.

Starts the benchmark stack (bench.stack: Postgres, Redis, PostgREST, the simulator and ONE
origin worker) with two projects: "plain" has no budgets or limits (the origin makes no Redis
call for it), "guarded" has two block budgets (the project's and a tag's, both covering every
request, limits far above what the run spends) and a requests-per-minute limit of the
project. wrk drives the same short gpt-4o-mini completion at both, in interleaved rounds:

  c=1, every request a cache miss (unique prompts): the lookup misses, then one admit script
      counts the limit and reserves both budgets; the settle goes after the answer, batched
  c=1, instant upstream, response cache bypassed (X-Prism-Cache: no-store): the same admit,
      no lookup
  c=32, 50 ms upstream, no-store: requests/s of guarded (and plain) vs direct to the simulator

Redis commands per request (INFO commandstats around each c=1 target's rounds; the commands
scripts run count too) and "ROUND TRIPS" per request (read events Redis processed: one per
pipeline or lone command, from every client: the cache's GET and its store are two).

    .venv/bin/python -m bench.spend [--requests N] [--duration-s S] [--rounds R]

Added latency = p50(guarded) - p50(plain). The goals (issue 10): the added p50 on the miss
path at c=1 at most 0.5 ms, and guarded at c=32 at least 90 % of direct; each is printed as
PASS or MISS (the no-store path is judged by the same 0.5 ms, for information).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from collections import Counter
from contextlib import ExitStack

import asyncpg
import redis

from bench.load import SEQ_PLACEHOLDER, LoadResult, Target, combine, ensure_wrk, run_load
from bench.stack import Stack, start_stack
from infra.local.proc import ROOT
from infra.local.projects import create_project

WORK_DIR = ROOT / ".prism" / "bench" / "spend-run"
TAGS = ("X-Prism-Tags", "feature=bench")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.spend", description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=3000, help="requests per c=1 target")
    p.add_argument("--duration-s", type=float, default=12.0, help="c=32 time per target")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per measurement")
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


async def guard(dsn: str, project_id: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "insert into budgets (project_id, period, limit_cents, action) "
            "values ($1, 'month', 1000000, 'block')",
            project_id,
        )
        await conn.execute(
            "insert into budgets (project_id, period, limit_cents, action, tag_key, tag_value) "
            "values ($1, 'day', 1000000, 'block', 'feature', 'bench')",
            project_id,
        )
        await conn.execute(
            "insert into rate_limits (project_id, subject_id, requests_per_minute) "
            "values ($1, $1, 100000000)",
            project_id,
        )
    finally:
        await conn.close()


def body(unique: bool) -> str:
    text = f"Say hello in one short sentence. [{SEQ_PLACEHOLDER}]" if unique else "Say hello."
    return json.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": 32}
    )


def chat_target(stack: Stack, name: str, key: str, unique: bool) -> Target:
    headers = [("Authorization", f"Bearer {key}"), TAGS]
    if not unique:
        headers.append(("X-Prism-Cache", "no-store"))
    url = f"{stack.origin_url}/v1/chat/completions"
    return Target(name, url, body(unique), tuple(headers), unique=unique)


def measure(
    wrk: str, targets: list[Target], connections: int, seconds: float, rounds: int, redis_url: str
) -> tuple[dict[str, LoadResult], dict[str, dict[str, float]]]:
    """Each target's combined rounds, and its Redis commands per request."""
    client = redis.Redis.from_url(redis_url)
    for target in targets:  # warm: connections, policies, scripts, counters initialised
        run_load(wrk, target, connections, 1.5)
    results: dict[str, list[LoadResult]] = {t.name: [] for t in targets}
    commands: dict[str, Counter[str]] = {t.name: Counter() for t in targets}
    for number in range(rounds):
        print(f"bench: c={connections} round {number + 1}/{rounds}", file=sys.stderr, flush=True)
        for target in targets:
            before = commandstats(client)
            results[target.name].append(run_load(wrk, target, connections, seconds / rounds))
            time.sleep(0.05)  # the last settles are sent after the last response
            commands[target.name] += commandstats(client) - before
    client.close()
    combined = {name: combine(runs) for name, runs in results.items()}
    per_request = {
        name: {k: round(v / combined[name].requests, 2) for k, v in sorted(found.items())}
        for name, found in commands.items()
    }
    return combined, per_request


def commandstats(client: redis.Redis) -> Counter[str]:
    """Commands so far by name (a script's own calls included), and the round trips: Redis
    reads each client's pipeline, or lone command, as one read event."""
    info = client.info("commandstats")
    found = Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()})
    found["ROUND TRIPS"] = int(client.info("stats")["total_reads_processed"])
    return found


def run(stack: ExitStack, args: argparse.Namespace) -> dict[str, object]:
    wrk = ensure_wrk()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    servers = start_stack(stack, WORK_DIR)
    plain = asyncio.run(create_project(servers.dsn, "plain")).api_key
    guarded_project = asyncio.run(create_project(servers.dsn, "guarded"))
    asyncio.run(guard(servers.dsn, guarded_project.id))
    guarded = guarded_project.api_key
    c1_seconds = args.requests / 400  # about 400 requests/s at c=1 on this machine
    servers.set_latency(0)
    c1 = [
        chat_target(servers, "plain miss", plain, True),
        chat_target(servers, "guarded miss", guarded, True),
        chat_target(servers, "plain", plain, False),
        chat_target(servers, "guarded", guarded, False),
    ]
    c1_results, c1_commands = measure(wrk, c1, 1, c1_seconds, args.rounds, servers.redis_url)
    servers.set_latency(50)
    direct = Target(
        "direct",
        f"{servers.simulator_url}/p/openai/v1/chat/completions",
        body(False),
        (("Authorization", "Bearer sk-bench-direct"),),
    )
    c32_targets = [
        direct,
        chat_target(servers, "plain", plain, False),
        chat_target(servers, "guarded", guarded, False),
    ]
    c32, _ = measure(wrk, c32_targets, 32, args.duration_s, args.rounds, servers.redis_url)
    return summary(c1_results, c1_commands, c32)


def summary(
    c1: dict[str, LoadResult], commands: dict[str, dict[str, float]], c32: dict[str, LoadResult]
) -> dict[str, object]:
    def p50(result: LoadResult) -> float:
        return result.latency_ms["p50"]

    added_miss = p50(c1["guarded miss"]) - p50(c1["plain miss"])
    added = p50(c1["guarded"]) - p50(c1["plain"])
    ratio = c32["guarded"].rps / c32["direct"].rps
    plain_ratio = c32["plain"].rps / c32["direct"].rps
    return {
        "c1_p50_ms": {k: round(p50(v), 3) for k, v in c1.items()},
        "c1_rounds_p50_ms": {k: [round(r[0], 3) for r in v.rounds] for k, v in c1.items()},
        "c1_cache_miss_added_p50_ms": round(added_miss, 3),
        "c1_no_store_added_p50_ms": round(added, 3),
        "c1_redis_commands_per_request": commands,
        "c32_rps": {k: round(v.rps, 1) for k, v in c32.items()},
        "c32_guarded_vs_direct": round(ratio, 3),
        "c32_plain_vs_direct": round(plain_ratio, 3),
        "errors": {k: v.errors for d in (c1, c32) for k, v in d.items()},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "goal_c1_miss_added_p50_le_0_5_ms": _verdict(added_miss <= 0.5, f"{added_miss:.3f} ms"),
        "goal_c32_guarded_ge_90_percent_of_direct": _verdict(ratio >= 0.9, f"{ratio:.1%}"),
        "info_c1_no_store_added_p50_le_0_5_ms": _verdict(added <= 0.5, f"{added:.3f} ms"),
    }


def _verdict(met: bool, value: str) -> str:
    return f"{'PASS' if met else 'MISS'} ({value})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with ExitStack() as stack:
        result = run(stack, args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
