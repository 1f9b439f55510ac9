-- The dashboard lets an organisation's owners and admins change its projects (API keys,
-- provider keys, cache purges) and its members only look. The viewer's role is read with the
-- viewer's own token, beside the projects RLS already shows them, in one call: a member cannot
-- raise it, since no REST role may write org_members. A token for a project rather than a
-- user (jwt_project_id) sees that project with no role, so it can change nothing.
CREATE OR REPLACE FUNCTION public.dash_projects()
RETURNS TABLE (id uuid, name text, org_id uuid, role text)
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $$
    SELECT p.id, p.name, p.org_id, m.role
    FROM public.projects AS p
    LEFT JOIN public.org_members AS m ON m.org_id = p.org_id AND m.user_id = auth.uid()
    ORDER BY p.name, p.id
$$;

REVOKE ALL ON FUNCTION public.dash_projects() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.dash_projects() TO authenticated, service_role;
