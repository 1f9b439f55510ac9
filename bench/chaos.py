"""Chaos benchmark (not a test): routing through bad providers, with and without health routing.

`python -m bench.chaos [--requests 10000] [--concurrency 32] [--latency-ms 50]`

For each configuration a fresh stack (bench/stack.py: real Postgres, Redis, PostgREST
stand-in, the provider simulator, ONE origin worker; first-byte timeout 5 s) answers
non-streamed `model: auto` chat requests at `--concurrency`, every provider answering after
`--latency-ms`. Each stack first answers 200 uncounted warm-up requests, then two measured
phases:

  * no faults (`--baseline-requests`, default a fifth of `--requests`): what a request
    costs on this stack when every provider is well;
  * chaos (`--requests`): the routed model's provider (groq) fails 30% of calls with a 500,
    the first fallback's (openai) hangs on 10% of calls (no response at all).

The configurations: health routing on (the default), and off (PRISM_HEALTH_ROUTING=off:
every request tries the routing table's order). Reported per phase: success rate, latency
percentiles, and the ADDED latency, each chaos percentile minus the same stack's no-fault
percentile (so a loaded or slow machine shifts both alike); plus how often a hedge fired,
how many requests failed over, and which providers answered. The client is Python (httpx)
on the same cores as the servers: compare configurations, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.stack import Stack, start_stack

BODY = {"model": "auto", "messages": [{"role": "user", "content": "Say hello in one sentence."}]}
FAILING, HANGING = "groq", "openai"
FAIL_RATE, HANG_RATE = 0.3, 0.1
WARM_UP = 200
QUANTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p99.9": 0.999}


@dataclass
class Phase:
    """One measured phase: every request's latency and what its receipt said."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    hedged: int = 0
    failed_over: int = 0
    answered_by: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self, baseline: Phase | None) -> dict[str, object]:
        out: dict[str, object] = {
            "run": self.name,
            "requests": self.requests,
            "success_rate": self.ok / self.requests,
            "req_per_s": self.requests / self.seconds,
            "hedged": self.hedged,
            "failed_over": self.failed_over,
            "answered_by": dict(self.answered_by.most_common()),
        }
        for label, q in QUANTILES.items():
            out[f"{label}_ms"] = self.percentile(q)
            if baseline is not None:
                out[f"{label}_added_ms"] = self.percentile(q) - baseline.percentile(q)
        return out


async def drive(stack: Stack, phase: Phase, requests: int, concurrency: int) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key}", "X-Prism-Cache": "no-store"}
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in queue:
            started = time.perf_counter()
            try:
                response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
            except httpx.HTTPError:
                phase.latencies_ms.append((time.perf_counter() - started) * 1000)
                continue
            phase.latencies_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                continue
            phase.ok += 1
            phase.hedged += "x-prism-hedge" in response.headers
            phase.failed_over += "failover:" in response.headers.get("x-prism-route-reason", "")
            phase.answered_by[response.headers.get("x-prism-provider", "?")] += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=stack.origin_url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    phase.seconds = time.perf_counter() - started


def configure(stack: Stack, latency_ms: int, chaos: bool) -> None:
    for body in (
        {"latency_ms": latency_ms},
        {"provider": FAILING, "fail_rate": FAIL_RATE if chaos else 0.0},
        {"provider": HANGING, "hang_rate": HANG_RATE if chaos else 0.0},
    ):
        httpx.post(f"{stack.simulator_url}/_sim/config", json=body, timeout=10).raise_for_status()


def run(label: str, args: argparse.Namespace, health: bool) -> list[dict[str, object]]:
    env = {"PRISM_HEALTH_ROUTING": "on" if health else "off"}
    baseline, chaos = Phase(f"no faults, {label}"), Phase(f"chaos, {label}")
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="prism-chaos-") as tmp:
        servers = start_stack(stack, Path(tmp), env)
        configure(servers, args.latency_ms, chaos=False)
        asyncio.run(drive(servers, Phase("warm-up"), WARM_UP, args.concurrency))
        asyncio.run(drive(servers, baseline, args.baseline_requests, args.concurrency))
        configure(servers, args.latency_ms, chaos=True)
        asyncio.run(drive(servers, chaos, args.requests, args.concurrency))
    return [baseline.summary(None), chaos.summary(baseline)]


def render(rows: list[dict[str, object]]) -> str:
    def ms(row: dict[str, object], key: str, sign: str = "") -> str:
        value = row.get(key)
        return f"{value:{sign},.0f}" if isinstance(value, float) else "–"

    header = (
        "| run | success | p50 ms | p90 ms | p99 ms | p99.9 ms | added p50 / p90 / p99 ms "
        "| hedged | failed over | answered by | req/s |"
    )
    lines = [header, "| --- " * 11 + "|"]
    for r in rows:
        added = " / ".join(ms(r, f"{q}_added_ms", "+") for q in ("p50", "p90", "p99"))
        by = r["answered_by"]
        answered = ", ".join(f"{p} {n}" for p, n in by.items()) if isinstance(by, dict) else ""
        lines.append(
            f"| {r['run']} | {r['success_rate']:.2%} | {ms(r, 'p50_ms')} | {ms(r, 'p90_ms')} | "
            f"{ms(r, 'p99_ms')} | {ms(r, 'p99.9_ms')} | {added} | {r['hedged']} | "
            f"{r['failed_over']} | {answered} | {r['req_per_s']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="chaos requests per run")
    parser.add_argument("--baseline-requests", type=int, help="no-fault requests (requests/5)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.baseline_requests is None:
        args.baseline_requests = max(args.concurrency, args.requests // 5)
    rows = run("health routing on", args, health=True)
    rows += run("health routing off", args, health=False)
    print(render(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
