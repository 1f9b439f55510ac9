"""What spend control costs on the request path: budgets and a rate limit active vs none.

Starts the benchmark stack (bench.stack: Postgres, Redis, PostgREST, the simulator and ONE
origin worker) with two projects: "plain" has no budgets or limits (the origin makes no Redis
call for it), "guarded" has two block budgets (the project's and a tag's, both covering every
request, limits far above what the run spends) and a requests-per-minute limit of the
project. wrk drives the same short gpt-4o-mini completion at both, in interleaved rounds:

  c=1, instant upstream, response cache bypassed (X-Prism-Cache: no-store): the admit script
      runs once per request (budgets and limit in one round trip), the settle after the answer
  c=1, every request a cache miss (unique prompts): the limit is counted before the cache
      lookup, the budgets reserved after routing: two round trips
  c=32, 50 ms upstream, no-store: requests/s of guarded (and plain) vs direct to the simulator

    .venv/bin/python -m bench.spend [--requests N] [--duration-s S] [--rounds R]

Added latency = p50(guarded) - p50(plain); the goals are <= 0.5 ms and >= 90 % of direct.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from contextlib import ExitStack

import asyncpg

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
    wrk: str, targets: list[Target], connections: int, seconds: float, rounds: int
) -> dict[str, LoadResult]:
    for target in targets:  # warm: connections, policies, scripts, counters initialised
        run_load(wrk, target, connections, 1.5)
    results: dict[str, list[LoadResult]] = {t.name: [] for t in targets}
    for number in range(rounds):
        print(f"bench: c={connections} round {number + 1}/{rounds}", file=sys.stderr, flush=True)
        for target in targets:
            results[target.name].append(run_load(wrk, target, connections, seconds / rounds))
    return {name: combine(runs) for name, runs in results.items()}


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
    no_store = measure(
        wrk,
        [
            chat_target(servers, "plain", plain, False),
            chat_target(servers, "guarded", guarded, False),
        ],
        1,
        c1_seconds,
        args.rounds,
    )
    misses = measure(
        wrk,
        [
            chat_target(servers, "plain miss", plain, True),
            chat_target(servers, "guarded miss", guarded, True),
        ],
        1,
        c1_seconds,
        args.rounds,
    )
    servers.set_latency(50)
    direct = Target(
        "direct",
        f"{servers.simulator_url}/p/openai/v1/chat/completions",
        body(False),
        (("Authorization", "Bearer sk-bench-direct"),),
    )
    c32 = measure(
        wrk,
        [
            direct,
            chat_target(servers, "plain", plain, False),
            chat_target(servers, "guarded", guarded, False),
        ],
        32,
        args.duration_s,
        args.rounds,
    )
    return summary(no_store, misses, c32)


def summary(
    no_store: dict[str, LoadResult], misses: dict[str, LoadResult], c32: dict[str, LoadResult]
) -> dict[str, object]:
    def p50(result: LoadResult) -> float:
        return result.latency_ms["p50"]

    added = p50(no_store["guarded"]) - p50(no_store["plain"])
    added_miss = p50(misses["guarded miss"]) - p50(misses["plain miss"])
    ratio = c32["guarded"].rps / c32["direct"].rps
    plain_ratio = c32["plain"].rps / c32["direct"].rps
    return {
        "c1_no_store_p50_ms": {k: round(p50(v), 3) for k, v in no_store.items()},
        "c1_no_store_added_p50_ms": round(added, 3),
        "c1_cache_miss_p50_ms": {k: round(p50(v), 3) for k, v in misses.items()},
        "c1_cache_miss_added_p50_ms": round(added_miss, 3),
        "c32_rps": {k: round(v.rps, 1) for k, v in c32.items()},
        "c32_guarded_vs_direct": round(ratio, 3),
        "c32_plain_vs_direct": round(plain_ratio, 3),
        "errors": {k: v.errors for d in (no_store, misses, c32) for k, v in d.items()},
        "goal_added_p50_le_0_5_ms": "PASS" if added <= 0.5 else "MISS",
        "goal_c32_ge_90_percent": "PASS" if ratio >= 0.9 else "MISS",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with ExitStack() as stack:
        result = run(stack, args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
