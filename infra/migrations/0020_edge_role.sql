-- The edge's own database role. The Worker only resolves API keys and writes the usage rows of
-- the cache hits it answers, so that is all `prism_edge` may do: a leaked edge token cannot read
-- key hashes, provider-key ciphertext or anyone's usage, cannot change or delete rows, and cannot
-- forge the row of a paid call. The service-role key stays with the origin.
--
-- PostgREST switches to it from the `role` claim of the JWT the edge presents (SET ROLE), as it
-- does for anon, authenticated and service_role. Hosted Supabase connects as `authenticator`,
-- which may only switch to roles granted to it, hence the guarded GRANT below.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prism_edge') THEN
        CREATE ROLE prism_edge NOLOGIN NOINHERIT;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
        GRANT prism_edge TO authenticator;
    END IF;
END
$$;

-- Nothing from earlier grants or defaults: only what is granted below.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM prism_edge;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM prism_edge;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM prism_edge;
GRANT USAGE ON SCHEMA public TO prism_edge;

GRANT EXECUTE ON FUNCTION public.resolve_api_key(text) TO prism_edge;
-- A plain INSERT: insert-or-skip (ON CONFLICT) would need a SELECT policy under row-level
-- security. A row stored twice is refused as a duplicate, which the edge counts as stored.
GRANT INSERT ON public.usage_logs TO prism_edge;

-- Only rows of edge cache hits; no SELECT, UPDATE or DELETE policy, so none of those either.
DROP POLICY IF EXISTS usage_logs_edge_hits ON public.usage_logs;
CREATE POLICY usage_logs_edge_hits ON public.usage_logs FOR INSERT TO prism_edge
    WITH CHECK (cache_status IN ('hit-exact-edge', 'hit-semantic-edge') AND provider = 'cache');
