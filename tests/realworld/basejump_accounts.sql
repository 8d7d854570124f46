/* Basejump (Supabase SaaS starter) team accounts. Follows usebasejump/basejump,
   supabase/migrations/20240414161947_basejump-accounts.sql (accounts: uuid id with a
   database default, slug unique and NULL only for personal accounts, jsonb
   metadata defaulting to '{}', row level security enabled with policies, a
   BEFORE INSERT OR UPDATE trigger slugifying the slug) and
   supabase/migrations/20240414161707_basejump-setup.sql (trigger_set_timestamps:
   the updated_at/created_at trigger). auth.users references are left out, and the
   tables live in public, not the basejump schema. DDL written for this corpus. */

/* @cycle
# slug may be NULL (personal accounts), so the key is the uuid id and a new file
# must carry it; the database-assigned columns left out are the trigger's.
edit:   {file: accounts/6c1f0c1e-4b8a-4f7e-9d0a-2b3c4d5e6f70.yaml, replace: ["name: Acme Corp", "name: Acme Corporation"]}
create:
  file: accounts/0b4c3f4b-7e1d-4c0b-8a3d-5e6f708192a3.yaml
  record: {id: 0b4c3f4b-7e1d-4c0b-8a3d-5e6f708192a3, name: Globex, slug: globex, personal_account: false, private_metadata: {}, public_metadata: {plan: free}}
delete: {file: accounts/7d2a1d2f-5c9b-4a8f-8e1b-3c4d5e6f7081.yaml}
*/

CREATE FUNCTION trigger_set_timestamps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_at = now();
        NEW.updated_at = now();
    ELSE
        NEW.updated_at = now();
        NEW.created_at = OLD.created_at;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION slugify_account_slug() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.slug IS NOT NULL THEN
        NEW.slug = lower(regexp_replace(NEW.slug, '[^a-zA-Z0-9-]+', '-', 'g'));
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE accounts (
    id               uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    name             text,
    slug             text UNIQUE,
    personal_account boolean NOT NULL DEFAULT false,
    updated_at       timestamptz,
    created_at       timestamptz,
    private_metadata jsonb DEFAULT '{}'::jsonb,
    public_metadata  jsonb DEFAULT '{}'::jsonb,
    CONSTRAINT accounts_slug_null_if_personal_account_true CHECK (
        (personal_account = true AND slug IS NULL) OR (personal_account = false AND slug IS NOT NULL))
);
CREATE TRIGGER accounts_slugify BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION slugify_account_slug();
CREATE TRIGGER accounts_set_timestamps BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION trigger_set_timestamps();
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Accounts are viewable by members" ON accounts FOR SELECT USING (personal_account = false);

-- @seed
INSERT INTO accounts (id, name, slug, personal_account, private_metadata, public_metadata) VALUES
    ('6c1f0c1e-4b8a-4f7e-9d0a-2b3c4d5e6f70', 'Acme Corp', 'acme-corp', false, '{"stripe_customer": "cus_123"}', '{"plan": "pro"}'),
    ('7d2a1d2f-5c9b-4a8f-8e1b-3c4d5e6f7081', 'Initech', 'initech', false, '{}', '{}'),
    ('8e3b2e3a-6d0c-4b9a-9f2c-4d5e6f708192', 'alice', NULL, true, '{}', '{"avatar": null}');
