"""Configuration, read once from the environment into a typed, immutable object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Secret:
    """A credential that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    supabase_url: str = "http://127.0.0.1:54321"
    supabase_service_key: Secret = field(default_factory=lambda: Secret(""))
    # The public anon key: the dashboard's Supabase client sends it with each user's token.
    supabase_anon_key: Secret = field(default_factory=lambda: Secret(""))
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
    data_dir: Path = ROOT / ".prism"
    max_body_bytes: int = 4 * 1024 * 1024
    # A provider's answer (after decompression) or one SSE event may not exceed this: 502.
    max_response_bytes: int = 32 * 1024 * 1024
    connect_timeout_s: float = 5.0
    first_byte_timeout_s: float = 60.0
    total_timeout_s: float = 600.0
    auth_cache_ttl_s: float = 30.0
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

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "ledger-outbox.sqlite3"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()

        def text(name: str, default: str) -> str:
            return env.get(name, default) or default

        return cls(
            host=text("PRISM_HOST", defaults.host),
            port=int(text("PRISM_PORT", str(defaults.port))),
            supabase_url=text("SUPABASE_URL", defaults.supabase_url).rstrip("/"),
            supabase_service_key=Secret(env.get("SUPABASE_SERVICE_KEY", "")),
            supabase_anon_key=Secret(env.get("SUPABASE_ANON_KEY", "")),
            redis_url=text("REDIS_URL", defaults.redis_url),
            vector_url=text("UPSTASH_VECTOR_REST_URL", "").rstrip("/"),
            vector_token=Secret(env.get("UPSTASH_VECTOR_REST_TOKEN", "")),
            upstash_redis_url=text("UPSTASH_REDIS_REST_URL", "").rstrip("/"),
            upstash_redis_token=Secret(env.get("UPSTASH_REDIS_REST_TOKEN", "")),
            master_key=Secret(env.get("PRISM_MASTER_KEY", "")),
            admin_token=Secret(env.get("PRISM_ADMIN_TOKEN", "")),
            simulator_url=text("PRISM_SIMULATOR_URL", "").rstrip("/"),
            data_dir=Path(text("PRISM_DATA_DIR", str(defaults.data_dir))),
            max_body_bytes=int(text("PRISM_MAX_BODY_BYTES", str(defaults.max_body_bytes))),
            max_response_bytes=int(
                text("PRISM_MAX_RESPONSE_BYTES", str(defaults.max_response_bytes))
            ),
            first_byte_timeout_s=float(
                text("PRISM_FIRST_BYTE_TIMEOUT_S", str(defaults.first_byte_timeout_s))
            ),
            total_timeout_s=float(text("PRISM_TOTAL_TIMEOUT_S", str(defaults.total_timeout_s))),
            metrics_token=Secret(env.get("PRISM_METRICS_TOKEN", "")),
            log_level=text("PRISM_LOG_LEVEL", defaults.log_level).upper(),
            log_format=text("PRISM_LOG_FORMAT", defaults.log_format).lower(),
            otlp_endpoint=text(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", text("OTEL_EXPORTER_OTLP_ENDPOINT", "")
            ),
            spend_policy_ttl_s=float(
                text("PRISM_SPEND_POLICY_TTL_S", str(defaults.spend_policy_ttl_s))
            ),
            spend_reconcile_interval_s=float(
                text("PRISM_SPEND_RECONCILE_S", str(defaults.spend_reconcile_interval_s))
            ),
        )
