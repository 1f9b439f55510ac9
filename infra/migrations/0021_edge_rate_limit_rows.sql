-- The edge also answers 429 for cache hits over a project's rate limits, and every request has
-- exactly one usage row, so prism_edge may insert those refusals too: free, tokenless, failed
-- rows with error_code 'rate_limited'. A leaked edge token still cannot add spend to anyone.
DROP POLICY IF EXISTS usage_logs_edge_hits ON public.usage_logs;
CREATE POLICY usage_logs_edge_hits ON public.usage_logs FOR INSERT TO prism_edge
    WITH CHECK (
        (cache_status IN ('hit-exact-edge', 'hit-semantic-edge') AND provider = 'cache')
        OR (
            error_code = 'rate_limited' AND NOT success AND provider = 'none'
            AND cost_total_cents = 0 AND cost_provider_cents = 0
            AND tokens_in = 0 AND tokens_out = 0
        )
    );
