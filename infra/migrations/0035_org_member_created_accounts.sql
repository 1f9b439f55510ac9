-- An account the Members page creates has a temporary password that whoever added it was shown.
-- Until its owner sets their own, that account is the adder's as much as theirs; adding the same
-- email to a second organisation (which finds the account existing and trusts it) would hand
-- that organisation's projects to the first one's admin. So each account made this way is
-- remembered with its organisation and a fingerprint of the password hash it was made with, and
-- no other organisation may take it in while that hash is unchanged: a trigger, so that holds
-- however a membership is inserted (org_member_add, or by hand).
CREATE TABLE IF NOT EXISTS public.org_member_created (
    user_id              uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    org_id               uuid NOT NULL REFERENCES public.organisations (id) ON DELETE CASCADE,
    -- sha256 of auth.users.encrypted_password when the account was made: not the hash itself,
    -- only whether it is still the same.
    password_hash_sha256 text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.org_member_created ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.org_member_created FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.org_member_created TO service_role;

CREATE OR REPLACE FUNCTION public.org_member_password_of(p_user uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT encode(sha256(convert_to(coalesce(u.encrypted_password, ''), 'UTF8')), 'hex')
    FROM auth.users AS u WHERE u.id = p_user
$$;

-- The origin has just made the Auth user with this email, with a temporary password it is about
-- to show the actor: remembered as the project's organisation's making. Called by the origin as
-- service_role, for an actor who manages the organisation's members (checked as for any change).
CREATE OR REPLACE FUNCTION public.org_member_made(
    p_project uuid, p_actor uuid, p_email text
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    actor record;
BEGIN
    actor := public.org_member_actor(p_project, p_actor);
    INSERT INTO public.org_member_created (user_id, org_id, password_hash_sha256)
    SELECT u.id, actor.org, public.org_member_password_of(u.id)
    FROM auth.users AS u WHERE u.email = lower(btrim(p_email))
    ON CONFLICT (user_id) DO NOTHING;
END
$$;

CREATE OR REPLACE FUNCTION public.org_member_not_borrowed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM public.org_member_created AS c
        WHERE c.user_id = NEW.user_id AND c.org_id <> NEW.org_id
          AND c.password_hash_sha256 = public.org_member_password_of(NEW.user_id)
    ) THEN
        RAISE EXCEPTION '% still has the temporary password another organisation was shown when it made their account; they can be added once they have set their own password.',
            (SELECT u.email FROM auth.users AS u WHERE u.id = NEW.user_id)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS org_members_not_borrowed ON public.org_members;
CREATE TRIGGER org_members_not_borrowed BEFORE INSERT ON public.org_members
    FOR EACH ROW EXECUTE FUNCTION public.org_member_not_borrowed();

REVOKE ALL ON FUNCTION public.org_member_password_of(uuid) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.org_member_made(uuid, uuid, text) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.org_member_not_borrowed() FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.org_member_password_of(uuid) TO service_role;
GRANT EXECUTE ON FUNCTION public.org_member_made(uuid, uuid, text) TO service_role;
