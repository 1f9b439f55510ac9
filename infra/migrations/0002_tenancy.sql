-- Who owns what: organisations hold projects; projects hold gateway API keys and upstream provider keys.

CREATE TABLE IF NOT EXISTS public.organisations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.projects (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id     uuid NOT NULL REFERENCES public.organisations (id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS projects_org_id_idx ON public.projects (org_id);

-- Only a hash of each gateway key is stored: a database leak must not leak usable keys.
CREATE TABLE IF NOT EXISTS public.api_keys (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    key_hash   text NOT NULL CONSTRAINT api_keys_key_hash_key UNIQUE
               CONSTRAINT api_keys_key_hash_hex CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    prefix     text NOT NULL,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
-- The unique constraint above already indexes key_hash; this name is what the gateway's lookup relies on.
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_key_hash_idx ON public.api_keys (key_hash);
CREATE INDEX IF NOT EXISTS api_keys_project_id_idx ON public.api_keys (project_id);

-- Upstream provider credentials, encrypted by the origin (AES-GCM); the database never sees plaintext.
CREATE TABLE IF NOT EXISTS public.provider_keys (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    provider   text NOT NULL,
    name       text NOT NULL,
    base_url   text,
    ciphertext text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT provider_keys_project_name_key UNIQUE (project_id, name)
);

-- A column default cannot refer to another column, so `name` defaults to `provider` in a trigger.
CREATE OR REPLACE FUNCTION public.provider_keys_default_name() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.name := coalesce(NEW.name, NEW.provider);
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.provider_keys_default_name() FROM PUBLIC;

DROP TRIGGER IF EXISTS provider_keys_default_name ON public.provider_keys;
CREATE TRIGGER provider_keys_default_name
    BEFORE INSERT OR UPDATE ON public.provider_keys
    FOR EACH ROW EXECUTE FUNCTION public.provider_keys_default_name();
