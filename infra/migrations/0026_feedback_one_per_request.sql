-- One rating per response and project: rating an answer again replaces the earlier rating.
--
-- Every POST /v1/feedback was a new row, so a thumbs down then a thumbs up on one answer counted
-- as two ratings (one up, one down, quality 0.5) in feedback_quality and the dashboard. The
-- origin now upserts on (project_id, request_id), and the row's created_at is the time the
-- rating that stands was given.

-- One block, so the lock, the clean-up and the index are one statement even where a client
-- runs this file outside a transaction: no rating can slip in between the DELETE and the index.
-- Ratings given twice before this: the latest stands (the larger id breaks an exact tie, so a
-- re-run keeps the same row). The old non-unique index on the same columns is then redundant.
DO $$
BEGIN
    LOCK TABLE public.feedback IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM public.feedback AS older
    USING public.feedback AS newer
    WHERE older.project_id = newer.project_id
      AND older.request_id = newer.request_id
      AND (older.created_at, older.id) < (newer.created_at, newer.id);
    CREATE UNIQUE INDEX IF NOT EXISTS feedback_project_request_key
        ON public.feedback (project_id, request_id);
    DROP INDEX IF EXISTS public.feedback_project_request_idx;
END
$$;

-- An upsert through PostgREST only sets the columns it sends; the time of a replaced rating is
-- set here so it is the database's clock, as for a new row.
CREATE OR REPLACE FUNCTION public.feedback_rated_now()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    NEW.created_at := now();
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.feedback_rated_now() FROM PUBLIC;

DROP TRIGGER IF EXISTS feedback_rated_now ON public.feedback;
CREATE TRIGGER feedback_rated_now BEFORE UPDATE OF rating, score, comment ON public.feedback
    FOR EACH ROW EXECUTE FUNCTION public.feedback_rated_now();
