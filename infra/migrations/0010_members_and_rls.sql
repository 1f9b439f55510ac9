-- Dashboard users and what they may read. Users sign in through Supabase Auth; a user belongs to
-- organisations (org_members) and may read every row of every project of those organisations,
-- nothing else. Writes from the dashboard go through the origin (service_role), so the REST
-- roles get read access only, and never to key hashes or ciphertext.

-- Hosted Supabase already has the auth schema, auth.users and auth.uid(); these statements
-- only fill in what is missing, so the local stand-in and a hosted project share one file.
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE IF NOT EXISTS auth.users (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    aud                varchar(255) DEFAULT 'authenticated',
    role               varchar(255) DEFAULT 'authenticated',
    email              varchar(255) UNIQUE,
    encrypted_password varchar(255),
    email_confirmed_at timestamptz DEFAULT now(),
    last_sign_in_at    timestamptz,
    raw_app_meta_data  jsonb DEFAULT '{}'::jsonb,
    raw_user_meta_data jsonb DEFAULT '{}'::jsonb,
    created_at         timestamptz DEFAULT now(),
    updated_at         timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS auth.refresh_tokens (
    id         bigserial PRIMARY KEY,
    token      varchar(255) UNIQUE,
    user_id    varchar(255),
    revoked    boolean DEFAULT false,
    session_id uuid,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

DO $$
BEGIN
    IF to_regprocedure('auth.uid()') IS NULL THEN
        -- The claims setting is '' (not NULL) on a pooled connection an earlier request used.
        CREATE FUNCTION auth.uid() RETURNS uuid
        LANGUAGE sql STABLE
        AS $f$
            SELECT nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
        $f$;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA auth TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid() TO authenticated, service_role;
-- Nothing in auth is readable through the REST roles: password hashes live there.
REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM PUBLIC, anon, authenticated;

CREATE TABLE IF NOT EXISTS public.org_members (
    org_id     uuid NOT NULL REFERENCES public.organisations (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role       text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX IF NOT EXISTS org_members_user_idx ON public.org_members (user_id);

-- The provider key's last four characters, the only part of it ever shown again.
ALTER TABLE public.provider_keys ADD COLUMN IF NOT EXISTS key_hint text;

-- SECURITY DEFINER: the policies below call these, and reading org_members/projects through
-- their own policies from inside a policy would recurse. Both return arrays so a policy can
-- compare with `= ANY ((SELECT ...)::uuid[])`, which Postgres evaluates once per statement (an
-- initPlan) and can still use an index on project_id with.
CREATE OR REPLACE FUNCTION public.member_org_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(array_agg(DISTINCT o), '{}'::uuid[]) FROM (
        SELECT m.org_id AS o FROM public.org_members AS m WHERE m.user_id = auth.uid()
        UNION ALL
        SELECT p.org_id FROM public.projects AS p WHERE p.id = public.jwt_project_id()
    ) AS orgs
$$;

CREATE OR REPLACE FUNCTION public.member_project_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(array_agg(p.id), '{}'::uuid[])
    FROM public.projects AS p
    WHERE p.org_id = ANY (public.member_org_ids())
$$;

REVOKE ALL ON FUNCTION public.member_org_ids() FROM PUBLIC, anon;
REVOKE ALL ON FUNCTION public.member_project_ids() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.member_org_ids() TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.member_project_ids() TO authenticated, service_role;

ALTER TABLE public.org_members ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.org_members FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.org_members TO service_role;
GRANT SELECT ON public.org_members TO authenticated;

DROP POLICY IF EXISTS org_members_read_own ON public.org_members;
CREATE POLICY org_members_read_own ON public.org_members FOR SELECT TO authenticated
    USING (org_id = ANY ((SELECT public.member_org_ids())::uuid[]));

DROP POLICY IF EXISTS organisations_read_own ON public.organisations;
CREATE POLICY organisations_read_own ON public.organisations FOR SELECT TO authenticated
    USING (id = ANY ((SELECT public.member_org_ids())::uuid[]));

DROP POLICY IF EXISTS projects_read_own ON public.projects;
CREATE POLICY projects_read_own ON public.projects FOR SELECT TO authenticated
    USING (id = ANY ((SELECT public.member_project_ids())::uuid[]));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'api_keys', 'provider_keys', 'usage_logs', 'budgets', 'feedback', 'cache_purges'
    ] LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_read_own', t);
        EXECUTE format(
            'CREATE POLICY %I ON public.%I FOR SELECT TO authenticated'
            ' USING (project_id = ANY ((SELECT public.member_project_ids())::uuid[]))',
            t || '_read_own', t
        );
    END LOOP;
END
$$;

-- Secrets by column: a member reads a key's name, prefix and state, never its hash; a provider
-- key's name, provider, base URL and last four characters, never its ciphertext.
REVOKE SELECT ON public.api_keys FROM authenticated;
GRANT SELECT (id, project_id, prefix, name, created_at, revoked_at) ON public.api_keys TO authenticated;
REVOKE SELECT ON public.provider_keys FROM authenticated;
GRANT SELECT (id, project_id, provider, name, base_url, key_hint, created_at)
    ON public.provider_keys TO authenticated;
