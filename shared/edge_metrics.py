"""The edge's cache counters: one Redis hash per deployment, written by the edge, read by /metrics.

The edge cannot be scraped (it is many short-lived isolates), so it counts into Redis inside
round trips it already makes (the exact lookup, the semantic answer's MGET, the hit's waitUntil
counters) and every origin worker reads the same hash at scrape time. Fields only ever grow
(HINCRBY), so each one is a Prometheus counter as it is; several origin workers read the same
numbers rather than adding up copies. Field names live here so the two tiers cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from shared.options import MODES

KEY: Final = "prism:edge-metrics"
LAYERS: Final = ("exact", "semantic")
# The cache statuses an edge hit can have: the only ones its request counters may carry.
HIT_STATUSES: Final = {"exact": "hit-exact-edge", "semantic": "hit-semantic-edge"}
SAVED_FIELD: Final = "saved_microcents"
_MICRO: Final = Decimal(1_000_000)

Command = Sequence[str | int]


def lookup_field(layer: str) -> str:
    return f"lookups:{layer}"


def hit_field(layer: str) -> str:
    return f"hits:{layer}"


def requests_field(mode: str, cache_status: str) -> str:
    return f"requests:{mode}:{cache_status}"


def count_lookup(layer: str) -> list[str | int]:
    """The command counting one lookup of `layer`, to send with the lookup itself."""
    return ["HINCRBY", KEY, lookup_field(layer), 1]


def count_hit(mode: str, cache_status: str, saved_cents: Decimal) -> list[list[str | int]]:
    """The commands counting one answered hit (`cache_status` is one of HIT_STATUSES')."""
    layer = "semantic" if cache_status == HIT_STATUSES["semantic"] else "exact"
    micro = int((saved_cents * _MICRO).to_integral_value(ROUND_HALF_UP))
    return [
        ["HINCRBY", KEY, hit_field(layer), 1],
        ["HINCRBY", KEY, SAVED_FIELD, micro],
        ["HINCRBY", KEY, requests_field(mode, cache_status), 1],
    ]


@dataclass(frozen=True)
class EdgeCounts:
    """What the hash says, with every label value checked against the bounded sets above."""

    lookups: dict[str, int] = field(default_factory=dict)  # by layer
    hits: dict[str, int] = field(default_factory=dict)  # by layer
    saved_cents: Decimal = Decimal(0)
    requests: dict[tuple[str, str], int] = field(default_factory=dict)  # by (mode, cache status)


def parse_counts(fields: Mapping[str, str]) -> EdgeCounts:
    """The counters in an HGETALL reply; fields that are unknown or not integers are ignored,
    so a stray write cannot put an unbounded label value into the scrape."""
    counts = EdgeCounts()
    saved = 0
    for name, raw in fields.items():
        try:
            number = int(raw)
        except ValueError:
            continue
        kind, _, rest = name.partition(":")
        if kind == "lookups" and rest in LAYERS:
            counts.lookups[rest] = number
        elif kind == "hits" and rest in LAYERS:
            counts.hits[rest] = number
        elif name == SAVED_FIELD:
            saved = number
        elif kind == "requests":
            mode, _, status = rest.partition(":")
            if mode in MODES and status in HIT_STATUSES.values():
                counts.requests[(mode, status)] = number
    return EdgeCounts(counts.lookups, counts.hits, Decimal(saved) / _MICRO, counts.requests)
