-- The request ledger: one row per gateway request, keyed by the request id the gateway minted.
--
-- Deliberately no foreign keys: a ledger write must never fail (and lose billing data) because a
-- project, org or key was deleted or revoked while the request was in flight. Ids are kept as-is.
CREATE TABLE IF NOT EXISTS public.usage_logs (
    request_id               text PRIMARY KEY,
    org_id                   uuid NOT NULL,
    project_id               uuid NOT NULL,
    api_key_id               uuid,
    mode                     text NOT NULL DEFAULT 'balanced',
    task_type                text NOT NULL,
    model_used               text NOT NULL,
    provider                 text NOT NULL,
    tokens_in                integer NOT NULL DEFAULT 0,
    tokens_out               integer NOT NULL DEFAULT 0,
    tokens_cache_read        integer NOT NULL DEFAULT 0,
    tokens_cache_write       integer NOT NULL DEFAULT 0,
    cost_provider_cents      numeric(18, 6) NOT NULL DEFAULT 0,
    cost_total_cents         numeric(18, 6) NOT NULL DEFAULT 0,
    latency_ms               integer NOT NULL DEFAULT 0,
    was_streaming            boolean NOT NULL DEFAULT false,
    success                  boolean NOT NULL DEFAULT true,
    error_code               text,
    usage_reported           boolean NOT NULL DEFAULT true,
    session_id               text,
    cache_status             text NOT NULL DEFAULT 'miss',
    cache_saved_cents        numeric(18, 6) NOT NULL DEFAULT 0,
    native_cache_saved_cents numeric(18, 6) NOT NULL DEFAULT 0,
    request_tags             jsonb,
    created_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usage_logs_tokens_non_negative CHECK (
        tokens_in >= 0 AND tokens_out >= 0 AND tokens_cache_read >= 0 AND tokens_cache_write >= 0
    ),
    CONSTRAINT usage_logs_costs_non_negative CHECK (
        cost_provider_cents >= 0 AND cost_total_cents >= 0
        AND cache_saved_cents >= 0 AND native_cache_saved_cents >= 0
    ),
    CONSTRAINT usage_logs_latency_non_negative CHECK (latency_ms >= 0)
);

-- Dashboards read a project's recent traffic, per feature tag, and per conversation session.
CREATE INDEX IF NOT EXISTS usage_logs_project_created_idx
    ON public.usage_logs (project_id, created_at DESC);
CREATE INDEX IF NOT EXISTS usage_logs_project_feature_created_idx
    ON public.usage_logs (project_id, (request_tags ->> 'feature'), created_at DESC);
CREATE INDEX IF NOT EXISTS usage_logs_project_session_idx
    ON public.usage_logs (project_id, session_id) WHERE session_id IS NOT NULL;
