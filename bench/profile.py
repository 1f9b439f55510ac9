"""Where one origin worker's CPU goes per request, by component, and Redis commands per request.

    .venv/bin/python -m bench.profile [--seconds S]

Starts the bench stack with the origin under bench.profiled_worker, warms up, then for each
scenario (cache on and every request a miss; an exact hit; cache bypassed) runs wrk at
concurrency 1 (or --connections) twice: once plain, for CPU ms per request from /proc, and
once with cProfile on, for the shares. Shares are of the profiled run's own time (cProfile slows Python code more
than C code, so read them as proportions and scale by the plain run's CPU). Redis commands per
request come from INFO commandstats around the plain run. Profiles are kept as
.prism/bench/profile/<scenario>.pstats for `python -m pstats`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import signal
import sys
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import redis

from bench import cpu
from bench.load import Target, ensure_wrk, run_load
from bench.origin import chat_body
from bench.rounds import probe, wait_ledger_drained
from bench.spend import TAGS, guard
from bench.stack import Stack, start_stack
from infra.local.proc import ROOT

WORK_DIR = ROOT / ".prism" / "bench" / "profile"
# First match wins: a path fragment of the function's file, and the component it belongs to.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("/uvicorn/", "uvicorn (HTTP server)"),
    ("/httptools/", "uvicorn (HTTP server)"),
    ("/starlette/", "starlette"),
    ("/prometheus_client/", "observability"),
    ("/origin/observability/", "observability"),
    ("/origin/tenancy/", "auth (tenancy)"),
    ("/origin/cache/", "cache"),
    ("/origin/routing/", "routing"),
    ("/origin/ledger/", "ledger"),
    ("/origin/spend/", "spend"),
    ("/origin/providers/", "providers"),
    ("/origin/gateway/", "gateway"),
    ("/origin/", "origin other"),
    ("/shared/", "shared (fingerprint, pricing, usage row)"),
    ("/redis/", "redis client"),
    ("/postgrest/", "ledger: PostgREST insert (postgrest-py, httpx, anyio)"),
    ("/httpx/", "ledger: PostgREST insert (postgrest-py, httpx, anyio)"),
    ("/httpcore/", "ledger: PostgREST insert (postgrest-py, httpx, anyio)"),
    ("/anyio/", "ledger: PostgREST insert (postgrest-py, httpx, anyio)"),
    ("/sniffio/", "ledger: PostgREST insert (postgrest-py, httpx, anyio)"),
    ("/concurrent/futures/", "threads (ledger outbox, sqlite)"),
    ("/threading.py", "threads (ledger outbox, sqlite)"),
    ("/dataclasses.py", "dataclasses/copy (usage row, options)"),
    ("/copy.py", "dataclasses/copy (usage row, options)"),
    ("/aiohttp/", "aiohttp"),
    ("/multidict/", "aiohttp"),
    ("/yarl/", "aiohttp"),
    ("/json/", "json"),
    ("/logging/", "logging"),
    ("/asyncio/", "event loop"),
    ("uvloop", "event loop"),
)


# Entry points whose cumulative time is printed per request (cProfile's clock, so inflated).
ENTRY_POINTS: tuple[tuple[str, str], ...] = (
    ("origin/tenancy/auth.py", "authenticate"),
    ("origin/gateway/validation.py", "parse_body"),
    ("shared/fingerprint.py", "fingerprint"),
    ("origin/spend/control.py", "before_lookup"),
    ("origin/cache/response_cache.py", "lookup"),
    ("origin/cache/response_cache.py", "_store"),
    ("origin/routing/classifier.py", "classify"),
    ("origin/routing/router.py", "route"),
    ("origin/providers/transport.py", "complete"),
    ("origin/observability/middleware.py", "_finish"),
    ("origin/store/usage.py", "insert_usage"),
    ("shared/usage.py", "to_json"),
)


def entry_points(stats: pstats.Stats, requests: int) -> list[str]:
    raw = stats.stats  # type: ignore[attr-defined]
    lines = []
    for (path, _line, name), (_cc, _nc, _tt, ct, _callers) in raw.items():
        for fragment, wanted in ENTRY_POINTS:
            if path.endswith(fragment) and name == wanted:
                lines.append(f"  {fragment}:{name:18s} {1000 * ct / requests:7.3f} ms/req (cum)")
    return sorted(lines)


def component(path: str) -> str:
    for fragment, name in COMPONENTS:
        if fragment in path:
            return name
    return "other python" if path != "~" else "builtin"


def by_component(stats: pstats.Stats) -> dict[str, float]:
    """Own time per component; a builtin's time goes to its callers' components, shared in
    proportion to the calls each made (so socket sends land on whoever sent)."""
    table: dict[str, float] = defaultdict(float)
    raw = stats.stats  # type: ignore[attr-defined]
    for (path, _line, _name), (_cc, _nc, tt, _ct, callers) in raw.items():
        if path != "~" or not callers:
            table[component(path)] += tt
            continue
        calls = sum(entry[1] for entry in callers.values()) or 1
        for (caller_path, _l, _n), entry in callers.items():
            table[component(caller_path)] += tt * entry[1] / calls
    return dict(table)


def commandstats(client: redis.Redis) -> dict[str, int]:
    info = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()}


async def _commits(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        query = "select xact_commit from pg_stat_database where datname = current_database()"
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


def commits(dsn: str) -> int:
    """Transactions committed so far (each PostgREST request is one; the stats lag ~0.5 s)."""
    time.sleep(0.7)
    return asyncio.run(_commits(dsn))


def scenarios(stack: Stack) -> list[Target]:
    url = f"{stack.origin_url}/v1/chat/completions"
    auth = ("Authorization", f"Bearer {stack.api_key}"), TAGS
    return [
        Target("miss", url, chat_body(False, True), auth, unique=True),
        Target("hit", url, chat_body(False), auth),
        Target("no-store", url, chat_body(False), (*auth, ("X-Prism-Cache", "no-store"))),
    ]


def measure(
    wrk: str,
    stack: Stack,
    target: Target,
    seconds: float,
    out: Path,
    profile: bool,
    connections: int = 1,
) -> None:
    client = redis.Redis.from_url(stack.redis_url)
    roots = {"origin": stack.origin_pid}
    probe(target)
    run_load(wrk, target, 1, 2)
    wait_ledger_drained(stack.origin_url)
    xacts = commits(stack.dsn)
    before, commands = cpu.snapshot(roots, frozenset()), commandstats(client)
    plain = run_load(wrk, target, connections, seconds)
    used = cpu.usage_between(before, cpu.snapshot(roots, frozenset()))
    after = commandstats(client)
    wait_ledger_drained(stack.origin_url)
    # Less the two our own connections commit (counting before and after).
    xacts_per_request = (commits(stack.dsn) - xacts - 2) / plain.requests
    per_request = {
        name: (after[name] - commands.get(name, 0)) / plain.requests
        for name in after
        if after[name] != commands.get(name, 0)
    }
    cpu_ms = 1000 * used.trees["origin"] / plain.requests
    print(
        f"\n== {target.name}: {plain.requests} req, p50 {plain.latency_ms['p50']:.2f} ms, "
        f"origin CPU {cpu_ms:.3f} ms/req"
    )
    print(
        "redis commands/request: "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(per_request.items(), key=lambda kv: -kv[1]))
    )
    print(f"postgres transactions/request (PostgREST inserts): {xacts_per_request:.3f}")
    if profile:
        profiled(wrk, stack, target, seconds, out, connections, cpu_ms)


def profiled(
    wrk: str,
    stack: Stack,
    target: Target,
    seconds: float,
    out: Path,
    connections: int,
    cpu_ms: float,
) -> None:
    """The same load with cProfile on: each component's share, scaled by the plain run's CPU."""
    wait_ledger_drained(stack.origin_url)
    os.kill(stack.origin_pid, signal.SIGUSR1)
    result = run_load(wrk, target, connections, seconds)
    os.kill(stack.origin_pid, signal.SIGUSR2)
    time.sleep(1.0)
    stats = pstats.Stats(str(out))
    total = stats.total_tt  # type: ignore[attr-defined]
    print(
        f"profiled run: {result.requests} req, "
        f"{1000 * total / result.requests:.2f} ms/req under cProfile"
    )
    for name, seconds_ in sorted(by_component(stats).items(), key=lambda kv: -kv[1]):
        share = seconds_ / total
        print(f"  {name:54s} {100 * share:5.1f} %  ~{share * cpu_ms:.3f} ms/req")
    print("\n".join(entry_points(stats, result.requests)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--only", default="", help="comma-separated scenario names")
    p.add_argument("--cpu-only", action="store_true", help="skip the profiled runs")
    p.add_argument("--no-controls", action="store_true", help="no budgets or rate limit")
    p.add_argument("--repeat", type=int, default=1, help="measure each scenario this often")
    p.add_argument(
        "--connections",
        type=int,
        default=1,
        help="wrk connections (more than 1 keeps the worker from idling between requests)",
    )
    args = p.parse_args(argv)
    wrk = ensure_wrk()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        for name in ("miss", "hit", "no-store"):
            (WORK_DIR / f"{name}.pstats").unlink(missing_ok=True)
        out = WORK_DIR / "current.pstats"
        servers = start_stack(stack, WORK_DIR, profile_to=out)
        if not args.no_controls:  # as bench.origin: two budgets and a rate limit
            asyncio.run(guard(servers.dsn, servers.project_id))
        servers.set_latency(0)
        wanted = set(filter(None, args.only.split(",")))
        for _ in range(args.repeat):
            for target in scenarios(servers):
                if wanted and target.name not in wanted:
                    continue
                measure(
                    wrk,
                    servers,
                    target,
                    args.seconds,
                    out,
                    not args.cpu_only,
                    args.connections,
                )
                if not args.cpu_only:
                    out.rename(WORK_DIR / f"{target.name}.pstats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
