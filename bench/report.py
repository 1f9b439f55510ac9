"""What the origin benchmark measured and judged: rows, goals with PASS/MISS, the JSON form.

The plain-text tables are in report_text.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.load import LoadResult

DIRECT, ORIGIN, LITELLM = "direct", "origin", "litellm"
# Goals from issue 3: what one origin worker may add, and what it must keep.
MAX_ADDED_P50_MS = 2.0
MIN_THROUGHPUT_RATIO = 0.90
# Goals from issue 13, for the default configuration (response cache on, controls on).
CACHE_MISS, CACHE_HIT = "origin+cache miss", "origin+cache hit"
MAX_MISS_ADDED_MS = 1.5
MAX_HIT_ADDED_MS = 1.0
MAX_MISS_CPU_MS = 1.5
MIN_HITS_PER_S = 3000.0


@dataclass(frozen=True)
class Phase:
    key: str
    title: str
    connections: int
    upstream_ms: int
    kind: str  # "latency" or "throughput"


@dataclass(frozen=True)
class Measurement:
    phase: str
    name: str
    result: LoadResult | None
    note: str = ""  # why there is no result, or what is special about this row
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per request, per server
    others_pct: float = 0.0  # share of all cores busy with processes not ours during the runs

    @property
    def gateway_cpu_ms(self) -> float | None:
        """CPU per request of the gateway process itself (origin or LiteLLM)."""
        return (
            self.cpu_ms.get(LITELLM if self.name == LITELLM else ORIGIN)
            if self.name != DIRECT
            else None
        )

    @property
    def backing_cpu_ms(self) -> float | None:
        """CPU per request of the origin's own backing services (ledger and cache)."""
        if not self.name.startswith(ORIGIN):
            return None
        return sum(self.cpu_ms.get(k, 0.0) for k in ("postgrest", "postgres", "redis"))

    @property
    def valid(self) -> bool:
        return self.result is not None and self.result.errors == 0 and self.result.requests > 0


@dataclass(frozen=True)
class Goal:
    name: str
    value: float | None
    limit: str
    passed: bool
    detail: str = ""


@dataclass
class Report:
    machine: dict[str, Any]
    config: dict[str, Any]
    phases: Sequence[Phase]
    measurements: list[Measurement] = field(default_factory=list)

    def find(self, phase: str, name: str) -> Measurement | None:
        return next((m for m in self.measurements if m.phase == phase and m.name == name), None)


def machine_facts() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        # wrk prints its version in the usage text and exits non-zero.
        out = subprocess.run([wrk, "--version"], check=False, capture_output=True, text=True)
        wrk_version = (
            (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else ""
        )
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_avg_at_start": [round(load1, 2), round(load5, 2)],
        "load_generator": wrk_version or "wrk (version unknown)",
    }


def added_p50(report: Report, phase: str, name: str) -> float | None:
    row, base = report.find(phase, name), report.find(phase, DIRECT)
    if row is None or base is None or not (row.valid and base.valid):
        return None
    assert row.result is not None and base.result is not None
    return row.result.latency_ms["p50"] - base.result.latency_ms["p50"]


def throughput_ratio(report: Report, phase: str, name: str) -> float | None:
    row, base = report.find(phase, name), report.find(phase, DIRECT)
    if row is None or base is None or not (row.valid and base.valid):
        return None
    assert row.result is not None and base.result is not None
    return row.result.rps / base.result.rps if base.result.rps else None


def goals(report: Report, latency_phase: str, throughput_phase: str) -> list[Goal]:
    """Each goal: (name, measured value, limit, True when at most the limit, False at least)."""
    found = report.find(latency_phase, CACHE_MISS)
    miss_cpu = found.gateway_cpu_ms if found is not None and found.valid else None
    hits = report.find(throughput_phase, CACHE_HIT)
    hit_rps = hits.result.rps if hits is not None and hits.valid and hits.result else None
    table: list[tuple[str, float | None, float, bool]] = [
        ("origin p50 added latency at c=1 (ms)",
         added_p50(report, latency_phase, ORIGIN), MAX_ADDED_P50_MS, True),
        ("origin/direct throughput at c=32, 50 ms upstream",
         throughput_ratio(report, throughput_phase, ORIGIN), MIN_THROUGHPUT_RATIO, False),
        ("issue 13: cache miss, p50 added latency at c=1 (ms)",
         added_p50(report, latency_phase, CACHE_MISS), MAX_MISS_ADDED_MS, True),
        ("issue 13: exact hit, p50 added latency at c=1 (ms)",
         added_p50(report, latency_phase, CACHE_HIT), MAX_HIT_ADDED_MS, True),
        ("issue 13: cache miss/direct throughput at c=32, 50 ms upstream",
         throughput_ratio(report, throughput_phase, CACHE_MISS), MIN_THROUGHPUT_RATIO, False),
        ("issue 13: gateway CPU per cache miss at c=1 (ms)", miss_cpu, MAX_MISS_CPU_MS, True),
        ("issue 13: exact hits per second at c=32", hit_rps, MIN_HITS_PER_S, False),
    ]  # fmt: skip
    return [_goal(*row) for row in table]


def _goal(name: str, value: float | None, limit: float, at_most: bool) -> Goal:
    shown = f"{limit:.0%}" if limit < 1 else f"{limit:,g}"
    if value is None:
        return Goal(name, None, f"{'<=' if at_most else '>='} {shown}", False, "no measurement")
    met = value <= limit if at_most else value >= limit
    return Goal(name, value, f"{'<=' if at_most else '>='} {shown}", met)


def to_json(report: Report, goal_list: Sequence[Goal]) -> dict[str, Any]:
    def result(m: Measurement) -> dict[str, Any]:
        base: dict[str, Any] = {"phase": m.phase, "target": m.name, "note": m.note}
        if m.result is None:
            return {**base, "result": None}
        r = m.result
        return {
            **base,
            "requests": r.requests,
            "duration_s": r.duration_s,
            "rps": r.rps,
            "errors": r.errors,
            "latency_ms": r.latency_ms,
            "rounds": [{"p50_ms": p50, "rps": rps} for p50, rps in r.rounds],
            "cpu_ms_per_request": m.cpu_ms,
            "others_busy_pct": m.others_pct,
            "added_p50_ms": added_p50(report, m.phase, m.name) if m.name != DIRECT else None,
            "of_direct": throughput_ratio(report, m.phase, m.name) if m.name != DIRECT else None,
        }

    return {
        "machine": report.machine,
        "config": report.config,
        "phases": [vars(p) for p in report.phases],
        "measurements": [result(m) for m in report.measurements],
        "goals": [vars(g) for g in goal_list],
    }
