-- The cache page's hits, last hit and serving layers per entry counted every usage row that
-- named the entry's fingerprint, ever. A fingerprint is the question's key, not the stored
-- answer's: an answer purged (or expired) and stored again under it showed its predecessor's
-- hits, last hit and layers, so a fresh entry could read "6 hits, last hit an hour ago". Each
-- key now comes with the time its entry was stored (the entry's own created_at), and only the
-- hits since then count. Keys without a hit since are left out, as before.
CREATE OR REPLACE FUNCTION public.dash_cache_entry_hits(
    p_project uuid, p_keys text[], p_stored timestamptz[]
)
RETURNS json
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_object_agg(e.key, json_build_object(
                   'hits', s.hits, 'last_hit', s.last_hit, 'layers', s.layers)), '{}'::json)
        FROM unnest(p_keys, p_stored) AS e(key, stored)
        CROSS JOIN LATERAL (
            SELECT count(*) AS hits, max(u.created_at) AS last_hit,
                   array_agg(DISTINCT u.cache_status) AS layers
            FROM public.usage_logs AS u
            WHERE u.project_id = p_project AND u.cache_key = e.key AND u.created_at >= e.stored
        ) AS s
        WHERE s.hits > 0
    );
END
$$;
REVOKE ALL ON FUNCTION public.dash_cache_entry_hits(uuid, text[], timestamptz[]) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.dash_cache_entry_hits(uuid, text[], timestamptz[])
    TO authenticated, service_role;
