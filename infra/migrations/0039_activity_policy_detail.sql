-- The Activity page shows a budget or limit change with what it set (block at $5.00 a month,
-- the limits), as the Budgets page does: dash_activity() now returns policy_audit's detail
-- (JSON text) for those rows instead of nothing.
CREATE OR REPLACE FUNCTION public.dash_activity(p_project uuid, p_limit integer DEFAULT 50)
RETURNS TABLE (created_at timestamptz, actor text, action text, subject text, detail text)
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $$
    SELECT * FROM (
        SELECT a.created_at, a.actor, a.action, a.subject, a.detail
        FROM public.activity AS a
        JOIN public.projects AS p ON p.id = p_project AND p.org_id = a.org_id
        WHERE a.project_id = p_project OR a.project_id IS NULL
        UNION ALL
        SELECT c.created_at, c.actor, 'cache.purged', coalesce(c.target, c.scope),
               c.scope || ', ' || c.removed || ' removed'
        FROM public.cache_purges AS c WHERE c.project_id = p_project
        UNION ALL
        SELECT pa.created_at, pa.actor, pa.event, coalesce(pa.subject, ''), pa.detail::text
        FROM public.policy_audit AS pa
        WHERE pa.project_id = p_project
          AND pa.event IN ('budget.created', 'budget.deleted', 'limits.updated')
    ) AS everything
    ORDER BY created_at DESC
    LIMIT least(greatest(p_limit, 1), 200)
$$;
