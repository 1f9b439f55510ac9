"""The backend clients one request may use, built from the bindings that are set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from edge.context import EdgeContext
from edge.supabase import Supabase
from edge.upstash import UpstashRedis
from edge.vector import UpstashVector

# Lookups sit on the path of every request, hit or miss, so they get little time: a slow
# backend turns into a trip to the origin, which answers regardless. Key checks get more,
# because failing one sends the request on unauthenticated work to the origin.
REDIS_TIMEOUT_S: Final = 1.0
VECTOR_TIMEOUT_S: Final = 2.0
AUTH_TIMEOUT_S: Final = 3.0
# The usage insert runs after the response, so it may take longer before the queue takes over.
USAGE_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True)
class Backends:
    redis: UpstashRedis | None
    vector: UpstashVector | None
    supabase: Supabase | None

    @classmethod
    def of(cls, ctx: EdgeContext) -> Backends:
        config, http, cooldowns = ctx.config, ctx.http, ctx.cooldowns
        redis = vector = supabase = None
        if config.redis_url and config.redis_token:
            redis = UpstashRedis(
                http, config.redis_url, config.redis_token, REDIS_TIMEOUT_S, cooldowns.redis
            )
        if config.vector_url and config.vector_token:
            vector = UpstashVector(
                http, config.vector_url, config.vector_token, VECTOR_TIMEOUT_S, cooldowns.vector
            )
        if config.supabase_url and config.supabase_edge_key:
            supabase = Supabase(
                http,
                config.supabase_url,
                config.supabase_edge_key,
                config.supabase_anon_key,
                cooldowns.supabase,
            )
        return cls(redis=redis, vector=vector, supabase=supabase)
