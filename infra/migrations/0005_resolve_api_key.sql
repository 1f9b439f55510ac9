-- The gateway's auth lookup: hash of a presented key -> (key, project, org), only while the key is live.
-- SECURITY DEFINER so the lookup works whatever RLS says; only service_role may call it, because it
-- answers for every project.
CREATE OR REPLACE FUNCTION public.resolve_api_key(p_key_hash text)
RETURNS TABLE (api_key_id uuid, project_id uuid, org_id uuid)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT k.id, k.project_id, p.org_id
    FROM public.api_keys AS k
    JOIN public.projects AS p ON p.id = k.project_id
    WHERE k.key_hash = p_key_hash
      AND k.revoked_at IS NULL
$$;

REVOKE ALL ON FUNCTION public.resolve_api_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.resolve_api_key(text) FROM anon, authenticated;
GRANT EXECUTE ON FUNCTION public.resolve_api_key(text) TO service_role;
