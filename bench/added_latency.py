"""The origin's own added-latency histogram over one benchmark row, to set beside the client's.

`/metrics` is scraped right before and right after each measured round of the chosen row (the
c=1 non-streaming origin row); the bucket deltas hold exactly that row's requests, and the p50
is read from them as Prometheus' histogram_quantile reads it (linear within the bucket). The
histogram runs from a request's first bytes reaching the origin's HTTP protocol to its last
byte handed back, minus the provider's wire time; the client's figure (origin p50 minus direct
p50) also holds the loopback round trip to the origin, which no server sees: bench.loopback
measures it in the same run, and the client's figure less that is what the histogram should
match.

Run by `python -m bench.origin` (the c=1 `origin` row), e.g. just this comparison:

    flock /tmp/bench.lock .venv/bin/python -m bench.origin --no-litellm --no-stream --no-cache-rows
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.report import Report, added_p50

METRIC = "prism_gateway_added_latency_seconds"
PATH = "provider"  # the cache-bypassed origin row: each request calls the provider


def scrape_buckets(origin_url: str, path: str = PATH) -> dict[float, float]:
    """Cumulative bucket counts of the added-latency histogram for `path`, by upper bound."""
    response = httpx.get(f"{origin_url}/metrics", timeout=30)
    response.raise_for_status()
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == f"{METRIC}_bucket" and sample.labels.get("path") == path:
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """The q-quantile of cumulative buckets (seconds), interpolated within its bucket."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower  # beyond the largest finite bound: the bound is all we know
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, count
    return None


@dataclass
class AddedLatency:
    """Bucket deltas summed over the rounds of one (phase, row) of a benchmark run."""

    origin_url: str
    phase: str
    row: str
    deltas: dict[float, float] = field(default_factory=dict)
    # One loopback round trip to a do-nothing server (bench.loopback): what no server sees.
    round_trip_ms: float | None = None

    @contextlib.contextmanager
    def around(self, phase: str, row: str) -> Iterator[None]:
        """Wrap one measured round; only the chosen row's rounds are scraped."""
        if (phase, row) != (self.phase, self.row):
            yield
            return
        before = scrape_buckets(self.origin_url)
        yield
        after = scrape_buckets(self.origin_url)
        for bound, count in after.items():
            self.deltas[bound] = self.deltas.get(bound, 0.0) + count - before.get(bound, 0.0)

    @property
    def requests(self) -> int:
        return int(self.deltas.get(float("inf"), 0.0))

    def p50_ms(self) -> float | None:
        p50 = quantile(self.deltas, 0.5)
        return None if p50 is None else 1000.0 * p50

    def summary(self, client_added_ms: float | None) -> str:
        """One line: the histogram's p50 next to the client-measured added p50."""
        ours = self.p50_ms()
        client = "n/a" if client_added_ms is None else f"{client_added_ms:+.2f} ms"
        hop = ""
        if self.round_trip_ms is not None and client_added_ms is not None:
            seen = client_added_ms - self.round_trip_ms
            hop = (
                f", less one loopback round trip ({self.round_trip_ms:.2f} ms, which no server"
                f" sees) {seen:+.2f} ms"
            )
        hist = "n/a" if ours is None else f"{ours:.2f} ms"
        return (
            f"added p50, {self.phase} {self.row}: client-measured {client}{hop}; "
            f"/metrics {METRIC} {hist} over {self.requests} requests"
        )


def note_on_report(report: Report, added: AddedLatency) -> None:
    """Puts the histogram's p50 beside the client's: on the row's note and in the config."""
    line = added.summary(added_p50(report, added.phase, added.row))
    print(f"bench: {line}", file=sys.stderr, flush=True)
    report.config["metrics_added_p50_ms"] = added.p50_ms()
    report.config["loopback_round_trip_ms"] = added.round_trip_ms
    for i, m in enumerate(report.measurements):
        if (m.phase, m.name) == (added.phase, added.row):
            report.measurements[i] = replace(m, note="; ".join(filter(None, [m.note, line])))
