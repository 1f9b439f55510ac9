-- The dashboard's Members page. Everyone in an organisation sees who else is in it (emails live
-- in auth.users, which no REST role may read, hence SECURITY DEFINER, returning rows only to a
-- member of the project's organisation). Owners and admins add, re-role and remove members
-- through the origin, as service_role, with these functions: the rules live here, checked
-- under a lock on the organisation's row, so two admins acting at once cannot together break
-- them (say, each demoting the other of the last two owners).
CREATE OR REPLACE FUNCTION public.dash_members(p_project uuid)
RETURNS TABLE (user_id uuid, email text, role text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    -- Joined through the caller's own membership: a non-member, or a project-scoped token
    -- (no user, so auth.uid() is NULL), gets no rows at all.
    SELECT m.user_id, u.email::text, m.role, m.created_at
    FROM public.projects AS p
    JOIN public.org_members AS me ON me.org_id = p.org_id AND me.user_id = auth.uid()
    JOIN public.org_members AS m ON m.org_id = p.org_id
    JOIN auth.users AS u ON u.id = m.user_id
    WHERE p.id = p_project
    ORDER BY array_position(ARRAY['owner', 'admin', 'member'], m.role), u.email
$$;

REVOKE ALL ON FUNCTION public.dash_members(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.dash_members(uuid) TO authenticated, service_role;

-- The project's organisation, its row locked until the caller's transaction ends, and the
-- actor's role there, which must be one that manages members.
CREATE OR REPLACE FUNCTION public.org_member_actor(
    p_project uuid, p_actor uuid, OUT org uuid, OUT actor_role text
)
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    SELECT o.id INTO org
    FROM public.projects AS p JOIN public.organisations AS o ON o.id = p.org_id
    WHERE p.id = p_project
    FOR UPDATE OF o;
    SELECT m.role INTO actor_role
    FROM public.org_members AS m WHERE m.org_id = org AND m.user_id = p_actor;
    IF actor_role IS NULL OR actor_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'Only an owner or admin of this organisation can manage its members.'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION public.org_member_valid_role(p_role text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_role IS NULL OR p_role NOT IN ('owner', 'admin', 'member') THEN
        RAISE EXCEPTION 'A role is owner, admin or member.' USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Adds the Auth user with this email; NULL (and no change) when there is no such user yet, so
-- the origin creates one only after every rule here has passed.
CREATE OR REPLACE FUNCTION public.org_member_add(
    p_project uuid, p_actor uuid, p_email text, p_role text
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    actor record;
    added uuid;
BEGIN
    PERFORM public.org_member_valid_role(p_role);
    actor := public.org_member_actor(p_project, p_actor);
    IF p_role = 'owner' AND actor.actor_role <> 'owner' THEN
        RAISE EXCEPTION 'Only an owner can add an owner.' USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Supabase Auth keeps emails lower-cased.
    SELECT u.id INTO added FROM auth.users AS u WHERE u.email = lower(btrim(p_email)) LIMIT 1;
    IF added IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.org_members (org_id, user_id, role) VALUES (actor.org, added, p_role)
    ON CONFLICT (org_id, user_id) DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is already a member of this organisation.', lower(btrim(p_email))
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN added;
END
$$;

-- Sets a member's role, or removes them when p_role is NULL; returns the role they had, or
-- NULL (and no change) when p_user is not a member of the project's organisation.
CREATE OR REPLACE FUNCTION public.org_member_change(
    p_project uuid, p_actor uuid, p_user uuid, p_role text
) RETURNS text
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    actor record;
    had text;
BEGIN
    IF p_role IS NOT NULL THEN
        PERFORM public.org_member_valid_role(p_role);
    END IF;
    actor := public.org_member_actor(p_project, p_actor);
    -- Nobody can lock themselves (and, as the last owner, everyone) out by mistake.
    IF p_user = p_actor THEN
        RAISE EXCEPTION 'You cannot change your own role or remove yourself: ask another owner.'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT m.role INTO had
    FROM public.org_members AS m WHERE m.org_id = actor.org AND m.user_id = p_user;
    IF had IS NULL THEN
        RETURN NULL;
    END IF;
    IF 'owner' IN (had, p_role) AND actor.actor_role <> 'owner' THEN
        RAISE EXCEPTION '%', CASE
            WHEN p_role IS NULL THEN 'Only an owner can remove an owner.'
            ELSE 'Only an owner can make someone an owner or change an owner''s role.'
        END USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF had = 'owner' AND p_role IS DISTINCT FROM 'owner' AND (
        SELECT count(*) FROM public.org_members AS m WHERE m.org_id = actor.org AND m.role = 'owner'
    ) <= 1 THEN
        RAISE EXCEPTION 'An organisation keeps at least one owner.' USING ERRCODE = 'check_violation';
    END IF;
    IF p_role IS NULL THEN
        DELETE FROM public.org_members AS m WHERE m.org_id = actor.org AND m.user_id = p_user;
    ELSE
        UPDATE public.org_members AS m SET role = p_role
        WHERE m.org_id = actor.org AND m.user_id = p_user;
    END IF;
    RETURN had;
END
$$;

-- Only the origin changes memberships: a signed-in user calling these over RPC is refused.
REVOKE ALL ON FUNCTION public.org_member_actor(uuid, uuid) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.org_member_valid_role(text) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.org_member_add(uuid, uuid, text, text)
    FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.org_member_change(uuid, uuid, uuid, text)
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.org_member_actor(uuid, uuid) TO service_role;
GRANT EXECUTE ON FUNCTION public.org_member_valid_role(text) TO service_role;
GRANT EXECUTE ON FUNCTION public.org_member_add(uuid, uuid, text, text) TO service_role;
GRANT EXECUTE ON FUNCTION public.org_member_change(uuid, uuid, uuid, text) TO service_role;
