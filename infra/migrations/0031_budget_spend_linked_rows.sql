-- budget_spend summed every usage row, so a fusion request's panel calls counted twice against
-- a budget (their own rows, and again in the parent row that carries them): the reconcile
-- raised the budget's counter to that, refusing requests early, and `prism budgets list`
-- showed it as spent. The same rule as the dashboard's rollups (0028): rows without a parent,
-- plus hedge losers, whose cost nobody else carries.
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
      AND (u.parent_request_id IS NULL OR u.error_code = 'hedge_lost')
$$;
