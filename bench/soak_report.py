"""The soak run's verdict and how it is shown: text for a terminal, a table for the README.

Memory is judged after the warm-up only: the caches and the pools fill first, then the RSS
must stay within a band around its median and under the limit for the run to pass.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.soak_sampling import Sample

RSS_LIMIT_MB = 200.0
RSS_BAND = 0.10


def verdict(samples: list[Sample], warmup_s: float) -> tuple[bool, str]:
    steady = [s.rss_mb for s in samples if s.t_s >= warmup_s]
    if len(steady) < 2:
        return False, "too few samples after the warm-up"
    median = statistics.median(steady)
    low, high = min(steady), max(steady)
    within = all(abs(v - median) <= RSS_BAND * median for v in steady)
    passed = within and high < RSS_LIMIT_MB
    return passed, (
        f"after {warmup_s:.0f} s: median {median:.1f} MB, min {low:.1f} ({low / median - 1:+.1%}),"
        f" max {high:.1f} ({high / median - 1:+.1%}); band ±{RSS_BAND:.0%}: "
        f"{'kept' if within else 'LEFT'}; under {RSS_LIMIT_MB:.0f} MB: "
        f"{'yes' if high < RSS_LIMIT_MB else 'NO'}"
    )


def render(result: dict[str, Any]) -> str:
    out = [
        (
            f"soak: {result['requests_sent']} requests in {result['elapsed_s']} s "
            f"({result['requests_per_s']}/s) at concurrency {result['concurrency']}, one worker "
            f"(pid {result['worker_pid']}); load average {result['load_avg_before'][0]:.1f} before, "
            f"{result['load_avg_after'][0]:.1f} after; wrk used "
            f"{result['client_cpu_pct_of_a_core']}% of a core, the worker "
            f"{result['worker_cpu_pct_of_a_core']}% ({result['worker_cpu_ms_per_request']} ms "
            "per request)"
        ),
        (
            f"non-2xx {result['non_2xx']}, socket errors {result['socket_errors']}, "
            f"faults scripted {result['faults_scripted']}, "
            f"miss vectors forgotten {result['miss_vectors_forgotten']}"
        ),
        "origin counted: "
        + ", ".join(f"{k} {v:.0f}" for k, v in result["origin_counts"].items() if v),
        "",
        "  t (s)   requests   worker RSS MB   tree RSS MB",
    ]
    for s in result["samples"]:
        out.append(
            f"  {s['t_s']:6.0f}  {s['requests']:9d}  {s['rss_mb']:14.1f}  {s['tree_rss_mb']:12.1f}"
        )
    out += ["", f"{'PASS' if result['passed'] else 'MISS'}: {result['verdict']}"]
    return "\n".join(out)


def markdown(result: dict[str, Any], every_s: float = 60.0) -> str:
    """The curve as a README table: the first sample, then one about every `every_s`."""
    rows, next_t = [], 0.0
    samples = result["samples"]
    for i, s in enumerate(samples):
        if s["t_s"] >= next_t or i == len(samples) - 1:
            rows.append(f"| {s['t_s']:.0f} | {s['requests']:,} | {s['rss_mb']:.1f} |")
            next_t = (s["t_s"] // every_s + 1) * every_s
    head = ["| seconds | requests answered | worker RSS (MB) |", "| ---: | ---: | ---: |"]
    return "\n".join([*head, *rows])
