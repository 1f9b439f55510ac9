-- Row-level security: the REST layer switches to the JWT's role and publishes the claims in
-- request.jwt.claims; Postgres then decides which rows a project-scoped token may see.
-- service_role has BYPASSRLS and full grants (the origin and the edge ledger writer use it);
-- authenticated (a dashboard token minted for one project) may only read that project's rows;
-- anon gets nothing.

-- The claims setting is absent (NULL) on a fresh session but '' after any earlier transaction on
-- the same pooled connection set it locally, hence the nullif before the jsonb cast.
CREATE OR REPLACE FUNCTION public.jwt_project_id() RETURNS uuid
LANGUAGE sql
STABLE
AS $$
    SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'project_id')::uuid
$$;
REVOKE ALL ON FUNCTION public.jwt_project_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.jwt_project_id() TO authenticated, service_role;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'organisations', 'projects', 'api_keys', 'provider_keys',
        'usage_logs', 'budgets', 'feedback', 'cache_purges'
    ] LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC, anon', t);
        EXECUTE format('GRANT ALL ON public.%I TO service_role', t);
        EXECUTE format('GRANT SELECT ON public.%I TO authenticated', t);
    END LOOP;
END
$$;

-- CREATE POLICY has no IF NOT EXISTS; dropping first keeps this file safe to re-run.
DROP POLICY IF EXISTS organisations_read_own ON public.organisations;
CREATE POLICY organisations_read_own ON public.organisations FOR SELECT TO authenticated
    USING (id = (SELECT p.org_id FROM public.projects AS p WHERE p.id = public.jwt_project_id()));

DROP POLICY IF EXISTS projects_read_own ON public.projects;
CREATE POLICY projects_read_own ON public.projects FOR SELECT TO authenticated
    USING (id = public.jwt_project_id());

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'api_keys', 'provider_keys', 'usage_logs', 'budgets', 'feedback', 'cache_purges'
    ] LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_read_own', t);
        EXECUTE format(
            'CREATE POLICY %I ON public.%I FOR SELECT TO authenticated USING (project_id = public.jwt_project_id())',
            t || '_read_own', t
        );
    END LOOP;
END
$$;

-- The migration ledger is internal: not readable through the REST roles. Guarded because the
-- ledger only exists when the runner in infra/local/postgres.py applied these files.
DO $$
BEGIN
    IF to_regclass('public.schema_migrations') IS NOT NULL THEN
        ALTER TABLE public.schema_migrations ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON public.schema_migrations FROM PUBLIC, anon, authenticated;
    END IF;
END
$$;
