-- The dashboard's Budgets page read each budget's spend with the service key, the one page that
-- did: the README promises every dashboard read is made with the viewer's own token, so that
-- row-level security, not the origin's care with a project id, decides what it shows. The page
-- now calls budget_spend as the viewer. It is SECURITY INVOKER (0031), so a signed-in user's
-- call sums only the usage rows RLS lets them read: another organisation's project sums to 0.
GRANT EXECUTE ON FUNCTION public.budget_spend(uuid, timestamptz, text, text, timestamptz)
    TO authenticated;
