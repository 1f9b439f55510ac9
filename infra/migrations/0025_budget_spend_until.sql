-- budget_spend(..., p_until): the ledger's spend up to a moment, not up to now.
--
-- The origin's periodic reconcile raises a budget's Redis counter to the ledger's sum when the
-- ledger's is larger (Redis lost a settle). A request's usage row can reach Postgres before its
-- settle reaches Redis; a reconcile in between counted that request from the ledger, and the
-- settle then counted it again. Reconciling against rows older than the time a settle takes
-- to arrive or be given up leaves those to their settles.
DROP FUNCTION IF EXISTS public.budget_spend(uuid, timestamptz, text, text);

CREATE OR REPLACE FUNCTION public.budget_spend(
    p_project_id uuid,
    p_since timestamptz,
    p_tag_key text DEFAULT NULL,
    p_tag_value text DEFAULT NULL,
    p_until timestamptz DEFAULT NULL
) RETURNS text
LANGUAGE sql
STABLE
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(sum(u.cost_total_cents), 0)::text
    FROM public.usage_logs AS u
    WHERE u.project_id = p_project_id
      AND u.created_at >= p_since
      AND (p_until IS NULL OR u.created_at < p_until)
      AND (p_tag_key IS NULL OR u.request_tags ->> p_tag_key = p_tag_value)
$$;
REVOKE ALL ON FUNCTION public.budget_spend(uuid, timestamptz, text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.budget_spend(uuid, timestamptz, text, text, timestamptz) FROM anon, authenticated;
GRANT EXECUTE ON FUNCTION public.budget_spend(uuid, timestamptz, text, text, timestamptz) TO service_role;
