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


def _templates(rng: random.Random, n: int) -> list[tuple[object, ...]]:
    """Priced request shapes (model, tokens, cost, savings, status...) to draw rows from: the
    price arithmetic runs once per shape, not once per row, so a million rows seed quickly."""
    shapes: list[tuple[object, ...]] = []
    for _ in range(n):
        model, provider = MODELS[min(int(rng.expovariate(0.9)), len(MODELS) - 1)]
        mode, task = rng.choice(MODES), rng.choice(TASKS)
        prompt = int(rng.lognormvariate(6.2, 0.8)) + 20
        usage = TokenUsage(
            prompt, int(rng.lognormvariate(4.8, 0.7)) + 5, rng.choice((0, 0, prompt // 2))
        )
        cost = cost_for_model(model, usage)
        roll = rng.random()
        if roll < 0.22:
            status = rng.choice(
                ("hit-exact", "hit-exact-edge", "hit-semantic", "hit-semantic-edge")
            )
            shapes.append((
                mode, "cache", model, "cache", usage.prompt_tokens, usage.completion_tokens, 0,
                ZERO, ZERO, int(rng.uniform(1, 25)), True, None, status, cost.cents, ZERO, None,
                ZERO,
            ))  # fmt: skip
            continue
        ok = rng.random() > 0.02  # about one request in fifty fails upstream
        reference, routed = routing_saving("auto", mode, usage if ok else None, cost)
        shapes.append((
            mode, task, model, provider, usage.prompt_tokens if ok else 0,
            usage.completion_tokens if ok else 0, usage.cache_read_tokens if ok else 0,
            cost.cents if ok else ZERO, cost.cents if ok else ZERO,
            int(rng.lognormvariate(6.4, 0.5)), ok, None if ok else "upstream_timeout", "miss",
            ZERO, cost.native_saved_cents if ok else ZERO, reference, routed,
        ))  # fmt: skip
    return shapes


def rows(
    org_id: str, project_id: str, count: int, days: int, seed: int = 7, now: datetime | None = None
) -> Iterator[tuple[object, ...]]:
    """`count` rows spread over the last `days` days (denser lately), in COLUMNS order."""
    rng = random.Random(seed)
    end = now or datetime.now(UTC)
    span = days * 86400.0
    shapes = _templates(rng, 4000)
    tags = [f'{{"feature": "{f}", "team": "{t}"}}' for f in FEATURES for t in TEAMS]
    keys = [f"{rng.getrandbits(256):064x}" for _ in range(500)]
    run = uuid.uuid4().hex[:12]
    for i in range(count):
        created = end - timedelta(seconds=span * (rng.random() ** 1.3))
        (mode, task, model, provider, t_in, t_out, t_read, c_prov, c_total, latency, ok, err,
         status, c_saved, n_saved, reference, routed) = shapes[rng.randrange(len(shapes))]  # fmt: skip
        yield (
            f"req_seed_{run}_{i:09d}", org_id, project_id, mode, task, model, provider, t_in,
            t_out, t_read, c_prov, c_total, latency, ok, err,
            f"sess-{i % 997}" if i % 3 == 0 else None, status, c_saved, n_saved,
            tags[rng.randrange(len(tags))], reference, routed,
            keys[rng.randrange(len(keys))] if status != "miss" else None, created,
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
