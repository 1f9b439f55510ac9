-- Latency percentiles at scale: a per-day histogram of latencies in buckets 2% wide, kept by the
-- same statement triggers as the other rollups. A percentile is read from the histogram (a few
-- hundred rows per day) instead of sorting a week of requests; the value reported is the middle
-- of the bucket that holds the exact percentile, so it is within 1% of it.

CREATE OR REPLACE FUNCTION public.latency_bucket(p_ms integer) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT floor(ln(greatest(p_ms, 0) + 1) / ln(1.02))::smallint $$;

CREATE OR REPLACE FUNCTION public.latency_of_bucket(p_bucket smallint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT greatest(round(exp((p_bucket + 0.5) * ln(1.02)) - 1), 0)::integer $$;

CREATE TABLE IF NOT EXISTS public.usage_latency_daily (
    project_id uuid NOT NULL,
    day        date NOT NULL,
    bucket     smallint NOT NULL,
    requests   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, day, bucket)
);

ALTER TABLE public.usage_latency_daily ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.usage_latency_daily FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.usage_latency_daily TO service_role;
GRANT SELECT ON public.usage_latency_daily TO authenticated;
DROP POLICY IF EXISTS usage_latency_daily_read_own ON public.usage_latency_daily;
CREATE POLICY usage_latency_daily_read_own ON public.usage_latency_daily FOR SELECT TO authenticated
    USING (project_id = ANY ((SELECT public.member_project_ids())::uuid[]));

-- The rollup statements, now three: hourly totals, daily tag totals, daily latency histogram.
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
    $q$, $q$
        INSERT INTO public.usage_latency_daily AS l (project_id, day, bucket, requests)
        SELECT project_id, (created_at AT TIME ZONE 'UTC')::date,
            public.latency_bucket(latency_ms), %2$s * count(*)
        FROM %1$I GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, day, bucket) DO UPDATE SET requests = l.requests + EXCLUDED.requests
    $q$]
$$;
REVOKE ALL ON FUNCTION public.usage_rollup_statements() FROM PUBLIC;


-- Rows already in the ledger: their histogram, built once with the same statement.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.usage_latency_daily)
       AND EXISTS (SELECT 1 FROM public.usage_logs) THEN
        CREATE TEMP TABLE usage_backfill ON COMMIT DROP AS SELECT * FROM public.usage_logs;
        EXECUTE format((public.usage_rollup_statements())[3], 'usage_backfill', '1');
    END IF;
END
$$;

-- p50 / p95 over whole UTC days from the histogram, as percentile_disc would pick them.
CREATE OR REPLACE FUNCTION public.dash_latency(p_project uuid, p_since date)
RETURNS json
LANGUAGE sql STABLE
AS $$
    WITH b AS (
        SELECT bucket, sum(requests) AS n FROM public.usage_latency_daily
        WHERE project_id = p_project AND day >= p_since GROUP BY bucket
    ),
    c AS (
        SELECT bucket, sum(n) OVER (ORDER BY bucket) AS cum, sum(n) OVER () AS total FROM b
        WHERE n > 0
    )
    SELECT json_build_object(
        'p50', (SELECT public.latency_of_bucket(min(bucket)) FROM c WHERE cum >= 0.5 * total),
        'p95', (SELECT public.latency_of_bucket(min(bucket)) FROM c WHERE cum >= 0.95 * total)
    )
$$;
REVOKE ALL ON FUNCTION public.dash_latency(uuid, date) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.dash_latency(uuid, date) TO authenticated, service_role;

-- The overview reads latency from the histogram.
CREATE OR REPLACE FUNCTION public.dash_overview(p_project uuid, p_now timestamptz DEFAULT now())
RETURNS json
LANGUAGE sql STABLE
AS $$
    WITH h AS (
        SELECT * FROM public.usage_hourly
        WHERE project_id = p_project AND hour >= public.dash_period_start(30, p_now)
    ),
    totals AS (
        SELECT
            coalesce(sum(spend_cents) FILTER (WHERE hour >= public.dash_period_start(1, p_now)), 0)::text AS spend_today,
            coalesce(sum(spend_cents) FILTER (WHERE hour >= public.dash_period_start(7, p_now)), 0)::text AS spend_7d,
            coalesce(sum(spend_cents), 0)::text AS spend_30d,
            coalesce(sum(requests) FILTER (WHERE hour >= public.dash_period_start(1, p_now)), 0) AS requests_today,
            coalesce(sum(requests) FILTER (WHERE hour >= public.dash_period_start(7, p_now)), 0) AS requests_7d,
            coalesce(sum(requests), 0) AS requests_30d,
            coalesce(sum(errors), 0) AS errors_30d
        FROM h
    ),
    layers AS (
        SELECT coalesce(json_object_agg(cache_status, n), '{}'::json) AS by_status
        FROM (SELECT cache_status, sum(requests) AS n FROM h GROUP BY cache_status) AS s
    ),
    days AS (
        SELECT coalesce(json_agg(json_build_object(
                   'day', d.day::date, 'spend_cents', coalesce(x.spend, 0)::text,
                   'requests', coalesce(x.n, 0), 'saved_cents', coalesce(x.saved, 0)::text)
                   ORDER BY d.day), '[]'::json) AS series
        FROM generate_series(
            (public.dash_period_start(30, p_now) AT TIME ZONE 'UTC')::date,
            (p_now AT TIME ZONE 'UTC')::date, interval '1 day') AS d(day)
        LEFT JOIN (
            SELECT (hour AT TIME ZONE 'UTC')::date AS day, sum(spend_cents) AS spend,
                   sum(requests) AS n,
                   sum(cache_saved_cents + native_saved_cents + routing_saved_cents) AS saved
            FROM h GROUP BY 1
        ) AS x ON x.day = d.day::date
    )
    SELECT json_build_object(
        'totals', (SELECT row_to_json(totals) FROM totals),
        'by_cache_status', (SELECT by_status FROM layers),
        'series', (SELECT series FROM days),
        'latency_7d', public.dash_latency(p_project, (public.dash_period_start(7, p_now) AT TIME ZONE 'UTC')::date),
        'savings_30d', public.dash_savings(p_project, public.dash_period_start(30, p_now))
    )
$$;

