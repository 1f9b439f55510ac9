-- Supabase grants ALL on every public table to anon and authenticated by default and leaves the
-- rest to row-level security. RLS does not cover TRUNCATE (nor TRIGGER or REFERENCES), so a
-- signed-in user could empty the ledger. The REST roles get at most SELECT here; every write a
-- user makes goes through the origin, which checks membership and acts as service_role.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
    ON ALL TABLES IN SCHEMA public FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, anon, authenticated;
-- Tables created later by the role running migrations start without them too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLES FROM PUBLIC, anon, authenticated;
