-- Rows that are parts of another request: a hedge's cancelled attempt, each panel call of a
-- fusion request. They point at the request the client saw through parent_request_id. A
-- fusion parent's cost already includes its panel calls, so spend is the sum over rows with
-- no parent plus hedge losers (error_code 'hedge_lost'), whose cost nobody else carries.
ALTER TABLE public.usage_logs ADD COLUMN IF NOT EXISTS parent_request_id text;

CREATE INDEX IF NOT EXISTS usage_logs_parent_idx
    ON public.usage_logs (parent_request_id) WHERE parent_request_id IS NOT NULL;
