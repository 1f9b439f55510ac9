"""The team dashboard under /dashboard: reads through Supabase as the signed-in user (RLS decides
what they see); writes that need the origin's secrets go through origin code after a membership
check made with the user's own token."""
