-- Spend control: budgets gain weekly periods and the warn action, rate limits per project and
-- per API key, a policy audit trail, and the spend aggregate the origin reconciles from.

-- Budgets: 'alert' is now called 'warn'; a week is an ISO week (Monday 00:00 UTC).
ALTER TABLE public.budgets DROP CONSTRAINT IF EXISTS budgets_period_check;
ALTER TABLE public.budgets DROP CONSTRAINT IF EXISTS budgets_action_check;
ALTER TABLE public.budgets DROP CONSTRAINT IF EXISTS budgets_tag_pair;
UPDATE public.budgets SET action = 'warn' WHERE action = 'alert';
ALTER TABLE public.budgets ALTER COLUMN action SET DEFAULT 'warn';
ALTER TABLE public.budgets
    ADD CONSTRAINT budgets_period_check CHECK (period IN ('day', 'week', 'month'));
ALTER TABLE public.budgets
    ADD CONSTRAINT budgets_action_check CHECK (action IN ('block', 'warn'));
-- A budget narrowed to a tag names both its key and its value.
ALTER TABLE public.budgets
    ADD CONSTRAINT budgets_tag_pair CHECK ((tag_key IS NULL) = (tag_value IS NULL));

-- One row per limited subject: a project (api_key_id NULL) or one API key. subject_id is the
-- key's id or the project's, so "one row per subject" is a plain unique column.
CREATE TABLE IF NOT EXISTS public.rate_limits (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    api_key_id          uuid REFERENCES public.api_keys (id) ON DELETE CASCADE,
    subject_id          uuid NOT NULL CONSTRAINT rate_limits_subject_key UNIQUE,
    requests_per_minute bigint CHECK (requests_per_minute > 0),
    requests_per_day    bigint CHECK (requests_per_day > 0),
    requests_per_month  bigint CHECK (requests_per_month > 0),
    tokens_per_minute   bigint CHECK (tokens_per_minute > 0),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rate_limits_subject_matches CHECK (subject_id = coalesce(api_key_id, project_id))
);
CREATE INDEX IF NOT EXISTS rate_limits_project_id_idx ON public.rate_limits (project_id);

-- Every change to a budget or limit and every time one fired (warn, block, rate limit).
CREATE TABLE IF NOT EXISTS public.policy_audit (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    actor      text NOT NULL,
    event      text NOT NULL CHECK (event IN (
                   'budget.created', 'budget.deleted', 'limits.updated',
                   'budget.warn', 'budget.block', 'rate_limit'
               )),
    subject    text,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS policy_audit_project_created_idx
    ON public.policy_audit (project_id, created_at DESC);

-- The spend a budget covers since `p_since`, as text so no client rounds it through a float.
CREATE OR REPLACE FUNCTION public.budget_spend(
    p_project_id uuid, p_since timestamptz, p_tag_key text DEFAULT NULL, p_tag_value text DEFAULT NULL
) RETURNS text
LANGUAGE sql
STABLE
SET search_path = public, pg_temp
AS $$
    SELECT coalesce(sum(u.cost_total_cents), 0)::text
    FROM public.usage_logs AS u
    WHERE u.project_id = p_project_id
      AND u.created_at >= p_since
      AND (p_tag_key IS NULL OR u.request_tags ->> p_tag_key = p_tag_value)
$$;
REVOKE ALL ON FUNCTION public.budget_spend(uuid, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.budget_spend(uuid, timestamptz, text, text) FROM anon, authenticated;
GRANT EXECUTE ON FUNCTION public.budget_spend(uuid, timestamptz, text, text) TO service_role;

-- Row-level security as for every other project-scoped table (see 0010): members read their
-- projects' rows; writes go through the origin as service_role.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rate_limits', 'policy_audit'] LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC, anon', t);
        EXECUTE format('GRANT ALL ON public.%I TO service_role', t);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.%I FROM authenticated', t);
        EXECUTE format('GRANT SELECT ON public.%I TO authenticated', t);
        EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_read_own', t);
        EXECUTE format(
            'CREATE POLICY %I ON public.%I FOR SELECT TO authenticated'
            ' USING (project_id = ANY ((SELECT public.member_project_ids())::uuid[]))',
            t || '_read_own', t
        );
    END LOOP;
END
$$;
