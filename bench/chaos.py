"""Chaos benchmark (not a test): routing through bad providers, with and without health routing.

`python -m bench.chaos [--requests 10000] [--concurrency 32] [--latency-ms 50]`

For each configuration a fresh stack (bench/stack.py: real Postgres, Redis, PostgREST
stand-in, the provider simulator, ONE origin worker) answers `--requests` non-streamed
`model: auto` chat requests at `--concurrency`, every provider answering after
`--latency-ms`:

  * baseline: no faults, health routing on;
  * chaos, health routing on: the routed model's provider (groq) fails 30% of calls with a
    500, the first fallback's (openai) hangs on 10% of calls (no response at all);
  * chaos, health routing off (PRISM_HEALTH_ROUTING=off): the same faults, every request
    tries the routing table's order.

Reported: success rate, and latency percentiles with the added latency over the baseline's
same percentile. The client is Python (httpx), on the same 2 cores as the servers: absolute
numbers include its cost, the comparison between configurations is what matters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from bench.stack import Stack, start_stack

BODY = {"model": "auto", "messages": [{"role": "user", "content": "Say hello in one sentence."}]}
FAILING, HANGING = "groq", "openai"


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    ok: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    seconds: float

    @property
    def success_rate(self) -> float:
        return self.ok / self.requests


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(stack: Stack, requests: int, concurrency: int) -> tuple[int, list[float], float]:
    headers = {"Authorization": f"Bearer {stack.api_key}", "X-Prism-Cache": "no-store"}
    latencies: list[float] = []
    ok = 0
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal ok
        for _ in queue:
            started = time.perf_counter()
            try:
                response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
                ok += response.status_code == 200
            except httpx.HTTPError:
                pass
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=stack.origin_url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return ok, latencies, time.perf_counter() - started


def configure(stack: Stack, latency_ms: int, chaos: bool) -> None:
    for body in (
        {"latency_ms": latency_ms},
        {"provider": FAILING, "fail_rate": 0.3 if chaos else 0.0},
        {"provider": HANGING, "hang_rate": 0.1 if chaos else 0.0},
    ):
        httpx.post(f"{stack.simulator_url}/_sim/config", json=body, timeout=10).raise_for_status()


def run(name: str, args: argparse.Namespace, chaos: bool, health: bool) -> Result:
    env = {"PRISM_HEALTH_ROUTING": "on" if health else "off"}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="prism-chaos-") as tmp:
        servers = start_stack(stack, Path(tmp), env)
        configure(servers, args.latency_ms, chaos=False)
        asyncio.run(drive(servers, 200, args.concurrency))  # warm-up, not counted
        configure(servers, args.latency_ms, chaos)
        ok, latencies, seconds = asyncio.run(drive(servers, args.requests, args.concurrency))
    return Result(
        name,
        args.requests,
        ok,
        percentile(latencies, 0.50),
        percentile(latencies, 0.90),
        percentile(latencies, 0.99),
        percentile(latencies, 0.999),
        max(latencies),
        seconds,
    )


def render(results: list[Result]) -> str:
    base = results[0]
    lines = [
        "| run | success | p50 ms | p99 ms | p99 added ms | p99.9 ms | max ms | req/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.success_rate:.2%} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | "
            f"{r.p99_ms - base.p99_ms:+.0f} | {r.p999_ms:.0f} | {r.max_ms:.0f} | "
            f"{r.requests / r.seconds:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = [
        run("baseline (no faults)", args, chaos=False, health=True),
        run("chaos, health routing on", args, chaos=True, health=True),
        run("chaos, health routing off", args, chaos=True, health=False),
    ]
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
