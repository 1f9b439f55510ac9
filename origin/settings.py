"""Configuration, read once into one typed, immutable object.

Sources, later winning: the defaults below, a `.env` file (PRISM_ENV_FILE, default `.env` in
the working directory), the process environment. Every variable is in VARIABLES with what it
means; a malformed value stops start-up with an error naming the variable, and secrets print
as *** wherever a Settings is shown (`prism config`). How each value is parsed and shown
lives in env_values.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from origin.env_values import (
    Secret,
    SettingsError,
    Variable,
    choice,
    flag,
    integer,
    items,
    master_key,
    millis,
    number,
    path,
    redis_url,
    secret,
    shown,
    text,
    url,
)
from origin.envfile import read_env_file
from shared.semantic_guard import DEFAULT_MAX_USER_TURNS, DEFAULT_TOP_K

# Secret and SettingsError are re-exported: the rest of the origin imports them from here.
__all__ = ["ROOT", "VARIABLES", "Secret", "Settings", "SettingsError"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    supabase_url: str = "http://127.0.0.1:54321"
    supabase_service_key: Secret = field(default_factory=lambda: Secret(""))
    # The public anon key: the dashboard's Supabase client sends it with each user's token.
    supabase_anon_key: Secret = field(default_factory=lambda: Secret(""))
    # Where browsers reach the dashboard when a proxy stands in front (origin.dashboard.site).
    public_url: str = ""
    redis_url: str = "redis://127.0.0.1:56379/0"
    vector_url: str = ""
    vector_token: Secret = field(default_factory=lambda: Secret(""))
    upstash_redis_url: str = ""
    upstash_redis_token: Secret = field(default_factory=lambda: Secret(""))
    master_key: Secret = field(default_factory=lambda: Secret(""))
    # Bearer token for /admin/v1; when empty the admin API refuses every request.
    admin_token: Secret = field(default_factory=lambda: Secret(""))
    # When set, every provider is called at this simulator instead of its real endpoint.
    simulator_url: str = ""
    # Hosts ("host", "host:port", a URL) or networks ("10.0.0.0/8") provider calls may reach
    # although private, loopback or link-local; nothing else non-public is ever called.
    upstream_allowlist: tuple[str, ...] = ()
    # Relative to the working directory: an installed package has no checkout to write into.
    data_dir: Path = Path(".prism")
    max_body_bytes: int = 4 * 1024 * 1024
    # A provider's answer (after decompression) or one SSE event may not exceed this: 502.
    max_response_bytes: int = 32 * 1024 * 1024
    connect_timeout_s: float = 5.0
    first_byte_timeout_s: float = 60.0
    total_timeout_s: float = 600.0
    auth_cache_ttl_s: float = 30.0
    # After SIGTERM, how long answers in flight (streams among them) may finish before they
    # are cut; a supervisor's own stop timeout should be longer.
    shutdown_grace_s: float = 30.0
    ledger_batch_size: int = 200
    ledger_flush_interval_s: float = 0.05
    # Bearer token for GET /metrics; when empty the endpoint is open.
    metrics_token: Secret = field(default_factory=lambda: Secret(""))
    log_level: str = "INFO"
    log_format: str = "text"
    # Where traces go (OTLP over HTTP); tracing is off when empty.
    otlp_endpoint: str = ""
    # Spend control: how long a project's budgets and limits are cached in-process, how often
    # budget counters are reconciled from usage_logs, and how long a counter call may take.
    spend_policy_ttl_s: float = 10.0
    spend_reconcile_interval_s: float = 60.0
    spend_timeout_s: float = 3.0
    spend_cooldown_s: float = 1.0
    # Bad API keys one client address may present per minute before it is slowed down (429).
    auth_failures_per_minute: int = 20
    # Provider health (origin/routing/health.py): off = no weights (for comparisons); how
    # often a model at zero weight is tried anyway; the rolling window; how many outcomes it
    # takes before weights apply; the shortest first-token deadline a stream ever gets.
    health_routing: bool = True
    health_probe_s: float = 15.0
    health_window_s: float = 60.0
    health_min_samples: int = 3
    min_first_byte_s: float = 1.0
    # Fusion mode: how many models answer in parallel, and how long the panel may take.
    fusion_panel_size: int = 3
    fusion_deadline_s: float = 30.0
    # The response cache (origin.cache.config.CacheConfig is built from these).
    cache_enabled: bool = True
    semantic_cache: bool = True
    semantic_verifier: bool = True
    semantic_verifier_timeout_s: float = 0.5
    semantic_verifier_memory_mb: int = 8
    semantic_verifier_engine: str = "onnx-int8"
    cache_redis_timeout_s: float = 0.05
    cache_vector_timeout_s: float = 0.15
    cache_max_user_turns: int = DEFAULT_MAX_USER_TURNS
    cache_top_k: int = DEFAULT_TOP_K
    cache_cooldown_s: float = 0.5

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "ledger-outbox.sqlite3"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """From `env`, or from the `.env` file overlaid by the process environment."""
        if env is None:
            dotenv = Path(os.environ.get("PRISM_ENV_FILE") or ".env")
            env = {**read_env_file(dotenv), **os.environ}
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.name, "")
            if raw.strip() or (var.parse is secret and raw):
                values[var.field] = var.parse(var.name, raw.strip())
        return cls(**values)

    def describe(self) -> list[tuple[str, str, str]]:
        """(variable, effective value with secrets masked, meaning), in VARIABLES order."""
        return [(v.name, shown(getattr(self, v.field), v.parse), v.doc) for v in VARIABLES]


V = Variable
VARIABLES: tuple[Variable, ...] = (
    V("PRISM_HOST", "host", text, "address the origin listens on"),
    V("PRISM_PORT", "port", integer, "port the origin listens on"),
    V("SUPABASE_URL", "supabase_url", url, "the system of record (PostgREST lives at /rest/v1)"),
    V(
        "SUPABASE_SERVICE_KEY",
        "supabase_service_key",
        secret,
        "service-role key for PostgREST and Auth's admin API",
    ),
    V("SUPABASE_ANON_KEY", "supabase_anon_key", secret, "public anon key the dashboard sends"),
    V("PRISM_PUBLIC_URL", "public_url", url, "the dashboard's address as browsers see it"),
    V("REDIS_URL", "redis_url", redis_url, "exact cache, counters, the edge's usage queue"),
    V("UPSTASH_VECTOR_REST_URL", "vector_url", url, "semantic cache index (off when unset)"),
    V("UPSTASH_VECTOR_REST_TOKEN", "vector_token", secret, "its token"),
    V("UPSTASH_REDIS_REST_URL", "upstash_redis_url", url, "Redis over REST, as the edge reads it"),
    V("UPSTASH_REDIS_REST_TOKEN", "upstash_redis_token", secret, "its token"),
    V(
        "PRISM_MASTER_KEY",
        "master_key",
        master_key,
        "32 bytes, base64 or hex: encrypts provider keys",
    ),
    V(
        "PRISM_ADMIN_TOKEN",
        "admin_token",
        secret,
        "bearer token for /admin/v1 (refused when unset)",
    ),
    V(
        "PRISM_METRICS_TOKEN",
        "metrics_token",
        secret,
        "bearer token for /metrics (open when unset)",
    ),
    V("PRISM_SIMULATOR_URL", "simulator_url", url, "send every provider call to this simulator"),
    V(
        "PRISM_UPSTREAM_ALLOWLIST",
        "upstream_allowlist",
        items,
        "hosts/networks provider calls may reach although not public",
    ),
    V("PRISM_DATA_DIR", "data_dir", path, "ledger outbox and per-run metrics files"),
    V("PRISM_MAX_BODY_BYTES", "max_body_bytes", integer, "largest request body accepted (413)"),
    V("PRISM_MAX_RESPONSE_BYTES", "max_response_bytes", integer, "largest provider answer (502)"),
    V("PRISM_FIRST_BYTE_TIMEOUT_S", "first_byte_timeout_s", number, "provider's first byte, s"),
    V("PRISM_TOTAL_TIMEOUT_S", "total_timeout_s", number, "one provider call in all, seconds"),
    V(
        "PRISM_SHUTDOWN_GRACE_S",
        "shutdown_grace_s",
        number,
        "after SIGTERM, answers in flight may finish this long, s",
    ),
    V(
        "PRISM_LOG_LEVEL",
        "log_level",
        choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True),
        "log level",
    ),
    V("PRISM_LOG_FORMAT", "log_format", choice("text", "json"), "text, or one JSON object a line"),
    V("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint", url, "OTLP/HTTP collector: traces on"),
    V("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "otlp_endpoint", url, "the same, for traces only"),
    V("PRISM_SPEND_POLICY_TTL_S", "spend_policy_ttl_s", number, "budgets and limits cached, s"),
    V(
        "PRISM_SPEND_RECONCILE_S",
        "spend_reconcile_interval_s",
        number,
        "budget reconcile period, s",
    ),
    V(
        "PRISM_SPEND_COOLDOWN_MS",
        "spend_cooldown_s",
        millis,
        "skip spend counters' Redis this long after it times out",
    ),
    V(
        "PRISM_AUTH_FAILURES_PER_MINUTE",
        "auth_failures_per_minute",
        integer,
        "bad keys an address may send a minute before 429s",
    ),
    V("PRISM_HEALTH_ROUTING", "health_routing", flag, "health-weighted routing, on or off"),
    V("PRISM_HEALTH_PROBE_S", "health_probe_s", number, "probe a skipped model this often, s"),
    V("PRISM_HEALTH_WINDOW_S", "health_window_s", number, "rolling health window, s"),
    V("PRISM_HEALTH_MIN_SAMPLES", "health_min_samples", integer, "outcomes before weights"),
    V("PRISM_FUSION_PANEL", "fusion_panel_size", integer, "fusion: models on the panel"),
    V("PRISM_FUSION_DEADLINE_S", "fusion_deadline_s", number, "fusion: panel deadline, s"),
    V("PRISM_CACHE", "cache_enabled", flag, "the response cache, on or off"),
    V("PRISM_SEMANTIC_CACHE", "semantic_cache", flag, "its semantic layer, on or off"),
    V("PRISM_SEMANTIC_VERIFIER", "semantic_verifier", flag, "pair verifier below the threshold"),
    V(
        "PRISM_SEMANTIC_VERIFIER_TIMEOUT_MS",
        "semantic_verifier_timeout_s",
        millis,
        "a slower verification is a miss",
    ),
    V(
        "PRISM_SEMANTIC_VERIFIER_MEMORY_MB",
        "semantic_verifier_memory_mb",
        integer,
        "stored questions' encodings kept",
    ),
    V(
        "PRISM_SEMANTIC_VERIFIER_ENGINE",
        "semantic_verifier_engine",
        choice("onnx-int8", "onnx", "numpy"),
        "MiniLM on 8-bit onnxruntime, float32, or numpy",
    ),
    V("PRISM_CACHE_REDIS_TIMEOUT_MS", "cache_redis_timeout_s", millis, "per cache Redis command"),
    V("PRISM_CACHE_VECTOR_TIMEOUT_MS", "cache_vector_timeout_s", millis, "per vector query"),
    V("PRISM_CACHE_MAX_USER_TURNS", "cache_max_user_turns", integer, "longer chats skip semantic"),
    V("PRISM_CACHE_TOP_K", "cache_top_k", integer, "semantic candidates considered"),
    V(
        "PRISM_CACHE_COOLDOWN_MS",
        "cache_cooldown_s",
        millis,
        "skip a failed cache backend this long",
    ),
)
