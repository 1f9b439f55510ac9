-- A token minted for one project (a `project_id` claim and no user) reads that project's rows
-- only, as 0006 promised. Since 0010 it read every project of the project's organisation, and
-- the organisation's memberships: member_project_ids() took all projects of member_org_ids(),
-- which counts the token's organisation as its own. A user still reads every project of the
-- organisations they belong to; the organisation's own row stays readable to the token.

-- The organisations the signed-in user belongs to; none for a project token.
CREATE OR REPLACE FUNCTION public.user_org_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(array_agg(m.org_id), '{}'::uuid[])
        FROM public.org_members AS m WHERE m.user_id = auth.uid()
    );
END
$$;

REVOKE ALL ON FUNCTION public.user_org_ids() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.user_org_ids() TO authenticated, service_role;

CREATE OR REPLACE FUNCTION public.member_project_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    orgs uuid[] := public.user_org_ids();
    own uuid := public.jwt_project_id();
BEGIN
    RETURN (
        SELECT coalesce(array_agg(p.id), '{}'::uuid[]) FROM public.projects AS p
        WHERE p.org_id = ANY (orgs) OR p.id = own
    );
END
$$;

DROP POLICY IF EXISTS org_members_read_own ON public.org_members;
CREATE POLICY org_members_read_own ON public.org_members FOR SELECT TO authenticated
    USING (org_id = ANY ((SELECT public.user_org_ids())::uuid[]));

-- The trail's membership rows (no project) are the organisation's members' to read; a project
-- token reads its project's rows.
DROP POLICY IF EXISTS activity_read_own ON public.activity;
CREATE POLICY activity_read_own ON public.activity FOR SELECT TO authenticated
    USING (org_id = ANY ((SELECT public.user_org_ids())::uuid[])
           OR project_id = (SELECT public.jwt_project_id()));
