-- Who changed what a team trusts the gateway with: API keys created and revoked, provider keys
-- added, changed and removed, members added, re-roled and removed. Written by triggers, in the
-- same transaction as the change, so no path (dashboard, admin API, CLI, SQL) can make a
-- change without its row. The origin names the person it acts for in an `X-Prism-Actor`
-- header, which PostgREST hands to the transaction as `request.headers`; a change without one
-- is recorded under the database role that made it.
CREATE TABLE IF NOT EXISTS public.activity (
    id         bigserial PRIMARY KEY,
    -- No foreign keys: the trail outlives what it is about (a removed member, a revoked key).
    org_id     uuid NOT NULL,
    project_id uuid,
    actor      text NOT NULL,
    action     text NOT NULL CHECK (action IN (
                   'api_key.created', 'api_key.revoked',
                   'provider_key.added', 'provider_key.updated', 'provider_key.removed',
                   'member.added', 'member.role_changed', 'member.removed'
               )),
    subject    text NOT NULL,
    detail     text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS activity_org_created_idx ON public.activity (org_id, created_at DESC);

ALTER TABLE public.activity ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.activity FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.activity TO authenticated;
GRANT ALL ON public.activity TO service_role;
GRANT USAGE ON SEQUENCE public.activity_id_seq TO service_role;
DROP POLICY IF EXISTS activity_read_own ON public.activity;
CREATE POLICY activity_read_own ON public.activity FOR SELECT TO authenticated
    USING (org_id = ANY ((SELECT public.member_org_ids())::uuid[]));

-- The person the origin acts for, else the REST role, else the database user.
CREATE OR REPLACE FUNCTION public.activity_actor() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = public, pg_temp
AS $$
DECLARE
    headers text := nullif(current_setting('request.headers', true), '');
    claims text := nullif(current_setting('request.jwt.claims', true), '');
    named text;
BEGIN
    IF headers IS NOT NULL THEN
        named := left(btrim(headers::json ->> 'x-prism-actor'), 200);
        IF named <> '' THEN
            RETURN named;
        END IF;
    END IF;
    IF claims IS NOT NULL AND claims::json ->> 'role' IS NOT NULL THEN
        RETURN 'role:' || (claims::json ->> 'role');
    END IF;
    RETURN 'sql:' || session_user;
END
$$;

CREATE OR REPLACE FUNCTION public.activity_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    what text;
    org uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        what := 'api_key.created';
    ELSIF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        what := 'api_key.revoked';
    ELSE
        RETURN NULL;
    END IF;
    SELECT p.org_id INTO org FROM public.projects AS p WHERE p.id = NEW.project_id;
    INSERT INTO public.activity (org_id, project_id, actor, action, subject)
    VALUES (org, NEW.project_id, public.activity_actor(), what,
            coalesce(NEW.name || ' ', '') || '(' || NEW.prefix || '…)');
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.activity_provider_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    row_now public.provider_keys := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    what text := CASE TG_OP
        WHEN 'INSERT' THEN 'provider_key.added'
        WHEN 'DELETE' THEN 'provider_key.removed'
        ELSE 'provider_key.updated' END;
    changed text[] := '{}';
    org uuid;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.provider IS DISTINCT FROM OLD.provider THEN
            changed := array_append(changed, 'provider');
        END IF;
        IF NEW.base_url IS DISTINCT FROM OLD.base_url THEN
            changed := array_append(changed, 'base URL');
        END IF;
        IF NEW.ciphertext IS DISTINCT FROM OLD.ciphertext THEN
            changed := array_append(changed, 'key');
        END IF;
        IF cardinality(changed) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;
    -- A project being deleted takes its keys along: nothing left to show the trail to.
    SELECT p.org_id INTO org FROM public.projects AS p WHERE p.id = row_now.project_id;
    IF org IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.activity (org_id, project_id, actor, action, subject, detail)
    VALUES (org, row_now.project_id, public.activity_actor(), what,
            row_now.name || ' (' || row_now.provider || ')',
            nullif(array_to_string(changed, ', '), ''));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.activity_members() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    row_now public.org_members := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    who text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.role IS NOT DISTINCT FROM OLD.role THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.organisations AS o WHERE o.id = row_now.org_id) THEN
        RETURN NULL;  -- the organisation itself is going
    END IF;
    SELECT u.email::text INTO who FROM auth.users AS u WHERE u.id = row_now.user_id;
    INSERT INTO public.activity (org_id, actor, action, subject, detail)
    VALUES (row_now.org_id, public.activity_actor(),
            CASE TG_OP WHEN 'INSERT' THEN 'member.added' WHEN 'DELETE' THEN 'member.removed'
                       ELSE 'member.role_changed' END,
            coalesce(who, row_now.user_id::text),
            CASE TG_OP WHEN 'UPDATE' THEN OLD.role || ' → ' || NEW.role ELSE row_now.role END);
    RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION public.activity_keys() FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.activity_provider_keys() FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.activity_members() FROM PUBLIC, anon, authenticated;

DROP TRIGGER IF EXISTS api_keys_activity ON public.api_keys;
CREATE TRIGGER api_keys_activity AFTER INSERT OR UPDATE OF revoked_at ON public.api_keys
    FOR EACH ROW EXECUTE FUNCTION public.activity_keys();
DROP TRIGGER IF EXISTS provider_keys_activity ON public.provider_keys;
CREATE TRIGGER provider_keys_activity AFTER INSERT OR UPDATE OR DELETE ON public.provider_keys
    FOR EACH ROW EXECUTE FUNCTION public.activity_provider_keys();
DROP TRIGGER IF EXISTS org_members_activity ON public.org_members;
CREATE TRIGGER org_members_activity AFTER INSERT OR UPDATE OF role OR DELETE ON public.org_members
    FOR EACH ROW EXECUTE FUNCTION public.activity_members();

-- The Activity page: this project's changes and its organisation's membership changes, with
-- its budget, limit and cache changes from their own trails, newest first. SECURITY INVOKER:
-- the caller's row-level security decides, so a stranger's call returns nothing.
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
        SELECT pa.created_at, pa.actor, pa.event, coalesce(pa.subject, ''), NULL
        FROM public.policy_audit AS pa
        WHERE pa.project_id = p_project
          AND pa.event IN ('budget.created', 'budget.deleted', 'limits.updated')
    ) AS everything
    ORDER BY created_at DESC
    LIMIT least(greatest(p_limit, 1), 200)
$$;

REVOKE ALL ON FUNCTION public.dash_activity(uuid, integer) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.dash_activity(uuid, integer) TO authenticated, service_role;
