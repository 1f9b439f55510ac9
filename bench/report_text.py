"""The origin benchmark's report as plain text: a table per phase, then the goals."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench.load import LoadResult
from bench.report import DIRECT, Goal, Measurement, Phase, Report, added_p50, throughput_ratio


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


LATENCY_COLUMNS = (
    "p50 ms",
    "p90 ms",
    "p95 ms",
    "p99 ms",
    "mean ms",
    "added p50 ms",
    "p50 by round",
)
THROUGHPUT_COLUMNS = ("seconds", "req/s", "of direct", "p50 ms", "p99 ms", "req/s by round")
# The cells of one measured row between its request count and its CPU columns.
Cells = Callable[[Report, str, Measurement, LoadResult], list[str]]


def latency_table(report: Report, phase: Phase) -> str:
    return _phase_table(report, phase, LATENCY_COLUMNS, _latency_cells)


def throughput_table(report: Report, phase: Phase) -> str:
    return _phase_table(report, phase, THROUGHPUT_COLUMNS, _throughput_cells)


def _latency_cells(report: Report, phase: str, m: Measurement, r: LoadResult) -> list[str]:
    added = None if m.name == DIRECT else added_p50(report, phase, m.name)
    return [
        *(_fmt(r.latency_ms[k]) for k in ("p50", "p90", "p95", "p99", "mean")),
        "" if m.name == DIRECT else _fmt(added, "+.2f"),
        _spread([p50 for p50, _ in r.rounds]),
    ]


def _throughput_cells(report: Report, phase: str, m: Measurement, r: LoadResult) -> list[str]:
    ratio = None if m.name == DIRECT else throughput_ratio(report, phase, m.name)
    return [
        _fmt(r.duration_s, ".1f"),
        _fmt(r.rps, ".1f"),
        "" if m.name == DIRECT else _fmt(None if ratio is None else ratio * 100, ".1f") + "%",
        _fmt(r.latency_ms["p50"]),
        _fmt(r.latency_ms["p99"]),
        _spread([rps for _, rps in r.rounds], ".0f"),
    ]


def _phase_table(report: Report, phase: Phase, columns: Sequence[str], cells: Cells) -> str:
    """A row per target measured in `phase`; a target without a result shows n/a*."""
    header = ["target", "requests", *columns, *CPU_HEADER, "errors"]
    rows = []
    for m in (m for m in report.measurements if m.phase == phase.key):
        r = m.result
        if r is None:
            rows.append([m.name, *["-"] * (len(header) - 2), "n/a*"])
            continue
        own = cells(report, phase.key, m, r)
        rows.append([m.name, str(r.requests), *own, *_cpu_cells(m), str(r.errors)])
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
