-- The request log, redefined to return each row's parent_request_id: a fusion panel call and a
-- hedge's losing attempt are rows of their own but not requests of their own, and the list
-- showed them like any request (a fusion request read as four, its panel's costs as if added
-- to it). The list now marks them and links their parent. Nothing else changed from 0016.
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
        ' routing_saved_cents::text AS routing_saved_cents, latency_ms, session_id, request_tags,'
        ' parent_request_id'
        ' FROM public.usage_logs WHERE project_id = $1';
    result json;
    tagged bigint;
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
    IF p_tag_key IS NOT NULL AND p_tag_value IS NOT NULL THEN
        SELECT coalesce(sum(requests), 0) INTO tagged FROM public.usage_tag_daily
        WHERE project_id = p_project AND tag_key = p_tag_key AND tag_value = p_tag_value
          AND (p_from IS NULL OR day >= (p_from AT TIME ZONE 'UTC')::date)
          AND (p_to IS NULL OR day <= (p_to AT TIME ZONE 'UTC')::date);
        IF tagged = 0 THEN
            RETURN '[]'::json;
        END IF;
        IF tagged < 20000 THEN
            -- MATERIALIZED keeps ORDER BY ... LIMIT out of the scan: the planner collects the
            -- tag's rows from the GIN index instead of walking the whole project in order.
            q := 'WITH m AS MATERIALIZED (' || q || ') SELECT * FROM m';
        END IF;
    END IF;
    q := 'SELECT coalesce(json_agg(r), ''[]''::json) FROM (' || q
        || ' ORDER BY created_at DESC, request_id DESC LIMIT $15) AS r';
    EXECUTE q INTO result USING p_project, p_from, p_to, p_tag_key, p_tag_value, p_model,
        p_provider, p_mode, p_task_type, p_cache_status, p_session, p_success, p_before_at,
        p_before_id, least(greatest(coalesce(p_limit, 50), 1), 200);
    RETURN result;
END
$$;

REVOKE ALL ON FUNCTION public.dash_requests(uuid, timestamptz, timestamptz, text, text, text, text,
    text, text, text, text, boolean, timestamptz, text, integer) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.dash_requests(uuid, timestamptz, timestamptz, text, text, text,
    text, text, text, text, text, boolean, timestamptz, text, integer) TO authenticated, service_role;
