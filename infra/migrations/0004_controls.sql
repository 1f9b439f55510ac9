-- Per-project controls and their audit trail: spend budgets, response feedback, cache purges.

CREATE TABLE IF NOT EXISTS public.budgets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    period      text NOT NULL CHECK (period IN ('day', 'month')),
    limit_cents numeric(18, 6) NOT NULL CHECK (limit_cents >= 0),
    tag_key     text,
    tag_value   text,
    action      text NOT NULL DEFAULT 'alert' CHECK (action IN ('block', 'alert')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS budgets_project_id_idx ON public.budgets (project_id);

-- request_id is not a foreign key: feedback can arrive before the ledger row is written.
CREATE TABLE IF NOT EXISTS public.feedback (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    request_id text NOT NULL,
    rating     smallint NOT NULL CHECK (rating IN (-1, 1)),
    comment    text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS feedback_project_request_idx ON public.feedback (project_id, request_id);

CREATE TABLE IF NOT EXISTS public.cache_purges (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    actor      text NOT NULL,
    scope      text NOT NULL CHECK (scope IN ('key', 'tag', 'project', 'version')),
    target     text,
    removed    integer NOT NULL DEFAULT 0 CHECK (removed >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cache_purges_project_created_idx ON public.cache_purges (project_id, created_at DESC);
