"""Prometheus metrics: one registry per process, built at start-up, recorded through methods.

Names follow the OpenTelemetry GenAI semantic conventions where they exist, rendered the way
the OpenTelemetry Prometheus exporter renders them (dots to underscores, the unit as a
suffix), and `prism_*` for the gateway's own. Labels only ever carry bounded values: a model
name a client made up is counted as `other`.

With several workers, `PROMETHEUS_MULTIPROC_DIR` must name a fresh directory before the
first import of prometheus_client (`prism serve` makes one per run, see multiproc.py); every
worker then writes its values there and a scrape of any worker adds them all up.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase

from origin.observability.edge_series import merged_registry
from origin.observability.multiproc import multiprocess_dir
from shared.catalog import MODELS
from shared.edge_metrics import EdgeCounts
from shared.usage import UsageRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPERATION = "chat"
OTHER = "other"
NONE = "none"
# Label values a provider may take; custom OpenAI-compatible endpoints count as `other`.
KNOWN_PROVIDERS = frozenset({info["provider"] for info in MODELS.values()} | {"cache", NONE})

# Bucket boundaries advised by the GenAI semantic conventions.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)
# The pair verifier: a MiniLM pass or two, milliseconds; its budget ends at 0.5 s.
VERIFY_BUCKETS = (0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5)
# The gateway's own time is a millisecond or two: resolve it finely there (a quarter of a
# millisecond up to 2 ms), so a p50 read from the buckets is close to the true one.
ADDED_BUCKETS = (
    0.00025, 0.0005, 0.00075, 0.001, 0.00125, 0.0015, 0.00175, 0.002, 0.0025, 0.003, 0.004,
    0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
GEN_AI = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_response_model")
# Spend control's refusals, by the error code on the refused request's row.
SPEND_REFUSALS = {"budget_exceeded": "refused", "rate_limited": "rate_limited"}
# How a gauge's values from several workers combine into one.
GaugeMode = Literal["livesum", "mostrecent"]


class Metrics:
    """Every metric the origin exports. Methods are cheap (a label lookup and an add)."""

    def __init__(self) -> None:
        # Labelled children by (metric, values): prometheus-client's own lookup costs ~3 us
        # (a lock and label checks), several times per request. Label values are bounded.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        self._declare_gen_ai()
        self._declare_traffic()
        self._declare_providers()
        self._declare_backlogs()

    def _declare_gen_ai(self) -> None:
        """The OpenTelemetry GenAI families, under their exporter-rendered names."""
        self.token_usage = self._histogram(
            "gen_ai_client_token_usage",
            "Tokens used by provider calls (OpenTelemetry gen_ai.client.token.usage).",
            [*GEN_AI, "gen_ai_token_type"],
            TOKEN_BUCKETS,
        )
        self.request_duration = self._histogram(
            "gen_ai_server_request_duration_seconds",
            "Time to answer a request, end to end (gen_ai.server.request.duration).",
            [*GEN_AI, "error_type"],
            DURATION_BUCKETS,
        )
        self.time_to_first_token = self._histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from the request to the first streamed chunk (gen_ai.server.time_to_first_token).",
            GEN_AI,
            TTFT_BUCKETS,
        )

    def _declare_traffic(self) -> None:
        """What requests did: answered, cost, saved, cache lookups, the gateway's own time."""
        self.requests = self._counter(
            "prism_requests",
            "Requests answered, by HTTP status, mode, task type and cache status.",
            ["status", "mode", "task_type", "cache_status"],
        )
        self.cost = self._counter(
            "prism_cost_cents",
            "What requests cost at the providers' prices, in cents.",
            ["provider", "model"],
        )
        self.saved = self._counter(
            "prism_saved_cents",
            "What caching saved, in cents: Prism's response cache (at either tier) or the "
            "provider's prompt cache.",
            ["source", "tier"],
        )
        self.cache_lookups = self._counter(
            "prism_cache_lookups",
            "Response-cache lookups by layer (exact, semantic) and tier (origin, edge).",
            ["layer", "tier"],
        )
        self.cache_hits = self._counter(
            "prism_cache_hits", "Response-cache hits by layer and tier.", ["layer", "tier"]
        )
        self.verifications = self._histogram(
            "prism_semantic_verification_seconds",
            "The pair verifier's time per lookup it judged, by its engine and the outcome "
            "(accepted, rejected, timeout).",
            ["engine", "outcome"],
            VERIFY_BUCKETS,
        )
        self.added_latency = self._histogram(
            "prism_gateway_added_latency_seconds",
            "The gateway's own time: total minus time spent waiting on the provider.",
            ["path"],
            ADDED_BUCKETS,
        )

    def _declare_providers(self) -> None:
        """How providers behave: attempts, liveness, routing weights, failovers."""
        self.provider_attempts = self._counter(
            "prism_provider_attempts",
            "Calls to providers, by outcome (ok or the error code).",
            ["provider", "outcome"],
        )
        self.provider_up = self._gauge(
            "prism_provider_up",
            "1 when the provider's last call succeeded, 0 when it failed.",
            ["provider"],
            "mostrecent",
        )
        self.model_health = self._gauge(
            "prism_model_health_weight",
            "Routing weight from the rolling health window: 1, 0.1 or 0 (see README).",
            ["provider", "model"],
            "mostrecent",
        )
        self.failovers = self._counter(
            "prism_failovers",
            "Requests answered by a fallback after the first choice failed.",
            ["from_provider", "to_provider"],
        )

    def _declare_backlogs(self) -> None:
        """Refusals and the rows still owed to the database."""
        self.budget_events = self._counter(
            "prism_budget_events",
            "Requests spend control refused: by a block budget (refused) or a rate limit.",
            ["event"],
        )
        self.ledger_backlog = self._gauge(
            "prism_ledger_backlog_rows",
            "Usage rows not yet confirmed by the database (pending) or refused by it (parked).",
            ["state"],
            "livesum",
        )
        self.edge_queue_backlog = self._gauge(
            "prism_edge_queue_rows",
            "Rows in the edge's Redis usage queue, by list (queued, processing, dead).",
            ["state"],
            "mostrecent",
        )

    def _counter(self, name: str, doc: str, labels: Sequence[str]) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: Sequence[str], mode: GaugeMode) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry, multiprocess_mode=mode)

    def _histogram(
        self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> Histogram:
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    # Recording: one call per event, from the code where it happens.

    def request_finished(
        self,
        *,
        status: int,
        seconds: float,
        row: UsageRow | None,
        provider_seconds: float | None = None,
    ) -> None:
        """One HTTP request is done. `row` is its usage row (None when it never had one,
        e.g. a bad API key); `provider_seconds` is how long providers kept it waiting."""
        if row is None:
            self._child(self.requests, str(status), NONE, NONE, NONE).inc()
            return
        model, provider = model_label(row.model_used), provider_label(row.provider)
        self._child(self.requests, str(status), row.mode, row.task_type, row.cache_status).inc()
        error = NONE if row.success else (row.error_code or str(status))
        self._child(self.request_duration, OPERATION, provider, model, error).observe(seconds)
        if row.cost_total_cents:
            self._child(self.cost, provider, model).inc(float(row.cost_total_cents))
        if row.cache_saved_cents:
            self._child(self.saved, "cache", "origin").inc(float(row.cache_saved_cents))
        if row.native_cache_saved_cents:
            self._child(self.saved, "native", "origin").inc(float(row.native_cache_saved_cents))
        if not row.success and row.error_code in SPEND_REFUSALS:
            self._child(self.budget_events, SPEND_REFUSALS[row.error_code]).inc()
        if row.provider == "cache" or row.cache_status.startswith("hit"):
            self._child(self.added_latency, "cache").observe(seconds)
            return
        if provider_seconds is not None and row.success:
            added = max(0.0, seconds - provider_seconds)
            self._child(self.added_latency, "provider").observe(added)
        if row.usage_reported and (row.tokens_in or row.tokens_out):
            self._child(self.token_usage, OPERATION, provider, model, "input").observe(
                row.tokens_in
            )
            self._child(self.token_usage, OPERATION, provider, model, "output").observe(
                row.tokens_out
            )

    def first_token(self, *, seconds: float, provider: str, model: str) -> None:
        labels = (OPERATION, provider_label(provider), model_label(model))
        self._child(self.time_to_first_token, *labels).observe(seconds)

    def provider_attempt(self, *, provider: str, outcome: str) -> None:
        """`outcome` is "ok" or the error code the attempt failed with."""
        name = provider_label(provider)
        self._child(self.provider_attempts, name, outcome).inc()
        self._child(self.provider_up, name).set(1.0 if outcome == "ok" else 0.0)

    def health(self, weights: dict[tuple[str, str], float]) -> None:
        """Each (provider, model)'s current routing weight, from the health board."""
        for (provider, model), weight in weights.items():
            self._child(self.model_health, provider_label(provider), model_label(model)).set(weight)

    def failover(self, *, from_provider: str, to_provider: str) -> None:
        self._child(
            self.failovers, provider_label(from_provider), provider_label(to_provider)
        ).inc()

    def cache_lookup(self, *, layer: str, hit: bool, tier: str = "origin") -> None:
        self._child(self.cache_lookups, layer, tier).inc()
        if hit:
            self._child(self.cache_hits, layer, tier).inc()

    def verification(self, *, seconds: float, engine: str, outcome: str) -> None:
        self._child(self.verifications, engine, outcome).observe(seconds)

    def backlog(self, *, ledger_pending: int, ledger_parked: int) -> None:
        self._child(self.ledger_backlog, "pending").set(ledger_pending)
        self._child(self.ledger_backlog, "parked").set(ledger_parked)

    def edge_queue(self, lengths: dict[str, int]) -> None:
        for state, rows in lengths.items():
            self._child(self.edge_queue_backlog, state).set(rows)

    def _child(self, metric: MetricWrapperBase, *values: str) -> Any:
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # Exposition.

    def render(self, edge: EdgeCounts | None = None) -> bytes:
        """The Prometheus text format: this process's values, or every worker's added up, with
        the edge's cache counters (read from Redis for this scrape) when there are any."""
        registry = self.registry
        directory = multiprocess_dir()
        if directory is not None:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        if edge is not None:
            registry = merged_registry(registry.collect(), edge)
        return generate_latest(registry)

    def process_exited(self) -> None:
        """Drop this worker's live gauges from a multi-worker run's totals."""
        if multiprocess_dir() is not None:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def model_label(model: str) -> str:
    return model if model in MODELS else OTHER


def provider_label(provider: str) -> str:
    return provider if provider in KNOWN_PROVIDERS else OTHER
