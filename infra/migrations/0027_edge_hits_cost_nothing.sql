-- A cache hit costs nothing (shared/usage.py build_cache_hit_row writes cost 0), but the edge's
-- INSERT policy from 0021 checked only the status and provider of a hit row. A leaked edge
-- token could therefore insert a "hit" costing any amount into any project, and since budgets
-- are built from usage_logs, push another tenant's block budget over its limit (every paid
-- request of theirs refused with 402) or inflate their bill and dashboards. The same policy,
-- with a hit's billed costs (and the savings only a paid call has) pinned to zero as they
-- always are, and a rate-limit refusal's savings too (it saved nothing).
DROP POLICY IF EXISTS usage_logs_edge_hits ON public.usage_logs;
CREATE POLICY usage_logs_edge_hits ON public.usage_logs FOR INSERT TO prism_edge
    WITH CHECK (
        (
            cache_status IN ('hit-exact-edge', 'hit-semantic-edge') AND provider = 'cache'
            AND cost_total_cents = 0 AND cost_provider_cents = 0
            AND native_cache_saved_cents = 0 AND routing_saved_cents = 0
        )
        OR (
            error_code = 'rate_limited' AND NOT success AND provider = 'none'
            AND cost_total_cents = 0 AND cost_provider_cents = 0
            AND tokens_in = 0 AND tokens_out = 0
            AND cache_saved_cents = 0 AND native_cache_saved_cents = 0 AND routing_saved_cents = 0
        )
    );
