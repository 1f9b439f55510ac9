-- The features page's rows are the values of one tag key, and its total row their sum, so the
-- requests that do not carry the key (no tags at all, or only other keys) were on no row: the
-- total read as the period's spend but left theirs out, and disagreed with the overview. They
-- are now one more row, value null: the project's totals for the same whole UTC days (exact,
-- from usage_hourly) minus the tagged rows' (a request carries a key at most once, so the
-- tagged rows hold each tagged request once). The total row is still the sum of the rows, and
-- now also every request in the period. A value is a row if it has requests or spend (a hedge
-- loser whose request fell on another day has only spend), so no spend moves to another row.
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
        tagged AS (
            SELECT tag_value AS value, sum(requests) AS requests, sum(spend_cents) AS spend_cents,
                   sum(cache_saved_cents) AS cache_saved_cents,
                   sum(native_saved_cents) AS native_saved_cents,
                   sum(routing_saved_cents) AS routing_saved_cents,
                   sum(latency_ms_sum) AS latency_ms_sum
            FROM d GROUP BY tag_value HAVING sum(requests) <> 0 OR sum(spend_cents) <> 0
        ),
        everything AS (
            SELECT coalesce(sum(requests), 0) AS requests,
                   coalesce(sum(spend_cents), 0) AS spend_cents,
                   coalesce(sum(cache_saved_cents), 0) AS cache_saved_cents,
                   coalesce(sum(native_saved_cents), 0) AS native_saved_cents,
                   coalesce(sum(routing_saved_cents), 0) AS routing_saved_cents,
                   coalesce(sum(latency_ms_sum), 0) AS latency_ms_sum
            FROM public.usage_hourly
            WHERE project_id = p_project
              AND hour >= p_from::timestamp AT TIME ZONE 'UTC'
              AND hour < (p_to + 1)::timestamp AT TIME ZONE 'UTC'
        ),
        untagged AS (
            SELECT NULL::text AS value,
                   e.requests - coalesce(sum(t.requests), 0) AS requests,
                   e.spend_cents - coalesce(sum(t.spend_cents), 0) AS spend_cents,
                   e.cache_saved_cents - coalesce(sum(t.cache_saved_cents), 0) AS cache_saved_cents,
                   e.native_saved_cents - coalesce(sum(t.native_saved_cents), 0) AS native_saved_cents,
                   e.routing_saved_cents - coalesce(sum(t.routing_saved_cents), 0) AS routing_saved_cents,
                   e.latency_ms_sum - coalesce(sum(t.latency_ms_sum), 0) AS latency_ms_sum
            FROM everything AS e LEFT JOIN tagged AS t ON true
            GROUP BY e.requests, e.spend_cents, e.cache_saved_cents, e.native_saved_cents,
                     e.routing_saved_cents, e.latency_ms_sum
        ),
        rows AS (
            SELECT * FROM tagged
            UNION ALL
            SELECT * FROM untagged WHERE requests <> 0 OR spend_cents <> 0
        ),
        top AS (
            SELECT value FROM tagged ORDER BY spend_cents DESC, value LIMIT p_series_values
        )
        SELECT json_build_object(
            'rows', (SELECT coalesce(json_agg(json_build_object(
                        'value', value, 'requests', requests, 'spend_cents', spend_cents::text,
                        'cache_saved_cents', cache_saved_cents::text,
                        'native_saved_cents', native_saved_cents::text,
                        'routing_saved_cents', routing_saved_cents::text,
                        'avg_latency_ms', round(latency_ms_sum::numeric / nullif(requests, 0), 1))
                     ORDER BY value IS NULL, spend_cents DESC, value), '[]'::json) FROM rows),
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
