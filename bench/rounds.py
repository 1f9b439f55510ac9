"""One phase of the origin benchmark: warm every target up, then measure in interleaved rounds.

Interleaving (direct, origin, litellm, ..., again) makes load from elsewhere on the machine
fall on all targets alike; each round also counts the CPU every server spent on it.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from dataclasses import dataclass, field

import httpx

from bench import cpu
from bench.added_latency import AddedLatency
from bench.cpu import Usage
from bench.load import (
    SEQ_PLACEHOLDER,
    LoadError,
    LoadResult,
    Target,
    combine,
    duration_for,
    run_load,
)
from bench.report import Measurement, Phase

DRAIN_TIMEOUT_S = 60.0
# This process and the wrk runs it has reaped; the servers below it are counted by name.
CLIENT = frozenset({"client"})


def probe(target: Target) -> str:
    """One request as the load will send it; raises unless it succeeds. Returns what the
    origin says it did (provider and cache status), to show next to the numbers."""
    body = target.body.replace(SEQ_PLACEHOLDER, secrets.token_hex(6))
    response = httpx.post(target.url, content=body, headers=dict(target.headers), timeout=30)
    if response.status_code != 200:
        raise LoadError(f"{target.name} answered {response.status_code}: {response.text[:200]}")
    provider = response.headers.get("x-prism-provider")
    cache = response.headers.get("x-prism-cache-status")
    return f"provider={provider} cache={cache}" if provider else ""


def wait_ledger_drained(origin_url: str) -> None:
    """Rows from earlier runs must not be written during the next one's measurement."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        health = httpx.get(f"{origin_url}/healthz", timeout=10).json()
        if not health.get("ledger_pending"):
            return
        time.sleep(0.2)


@dataclass
class Row:
    """One target's progress through a phase: warmed up, then measured round by round."""

    name: str
    target: Target | None
    note: str
    warm: LoadResult | None = None
    rounds: list[LoadResult] = field(default_factory=list)
    cpu: list[Usage] = field(default_factory=list)
    failed: bool = False

    def fail(self, exc: Exception) -> None:
        self.failed, self.note = True, f"failed: {exc}"

    def measurement(self, phase: Phase) -> Measurement:
        if self.failed or self.target is None or not self.rounds:
            return Measurement(phase.key, self.name, None, self.note)
        result = combine(self.rounds)
        spent: dict[str, float] = {}
        for usage in self.cpu:
            for name, seconds in usage.trees.items():
                spent[name] = spent.get(name, 0.0) + seconds
        span = sum(u.span_s for u in self.cpu)
        others = 100.0 * sum(u.other_s for u in self.cpu) / span if span else 0.0
        cpu_ms = {name: 1000.0 * seconds / result.requests for name, seconds in spent.items()}
        return Measurement(phase.key, self.name, result, self.note, cpu_ms, others)


def warm_up(wrk: str, phase: Phase, row: Row, args: argparse.Namespace) -> None:
    assert row.target is not None
    try:
        probe(row.target)
        row.warm = run_load(wrk, row.target, phase.connections, args.warmup_s)
        row.note = probe(row.target)
    except (LoadError, httpx.HTTPError) as exc:
        row.fail(exc)


def measure_phase(
    wrk: str,
    phase: Phase,
    rows: list[Row],
    args: argparse.Namespace,
    origin_url: str,
    roots: dict[str, int],
    added: AddedLatency,
) -> list[Measurement]:
    """Warm every target up, then measure them in interleaved rounds (direct, origin,
    litellm, ..., again), so that load from elsewhere on the machine falls on all alike."""
    for row in rows:
        if row.target is not None:
            print(f"bench: {phase.key} warm-up {row.name}", file=sys.stderr, flush=True)
            warm_up(wrk, phase, row, args)
    live = [row for row in rows if row.target is not None and not row.failed]
    for number in range(1, args.rounds + 1):
        print(f"bench: {phase.key} round {number}/{args.rounds}", file=sys.stderr, flush=True)
        for row in (row for row in live if not row.failed):
            assert row.target is not None and row.warm is not None
            duration = (
                duration_for(args.requests // args.rounds, row.warm)
                if phase.kind == "latency"
                else args.duration_s / args.rounds
            )
            try:
                wait_ledger_drained(origin_url)
                with added.around(phase.key, row.name):  # its scrapes outside the CPU count
                    before = cpu.snapshot(roots, CLIENT)
                    row.rounds.append(run_load(wrk, row.target, phase.connections, duration))
                    row.cpu.append(cpu.usage_between(before, cpu.snapshot(roots, CLIENT)))
            except (LoadError, httpx.HTTPError) as exc:
                row.fail(exc)
    return [row.measurement(phase) for row in rows]
