-- What the dashboard reads at scale: routing savings on each row, exact rollups kept by triggers,
-- and an index for every filter the request log offers.

-- Routing savings, auditable per row: the model the request is priced against (the model the
-- caller asked for, or the mode's reference model for "auto") and that price minus what was
-- paid. Signed: a failover to a dearer model is a negative saving, not hidden.
ALTER TABLE public.usage_logs ADD COLUMN IF NOT EXISTS reference_model text;
ALTER TABLE public.usage_logs
    ADD COLUMN IF NOT EXISTS routing_saved_cents numeric(18, 6) NOT NULL DEFAULT 0;

-- Per project, UTC hour and cache status: requests, money and latency sums. Sums of numeric are
-- exact, so any hour-aligned total read here equals sum() over usage_logs to the micro-cent.
CREATE TABLE IF NOT EXISTS public.usage_hourly (
    project_id          uuid NOT NULL,
    hour                timestamptz NOT NULL,
    cache_status        text NOT NULL,
    requests            bigint NOT NULL DEFAULT 0,
    errors              bigint NOT NULL DEFAULT 0,
    spend_cents         numeric(24, 6) NOT NULL DEFAULT 0,
    cache_saved_cents   numeric(24, 6) NOT NULL DEFAULT 0,
    native_saved_cents  numeric(24, 6) NOT NULL DEFAULT 0,
    routing_saved_cents numeric(24, 6) NOT NULL DEFAULT 0,
    latency_ms_sum      bigint NOT NULL DEFAULT 0,
    tokens_in           bigint NOT NULL DEFAULT 0,
    tokens_out          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, hour, cache_status)
);

-- Per project, UTC day and tag (every key=value of a row's tags): the features page.
CREATE TABLE IF NOT EXISTS public.usage_tag_daily (
    project_id          uuid NOT NULL,
    day                 date NOT NULL,
    tag_key             text NOT NULL,
    tag_value           text NOT NULL,
    requests            bigint NOT NULL DEFAULT 0,
    spend_cents         numeric(24, 6) NOT NULL DEFAULT 0,
    cache_saved_cents   numeric(24, 6) NOT NULL DEFAULT 0,
    native_saved_cents  numeric(24, 6) NOT NULL DEFAULT 0,
    routing_saved_cents numeric(24, 6) NOT NULL DEFAULT 0,
    latency_ms_sum      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, tag_key, day, tag_value)
);

-- One statement-level function for insert, delete and update: it aggregates the statement's
-- transition table(s) and upserts in key order, so concurrent ledger batches take row locks in
-- the same order and cannot deadlock. %1$I is the transition table, %2$s the sign.
CREATE OR REPLACE FUNCTION public.usage_rollup_statements() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY[$q$
        INSERT INTO public.usage_hourly AS h (project_id, hour, cache_status, requests, errors,
            spend_cents, cache_saved_cents, native_saved_cents, routing_saved_cents,
            latency_ms_sum, tokens_in, tokens_out)
        SELECT project_id, date_trunc('hour', created_at, 'UTC'), cache_status, %2$s * count(*),
            %2$s * count(*) FILTER (WHERE NOT success), %2$s * sum(cost_total_cents),
            %2$s * sum(cache_saved_cents), %2$s * sum(native_cache_saved_cents),
            %2$s * sum(routing_saved_cents), %2$s * sum(latency_ms), %2$s * sum(tokens_in),
            %2$s * sum(tokens_out)
        FROM %1$I GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, hour, cache_status) DO UPDATE SET
            requests = h.requests + EXCLUDED.requests, errors = h.errors + EXCLUDED.errors,
            spend_cents = h.spend_cents + EXCLUDED.spend_cents,
            cache_saved_cents = h.cache_saved_cents + EXCLUDED.cache_saved_cents,
            native_saved_cents = h.native_saved_cents + EXCLUDED.native_saved_cents,
            routing_saved_cents = h.routing_saved_cents + EXCLUDED.routing_saved_cents,
            latency_ms_sum = h.latency_ms_sum + EXCLUDED.latency_ms_sum,
            tokens_in = h.tokens_in + EXCLUDED.tokens_in,
            tokens_out = h.tokens_out + EXCLUDED.tokens_out
    $q$, $q$
        INSERT INTO public.usage_tag_daily AS d (project_id, day, tag_key, tag_value, requests,
            spend_cents, cache_saved_cents, native_saved_cents, routing_saved_cents,
            latency_ms_sum)
        SELECT r.project_id, (r.created_at AT TIME ZONE 'UTC')::date, t.key, t.value,
            %2$s * count(*), %2$s * sum(r.cost_total_cents), %2$s * sum(r.cache_saved_cents),
            %2$s * sum(r.native_cache_saved_cents), %2$s * sum(r.routing_saved_cents),
            %2$s * sum(r.latency_ms)
        FROM %1$I AS r
        CROSS JOIN LATERAL jsonb_each_text(
            CASE WHEN jsonb_typeof(r.request_tags) = 'object' THEN r.request_tags END
        ) AS t
        GROUP BY 1, 3, 2, 4 ORDER BY 1, 3, 2, 4
        ON CONFLICT (project_id, tag_key, day, tag_value) DO UPDATE SET
            requests = d.requests + EXCLUDED.requests,
            spend_cents = d.spend_cents + EXCLUDED.spend_cents,
            cache_saved_cents = d.cache_saved_cents + EXCLUDED.cache_saved_cents,
            native_saved_cents = d.native_saved_cents + EXCLUDED.native_saved_cents,
            routing_saved_cents = d.routing_saved_cents + EXCLUDED.routing_saved_cents,
            latency_ms_sum = d.latency_ms_sum + EXCLUDED.latency_ms_sum
    $q$]
$$;
REVOKE ALL ON FUNCTION public.usage_rollup_statements() FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.usage_rollup_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    statement text;
BEGIN
    FOREACH statement IN ARRAY public.usage_rollup_statements() LOOP
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            EXECUTE format(statement, 'usage_old', '-1');
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            EXECUTE format(statement, 'usage_new', '1');
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.usage_rollup_apply() FROM PUBLIC;

DROP TRIGGER IF EXISTS usage_rollup_insert ON public.usage_logs;
CREATE TRIGGER usage_rollup_insert AFTER INSERT ON public.usage_logs
    REFERENCING NEW TABLE AS usage_new
    FOR EACH STATEMENT EXECUTE FUNCTION public.usage_rollup_apply();
DROP TRIGGER IF EXISTS usage_rollup_delete ON public.usage_logs;
CREATE TRIGGER usage_rollup_delete AFTER DELETE ON public.usage_logs
    REFERENCING OLD TABLE AS usage_old
    FOR EACH STATEMENT EXECUTE FUNCTION public.usage_rollup_apply();
DROP TRIGGER IF EXISTS usage_rollup_update ON public.usage_logs;
CREATE TRIGGER usage_rollup_update AFTER UPDATE ON public.usage_logs
    REFERENCING OLD TABLE AS usage_old NEW TABLE AS usage_new
    FOR EACH STATEMENT EXECUTE FUNCTION public.usage_rollup_apply();

-- Rows written before the triggers existed: roll them up once, exactly, with the same
-- statements run over a copy of the ledger.
DO $$
DECLARE
    statement text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.usage_hourly) AND EXISTS (SELECT 1 FROM public.usage_logs) THEN
        CREATE TEMP TABLE usage_backfill ON COMMIT DROP AS SELECT * FROM public.usage_logs;
        FOREACH statement IN ARRAY public.usage_rollup_statements() LOOP
            EXECUTE format(statement, 'usage_backfill', '1');
        END LOOP;
    END IF;
END
$$;

-- The request log's filters, each led by project and ordered like the page (newest first).
CREATE INDEX IF NOT EXISTS usage_logs_project_created_id_idx
    ON public.usage_logs (project_id, created_at DESC, request_id DESC) INCLUDE (latency_ms);
CREATE INDEX IF NOT EXISTS usage_logs_project_model_idx
    ON public.usage_logs (project_id, model_used, created_at DESC);
CREATE INDEX IF NOT EXISTS usage_logs_project_provider_idx
    ON public.usage_logs (project_id, provider, created_at DESC);
CREATE INDEX IF NOT EXISTS usage_logs_project_mode_idx
    ON public.usage_logs (project_id, mode, created_at DESC);
CREATE INDEX IF NOT EXISTS usage_logs_project_task_idx
    ON public.usage_logs (project_id, task_type, created_at DESC);
CREATE INDEX IF NOT EXISTS usage_logs_project_cache_status_idx
    ON public.usage_logs (project_id, cache_status, created_at DESC);
CREATE INDEX IF NOT EXISTS usage_logs_project_failed_idx
    ON public.usage_logs (project_id, created_at DESC) WHERE NOT success;
CREATE INDEX IF NOT EXISTS usage_logs_project_session_created_idx
    ON public.usage_logs (project_id, session_id, created_at DESC) WHERE session_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS usage_logs_tags_idx
    ON public.usage_logs USING gin (request_tags jsonb_path_ops);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['usage_hourly', 'usage_tag_daily'] LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC, anon, authenticated', t);
        EXECUTE format('GRANT ALL ON public.%I TO service_role', t);
        EXECUTE format('GRANT SELECT ON public.%I TO authenticated', t);
        EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_read_own', t);
        EXECUTE format(
            'CREATE POLICY %I ON public.%I FOR SELECT TO authenticated'
            ' USING (project_id = ANY ((SELECT public.member_project_ids())::uuid[]))',
            t || '_read_own', t
        );
    END LOOP;
END
$$;

-- A cache hit's row names the entry that answered it: the cache inspector's hits and last access
-- per entry are counted from the ledger, whichever tier served the hit.
ALTER TABLE public.usage_logs ADD COLUMN IF NOT EXISTS cache_key text;
CREATE INDEX IF NOT EXISTS usage_logs_project_cache_key_idx
    ON public.usage_logs (project_id, cache_key, created_at DESC) WHERE cache_key IS NOT NULL;
