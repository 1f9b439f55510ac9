-- Rows linked to another request (parent_request_id: each panel call of a fusion request, a
-- hedge's losing attempt) are not requests of their own, and a fusion parent's row already
-- carries its panel's cost (0015_parent_request_id.sql, README "Fusion"): spend is the sum over
-- rows without a parent plus hedge losers, whose cost nobody else carries. The rollups summed
-- every row, so the dashboard showed a fusion request's panel twice in spend (and its native
-- and routing savings twice), and counted each panel call and hedge loser as a request (a
-- hedge loser, success = false, also as an error) and in the latency figures.
--
-- The rollup statements, with each linked row counted only where it adds something its parent
-- does not carry: a hedge loser's cost (and the provider-cache saving that came with it).
CREATE OR REPLACE FUNCTION public.usage_rollup_statements() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY[$q$
        INSERT INTO public.usage_hourly AS h (project_id, hour, cache_status, requests, errors,
            spend_cents, cache_saved_cents, native_saved_cents, routing_saved_cents,
            latency_ms_sum, tokens_in, tokens_out)
        SELECT project_id, date_trunc('hour', created_at, 'UTC'), cache_status,
            %2$s * count(*) FILTER (WHERE parent_request_id IS NULL),
            %2$s * count(*) FILTER (WHERE NOT success AND parent_request_id IS NULL),
            %2$s * coalesce(sum(cost_total_cents) FILTER (WHERE parent_request_id IS NULL
                OR error_code = 'hedge_lost'), 0),
            %2$s * coalesce(sum(cache_saved_cents) FILTER (WHERE parent_request_id IS NULL), 0),
            %2$s * coalesce(sum(native_cache_saved_cents) FILTER (WHERE parent_request_id IS NULL
                OR error_code = 'hedge_lost'), 0),
            %2$s * coalesce(sum(routing_saved_cents) FILTER (WHERE parent_request_id IS NULL), 0),
            %2$s * coalesce(sum(latency_ms) FILTER (WHERE parent_request_id IS NULL), 0),
            %2$s * sum(tokens_in), %2$s * sum(tokens_out)
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
            %2$s * count(*) FILTER (WHERE r.parent_request_id IS NULL),
            %2$s * coalesce(sum(r.cost_total_cents) FILTER (WHERE r.parent_request_id IS NULL
                OR r.error_code = 'hedge_lost'), 0),
            %2$s * coalesce(sum(r.cache_saved_cents) FILTER (WHERE r.parent_request_id IS NULL), 0),
            %2$s * coalesce(sum(r.native_cache_saved_cents) FILTER (
                WHERE r.parent_request_id IS NULL OR r.error_code = 'hedge_lost'), 0),
            %2$s * coalesce(sum(r.routing_saved_cents) FILTER (WHERE r.parent_request_id IS NULL), 0),
            %2$s * coalesce(sum(r.latency_ms) FILTER (WHERE r.parent_request_id IS NULL), 0)
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
        FROM %1$I WHERE parent_request_id IS NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, day, bucket) DO UPDATE SET requests = l.requests + EXCLUDED.requests
    $q$]
$$;
REVOKE ALL ON FUNCTION public.usage_rollup_statements() FROM PUBLIC;

-- Linked rows already rolled up were counted in full: rebuild the rollups from the ledger with
-- the statements above. Only when there are such rows (the partial index answers that), so a
-- re-run rebuilds to the same sums; no usage row is written meanwhile (SHARE blocks inserts,
-- which the ledger's outbox holds until the lock is gone).
DO $$
DECLARE
    statement text;
BEGIN
    LOCK TABLE public.usage_logs IN SHARE MODE;
    IF EXISTS (SELECT 1 FROM public.usage_logs WHERE parent_request_id IS NOT NULL) THEN
        DELETE FROM public.usage_hourly;
        DELETE FROM public.usage_tag_daily;
        DELETE FROM public.usage_latency_daily;
        CREATE TEMP TABLE usage_rebuild ON COMMIT DROP AS SELECT * FROM public.usage_logs;
        FOREACH statement IN ARRAY public.usage_rollup_statements() LOOP
            EXECUTE format(statement, 'usage_rebuild', '1');
        END LOOP;
        DROP TABLE usage_rebuild;
    END IF;
END
$$;
