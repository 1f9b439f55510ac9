"""What the origin benchmark prints: plain tables, the goals with PASS/MISS, and a JSON form."""

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


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


CPU_HEADER = ("gw cpu ms", "db cpu ms", "sim cpu ms", "others %")
CPU_LEGEND = (
    "gw cpu ms: CPU per request of the gateway process (origin or LiteLLM); db cpu ms: of",
    "PostgREST + Postgres + Redis (the origin's ledger and cache); sim cpu ms: of the simulator;",
    "others %: share of all cores used by processes not started here, during the runs.",
)


def _cpu_cells(m: Measurement) -> list[str]:
    """CPU per request of the gateway, of the origin's database/cache services and of the
    simulator, and how busy the machine was with work not ours."""
    return [
        _fmt(m.gateway_cpu_ms),
        _fmt(m.backing_cpu_ms),
        _fmt(m.cpu_ms.get("simulator")),
        _fmt(m.others_pct, ".0f"),
    ]


def _spread(values: Sequence[float], spec: str = ".2f") -> str:
    """min..max over rounds: how much the machine moved under the measurement."""
    if not values:
        return "-"
    return f"{min(values):{spec}}..{max(values):{spec}}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = [
        "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(line, widths))
        )
        for line in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def latency_table(report: Report, phase: Phase) -> str:
    header = [
        "target",
        "requests",
        "p50 ms",
        "p90 ms",
        "p95 ms",
        "p99 ms",
        "mean ms",
        "added p50 ms",
        "p50 by round",
        *CPU_HEADER,
        "errors",
    ]
    rows = []
    for m in (m for m in report.measurements if m.phase == phase.key):
        r = m.result
        if r is None:
            rows.append([m.name, *["-"] * (len(header) - 2), "n/a*"])
            continue
        added = None if m.name == DIRECT else added_p50(report, phase.key, m.name)
        rows.append(
            [
                m.name,
                str(r.requests),
                *(_fmt(r.latency_ms[k]) for k in ("p50", "p90", "p95", "p99", "mean")),
                "" if m.name == DIRECT else _fmt(added, "+.2f"),
                _spread([p50 for p50, _ in r.rounds]),
                *_cpu_cells(m),
                str(r.errors),
            ]
        )
    return _table(header, rows)


def throughput_table(report: Report, phase: Phase) -> str:
    header = [
        "target",
        "requests",
        "seconds",
        "req/s",
        "of direct",
        "p50 ms",
        "p99 ms",
        "req/s by round",
        *CPU_HEADER,
        "errors",
    ]
    rows = []
    for m in (m for m in report.measurements if m.phase == phase.key):
        r = m.result
        if r is None:
            rows.append([m.name, *["-"] * (len(header) - 2), "n/a*"])
            continue
        ratio = None if m.name == DIRECT else throughput_ratio(report, phase.key, m.name)
        rows.append(
            [
                m.name,
                str(r.requests),
                _fmt(r.duration_s, ".1f"),
                _fmt(r.rps, ".1f"),
                ""
                if m.name == DIRECT
                else _fmt(None if ratio is None else ratio * 100, ".1f") + "%",
                _fmt(r.latency_ms["p50"]),
                _fmt(r.latency_ms["p99"]),
                _spread([rps for _, rps in r.rounds], ".0f"),
                *_cpu_cells(m),
                str(r.errors),
            ]
        )
    return _table(header, rows)


def render_text(report: Report, goal_list: Sequence[Goal]) -> str:
    m = report.machine
    out = [
        (
            f"Prism origin benchmark: {m['cores']} cores ({m['cores_usable']} usable), "
            f"Python {m['python']}, {m['platform']}"
        ),
        (
            f"load generator: {m['load_generator']}; load average at start "
            f"{m['load_avg_at_start'][0]} / {m['load_avg_at_start'][1]} (1 / 5 min)"
        ),
        "config: " + ", ".join(f"{k}={v}" for k, v in report.config.items()),
        "",
    ]
    out += [*CPU_LEGEND, ""]
    for phase in report.phases:
        out.append(
            f"{phase.title} (concurrency {phase.connections}, upstream latency "
            f"{phase.upstream_ms} ms)"
        )
        table = latency_table if phase.kind == "latency" else throughput_table
        out.append(table(report, phase))
        out += [
            f"  {'*' if x.result is None else ' '} {x.name}: {x.note}"
            for x in report.measurements
            if x.phase == phase.key and x.note
        ]
        out.append("")
    out.append("goals:")
    for g in goal_list:
        value = _fmt(g.value, ".3f")
        out.append(
            f"  {'PASS' if g.passed else 'MISS'}  {g.name}: {value} (goal {g.limit})"
            + (f"  [{g.detail}]" if g.detail else "")
        )
    return "\n".join(out)


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
