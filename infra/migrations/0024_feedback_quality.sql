-- Feedback is a thumbs rating (-1 / 1), a 1-5 score, or both, and is read back per task type
-- and model so a team sees where routing costs answer quality.
ALTER TABLE public.feedback ADD COLUMN IF NOT EXISTS score smallint;
ALTER TABLE public.feedback ALTER COLUMN rating DROP NOT NULL;
ALTER TABLE public.feedback DROP CONSTRAINT IF EXISTS feedback_rating_check;
ALTER TABLE public.feedback DROP CONSTRAINT IF EXISTS feedback_rating_or_score;
ALTER TABLE public.feedback ADD CONSTRAINT feedback_rating_or_score CHECK (
    (rating IS NULL OR rating IN (-1, 1))
    AND (score IS NULL OR score BETWEEN 1 AND 5)
    AND (rating IS NOT NULL OR score IS NOT NULL)
);

-- One row per (task type, model) that received feedback since p_since, worst first. quality is
-- the mean of each rating on a 0..1 scale: a score s counts (s - 1) / 4, a thumbs up 1 and a
-- thumbs down 0 (a score wins when both were given). Feedback whose usage row has not arrived
-- yet is left out until it does. SECURITY INVOKER: row-level security still applies.
CREATE OR REPLACE FUNCTION public.feedback_quality(
    p_project uuid, p_since timestamptz DEFAULT '-infinity'
)
RETURNS TABLE (
    task_type text,
    model text,
    ratings bigint,
    thumbs_up bigint,
    thumbs_down bigint,
    scores bigint,
    avg_score numeric,
    quality numeric
)
LANGUAGE sql STABLE
AS $$
    SELECT
        u.task_type,
        u.model_used,
        count(*),
        count(*) FILTER (WHERE f.rating = 1),
        count(*) FILTER (WHERE f.rating = -1),
        count(f.score),
        round(avg(f.score), 2),
        round(avg(coalesce((f.score - 1) / 4.0, (f.rating + 1) / 2.0)), 3)
    FROM public.feedback AS f
    JOIN public.usage_logs AS u ON u.request_id = f.request_id AND u.project_id = f.project_id
    WHERE f.project_id = p_project AND f.created_at >= p_since
    GROUP BY u.task_type, u.model_used
    ORDER BY 8 ASC, 3 DESC, 1, 2
$$;
REVOKE ALL ON FUNCTION public.feedback_quality(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.feedback_quality(uuid, timestamptz) TO authenticated, service_role;
