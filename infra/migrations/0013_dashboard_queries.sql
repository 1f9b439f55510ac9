-- The dashboard's reads, as functions called through PostgREST RPC with the signed-in user's
-- token. All are SECURITY INVOKER: row-level security decides what they see, so a user asking
-- about another organisation's project gets zeros and empty lists, never its data. Money is
-- returned as text (exact decimals: a JSON number would become a float in most clients); periods are whole UTC hours or days so the rollups answer them.

-- Start of the UTC day `days - 1` days before today: "7 days" is today and the 6 before it.
CREATE OR REPLACE FUNCTION public.dash_period_start(p_days integer, p_now timestamptz DEFAULT now())
RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$
    SELECT (date_trunc('day', p_now AT TIME ZONE 'UTC') - make_interval(days => greatest(p_days, 1) - 1))
        AT TIME ZONE 'UTC'
$$;

-- What Prism saved since p_since (rounded down to the hour): cache, provider-native and routing
-- savings, each a sum of the rows' own columns. Equal to sum() over usage_logs to the micro-cent.
CREATE OR REPLACE FUNCTION public.dash_savings(p_project uuid, p_since timestamptz)
RETURNS json
LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'since', date_trunc('hour', p_since, 'UTC'),
        'requests', coalesce(sum(requests), 0),
        'cache_exact_cents', coalesce(sum(cache_saved_cents) FILTER (WHERE cache_status LIKE 'hit-exact%'), 0)::text,
        'cache_semantic_cents', coalesce(sum(cache_saved_cents) FILTER (WHERE cache_status LIKE 'hit-semantic%'), 0)::text,
        'native_cents', coalesce(sum(native_saved_cents), 0)::text,
        'routing_cents', coalesce(sum(routing_saved_cents), 0)::text,
        'total_cents', coalesce(sum(cache_saved_cents + native_saved_cents + routing_saved_cents), 0)::text
    )
    FROM public.usage_hourly
    WHERE project_id = p_project AND hour >= date_trunc('hour', p_since, 'UTC')
$$;

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
    ),
    latency AS (
        SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
               percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
        FROM public.usage_logs
        WHERE project_id = p_project AND created_at >= public.dash_period_start(7, p_now)
    )
    SELECT json_build_object(
        'totals', (SELECT row_to_json(totals) FROM totals),
        'by_cache_status', (SELECT by_status FROM layers),
        'series', (SELECT series FROM days),
        'latency_7d', (SELECT row_to_json(latency) FROM latency),
        'savings_30d', public.dash_savings(p_project, public.dash_period_start(30, p_now))
    )
$$;

-- The request log: newest first, keyset-paginated on (created_at, request_id); only the filters
-- given become conditions, so each query is planned for the index that fits it.
CREATE OR REPLACE FUNCTION public.dash_requests(
    p_project uuid,
    p_from timestamptz DEFAULT NULL,
    p_to timestamptz DEFAULT NULL,
    p_tag_key text DEFAULT NULL,
    p_tag_value text DEFAULT NULL,
    p_model text DEFAULT NULL,
    p_provider text DEFAULT NULL,
    p_mode text DEFAULT NULL,
    p_task_type text DEFAULT NULL,
    p_cache_status text DEFAULT NULL,
    p_session text DEFAULT NULL,
    p_success boolean DEFAULT NULL,
    p_before_at timestamptz DEFAULT NULL,
    p_before_id text DEFAULT NULL,
    p_limit integer DEFAULT 50
)
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    q text := 'SELECT request_id, created_at, model_used, provider, mode, task_type, cache_status,'
        ' success, error_code, tokens_in, tokens_out, cost_total_cents::text AS cost_total_cents,'
        ' cache_saved_cents::text AS cache_saved_cents,'
        ' native_cache_saved_cents::text AS native_cache_saved_cents,'
        ' routing_saved_cents::text AS routing_saved_cents, latency_ms, session_id, request_tags'
        ' FROM public.usage_logs WHERE project_id = $1';
    result json;
BEGIN
    IF p_from IS NOT NULL THEN q := q || ' AND created_at >= $2'; END IF;
    IF p_to IS NOT NULL THEN q := q || ' AND created_at < $3'; END IF;
    IF p_tag_key IS NOT NULL AND p_tag_value IS NOT NULL THEN
        q := q || ' AND request_tags @> jsonb_build_object($4::text, $5::text)';
    END IF;
    IF p_model IS NOT NULL THEN q := q || ' AND model_used = $6'; END IF;
    IF p_provider IS NOT NULL THEN q := q || ' AND provider = $7'; END IF;
    IF p_mode IS NOT NULL THEN q := q || ' AND mode = $8'; END IF;
    IF p_task_type IS NOT NULL THEN q := q || ' AND task_type = $9'; END IF;
    IF p_cache_status IS NOT NULL THEN q := q || ' AND cache_status = $10'; END IF;
    IF p_session IS NOT NULL THEN q := q || ' AND session_id = $11'; END IF;
    IF p_success IS NOT NULL THEN q := q || ' AND success = $12'; END IF;
    IF p_before_at IS NOT NULL AND p_before_id IS NOT NULL THEN
        q := q || ' AND (created_at, request_id) < ($13, $14)';
    END IF;
    q := 'SELECT coalesce(json_agg(r), ''[]''::json) FROM (' || q
        || ' ORDER BY created_at DESC, request_id DESC LIMIT $15) AS r';
    EXECUTE q INTO result USING p_project, p_from, p_to, p_tag_key, p_tag_value, p_model,
        p_provider, p_mode, p_task_type, p_cache_status, p_session, p_success, p_before_at,
        p_before_id, least(greatest(coalesce(p_limit, 50), 1), 200);
    RETURN result;
END
$$;

-- The tag keys a project has used (for the features page's key picker).
CREATE OR REPLACE FUNCTION public.dash_tag_keys(p_project uuid)
RETURNS json
LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE k AS (
        (SELECT tag_key FROM public.usage_tag_daily WHERE project_id = p_project
         ORDER BY tag_key LIMIT 1)
        UNION ALL
        SELECT (SELECT t.tag_key FROM public.usage_tag_daily AS t
                WHERE t.project_id = p_project AND t.tag_key > k.tag_key
                ORDER BY t.tag_key LIMIT 1)
        FROM k WHERE k.tag_key IS NOT NULL
    )
    SELECT coalesce(json_agg(tag_key ORDER BY tag_key), '[]'::json) FROM k WHERE tag_key IS NOT NULL
$$;

-- Per value of one tag key over whole UTC days [p_from, p_to]: the rows, their totals (the sums
-- of the rows), and a daily spend series for the values with the most spend.
CREATE OR REPLACE FUNCTION public.dash_features(
    p_project uuid, p_key text, p_from date, p_to date, p_series_values integer DEFAULT 5
)
RETURNS json
LANGUAGE sql STABLE
AS $$
    WITH d AS (
        SELECT * FROM public.usage_tag_daily
        WHERE project_id = p_project AND tag_key = p_key AND day BETWEEN p_from AND p_to
    ),
    rows AS (
        SELECT tag_value AS value, sum(requests) AS requests, sum(spend_cents) AS spend_cents,
               sum(cache_saved_cents) AS cache_saved_cents,
               sum(native_saved_cents) AS native_saved_cents,
               sum(routing_saved_cents) AS routing_saved_cents,
               sum(latency_ms_sum) AS latency_ms_sum
        FROM d GROUP BY tag_value HAVING sum(requests) <> 0
    ),
    top AS (
        SELECT value FROM rows ORDER BY spend_cents DESC, value LIMIT p_series_values
    )
    SELECT json_build_object(
        'rows', (SELECT coalesce(json_agg(json_build_object(
                    'value', value, 'requests', requests, 'spend_cents', spend_cents::text,
                    'cache_saved_cents', cache_saved_cents::text,
                    'native_saved_cents', native_saved_cents::text,
                    'routing_saved_cents', routing_saved_cents::text,
                    'avg_latency_ms', round(latency_ms_sum::numeric / nullif(requests, 0), 1))
                 ORDER BY spend_cents DESC, value), '[]'::json) FROM rows),
        'totals', (SELECT json_build_object(
                    'requests', coalesce(sum(requests), 0),
                    'spend_cents', coalesce(sum(spend_cents), 0)::text,
                    'cache_saved_cents', coalesce(sum(cache_saved_cents), 0)::text,
                    'native_saved_cents', coalesce(sum(native_saved_cents), 0)::text,
                    'routing_saved_cents', coalesce(sum(routing_saved_cents), 0)::text,
                    'avg_latency_ms', round(sum(latency_ms_sum)::numeric / nullif(sum(requests), 0), 1))
                   FROM rows),
        'series', (SELECT coalesce(json_agg(json_build_object(
                       'value', s.tag_value, 'day', s.day, 'spend_cents', s.spend_cents::text)
                   ORDER BY s.tag_value, s.day), '[]'::json)
                   FROM (SELECT tag_value, day, sum(spend_cents) AS spend_cents FROM d
                         WHERE tag_value IN (SELECT value FROM top) GROUP BY 1, 2) AS s)
    )
$$;

-- Cache hits per layer per UTC day, and hit counts / last hit / layers for given entries.
CREATE OR REPLACE FUNCTION public.dash_cache_series(p_project uuid, p_days integer DEFAULT 14)
RETURNS json
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(json_agg(json_build_object('day', day, 'cache_status', cache_status,
               'requests', n) ORDER BY day, cache_status), '[]'::json)
    FROM (
        SELECT (hour AT TIME ZONE 'UTC')::date AS day, cache_status, sum(requests) AS n
        FROM public.usage_hourly
        WHERE project_id = p_project AND hour >= public.dash_period_start(p_days)
        GROUP BY 1, 2
    ) AS s
$$;

CREATE OR REPLACE FUNCTION public.dash_cache_entries(p_project uuid, p_keys text[])
RETURNS json
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(json_object_agg(cache_key, json_build_object(
               'hits', hits, 'last_hit', last_hit, 'layers', layers)), '{}'::json)
    FROM (
        SELECT cache_key, count(*) AS hits, max(created_at) AS last_hit,
               array_agg(DISTINCT cache_status) AS layers
        FROM public.usage_logs
        WHERE project_id = p_project AND cache_key = ANY (p_keys)
        GROUP BY cache_key
    ) AS s
$$;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'public.dash_period_start(integer, timestamptz)',
        'public.dash_savings(uuid, timestamptz)',
        'public.dash_overview(uuid, timestamptz)',
        'public.dash_requests(uuid, timestamptz, timestamptz, text, text, text, text, text, text,'
            ' text, text, boolean, timestamptz, text, integer)',
        'public.dash_tag_keys(uuid)',
        'public.dash_features(uuid, text, date, date, integer)',
        'public.dash_cache_series(uuid, integer)',
        'public.dash_cache_entries(uuid, text[])'
    ] LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, anon', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated, service_role', f);
    END LOOP;
END
$$;
