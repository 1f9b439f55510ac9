"""Synthetic usage rows, priced by the shared price list, for screenshots and the dashboard
benchmark. Never used by the gateway: real rows come from shared/usage.py's builders only."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from shared.pricing import TokenUsage, cost_for_model, routing_saving

MODELS = (
    ("gpt-4o-mini", "openai"),
    ("claude-haiku-4-5", "anthropic"),
    ("gemini-2.5-flash", "gemini"),
    ("groq/llama-3.1-8b-instant", "groq"),
    ("claude-sonnet-4-6", "anthropic"),
    ("gpt-4o", "openai"),
)
FEATURES = ("search", "chat", "summarise", "onboarding", "support", "tagging")
TEAMS = ("growth", "cx", "platform")
TASKS = ("simple", "code", "reasoning", "complex")
MODES = ("eco", "balanced", "balanced", "sport")
COLUMNS = (
    "request_id",
    "org_id",
    "project_id",
    "mode",
    "task_type",
    "model_used",
    "provider",
    "tokens_in",
    "tokens_out",
    "tokens_cache_read",
    "cost_provider_cents",
    "cost_total_cents",
    "latency_ms",
    "success",
    "error_code",
    "session_id",
    "cache_status",
    "cache_saved_cents",
    "native_cache_saved_cents",
    "request_tags",
    "reference_model",
    "routing_saved_cents",
    "cache_key",
    "created_at",
)
ZERO = Decimal(0)


def rows(
    org_id: str, project_id: str, count: int, days: int, seed: int = 7, now: datetime | None = None
) -> Iterator[tuple[object, ...]]:
    """`count` rows spread over the last `days` days, as tuples in COLUMNS order."""
    rng = random.Random(seed)
    end = now or datetime.now(UTC)
    span = days * 86400.0
    for i in range(count):
        created = end - timedelta(seconds=span * (rng.random() ** 1.3))
        model, provider = MODELS[min(int(rng.expovariate(0.9)), len(MODELS) - 1)]
        mode, task = rng.choice(MODES), rng.choice(TASKS)
        prompt = int(rng.lognormvariate(6.2, 0.8)) + 20
        usage = TokenUsage(
            prompt, int(rng.lognormvariate(4.8, 0.7)) + 5, rng.choice((0, 0, prompt // 2))
        )
        cost = cost_for_model(model, usage)
        tags = f'{{"feature": "{rng.choice(FEATURES)}", "team": "{rng.choice(TEAMS)}"}}'
        roll = rng.random()
        if roll < 0.22:
            status = rng.choice(
                ("hit-exact", "hit-exact-edge", "hit-semantic", "hit-semantic-edge")
            )
            yield (
                f"req_seed_{uuid.uuid4().hex}", org_id, project_id, mode, "cache", model, "cache",
                usage.prompt_tokens, usage.completion_tokens, 0, ZERO, ZERO,
                int(rng.uniform(1, 25)), True, None, None, status, cost.cents, ZERO, tags, None,
                ZERO, f"{rng.getrandbits(256):064x}", created,
            )  # fmt: skip
            continue
        ok = roll > 0.015
        reference, routed = routing_saving("auto", mode, usage if ok else None, cost)
        yield (
            f"req_seed_{uuid.uuid4().hex}", org_id, project_id, mode, task, model, provider,
            usage.prompt_tokens if ok else 0, usage.completion_tokens if ok else 0,
            usage.cache_read_tokens if ok else 0, cost.cents if ok else ZERO,
            cost.cents if ok else ZERO, int(rng.lognormvariate(6.4, 0.5)), ok,
            None if ok else "upstream_timeout", f"sess-{i % 997}" if i % 3 == 0 else None,
            "miss", ZERO, cost.native_saved_cents if ok else ZERO, tags, reference, routed, None,
            created,
        )  # fmt: skip


async def seed(
    conn: asyncpg.Connection,
    org_id: str,
    project_id: str,
    count: int,
    days: int,
    seed: int = 7,
    batch: int = 50_000,
) -> None:
    """Insert the rows with COPY, in batches; the rollup triggers run once per batch."""
    # COPY speaks binary: jsonb's binary form is a version byte and the JSON text.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda text: b"\x01" + text.encode(),
        decoder=lambda raw: raw[1:].decode(),
        schema="pg_catalog",
        format="binary",
    )
    pending: list[tuple[object, ...]] = []
    for row in rows(org_id, project_id, count, days, seed):
        pending.append(row)
        if len(pending) >= batch:
            await conn.copy_records_to_table("usage_logs", records=pending, columns=COLUMNS)
            pending = []
    if pending:
        await conn.copy_records_to_table("usage_logs", records=pending, columns=COLUMNS)
