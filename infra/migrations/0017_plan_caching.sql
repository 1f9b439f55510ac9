-- The membership functions every policy calls, and the dashboard's aggregate functions, as
-- PL/pgSQL: a SQL-language function that cannot be inlined (SECURITY DEFINER, or a FROM clause
-- returning a scalar) is parsed and planned again on every call, which cost ~13 ms per
-- statement at a million rows; PL/pgSQL keeps its plans for the life of the connection.

CREATE OR REPLACE FUNCTION public.member_org_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(array_agg(DISTINCT o), '{}'::uuid[]) FROM (
            SELECT m.org_id AS o FROM public.org_members AS m WHERE m.user_id = auth.uid()
            UNION ALL
            SELECT p.org_id FROM public.projects AS p WHERE p.id = public.jwt_project_id()
        ) AS orgs
    );
END
$$;

CREATE OR REPLACE FUNCTION public.member_project_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    orgs uuid[] := public.member_org_ids();
BEGIN
    RETURN (
        SELECT coalesce(array_agg(p.id), '{}'::uuid[]) FROM public.projects AS p
        WHERE p.org_id = ANY (orgs)
    );
END
$$;

-- The dashboard's aggregate functions: the same queries, as PL/pgSQL.
CREATE OR REPLACE FUNCTION public.dash_savings(p_project uuid, p_since timestamptz)
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
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
    );
END
$$;

CREATE OR REPLACE FUNCTION public.dash_overview(p_project uuid, p_now timestamptz DEFAULT now())
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
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
    );
END
$$;

CREATE OR REPLACE FUNCTION public.dash_tag_keys(p_project uuid)
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
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
    );
END
$$;

CREATE OR REPLACE FUNCTION public.dash_features(
    p_project uuid, p_key text, p_from date, p_to date, p_series_values integer DEFAULT 5
)
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
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
    );
END
$$;

CREATE OR REPLACE FUNCTION public.dash_cache_series(p_project uuid, p_days integer DEFAULT 14)
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_agg(json_build_object('day', day, 'cache_status', cache_status,
                   'requests', n) ORDER BY day, cache_status), '[]'::json)
        FROM (
            SELECT (hour AT TIME ZONE 'UTC')::date AS day, cache_status, sum(requests) AS n
            FROM public.usage_hourly
            WHERE project_id = p_project AND hour >= public.dash_period_start(p_days)
            GROUP BY 1, 2
        ) AS s
    );
END
$$;

CREATE OR REPLACE FUNCTION public.dash_cache_entries(p_project uuid, p_keys text[])
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_object_agg(cache_key, json_build_object(
                   'hits', hits, 'last_hit', last_hit, 'layers', layers)), '{}'::json)
        FROM (
            SELECT cache_key, count(*) AS hits, max(created_at) AS last_hit,
                   array_agg(DISTINCT cache_status) AS layers
            FROM public.usage_logs
            WHERE project_id = p_project AND cache_key = ANY (p_keys)
            GROUP BY cache_key
        ) AS s
    );
END
$$;

CREATE OR REPLACE FUNCTION public.dash_latency(p_project uuid, p_since date)
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
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
    );
END
$$;
