/* Database defaults a new file leaves out: serial ids beside a `code text NOT NULL
   UNIQUE` natural key, a uuid default, an updated_at trigger, and row level security
   enabled with a policy. In the shape of Unleash's environments/projects
   (Unleash/unleash src/migrations/20210618091331-project-environments-table.js),
   basejump's trigger_set_timestamps (usebasejump/basejump
   supabase/migrations/20240414161707_basejump-setup.sql) and the Supabase starter's
   policies (vercel/nextjs-subscription-payments schema.sql). DDL and values written
   for this corpus. */

/* @cycle
edit:   {file: regions/eu.yaml, replace: ["label: Europe", "label: European Union"]}
create:
  file: regions/apac.yaml
  record: {code: apac, label: Asia Pacific, enabled: true}
delete: {file: regions/legacy.yaml}
*/

CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END $$;

CREATE TABLE regions (
    id         serial PRIMARY KEY,
    public_id  uuid NOT NULL DEFAULT gen_random_uuid(),
    code       text NOT NULL UNIQUE,
    label      text NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER regions_updated_at BEFORE UPDATE ON regions FOR EACH ROW EXECUTE FUNCTION set_updated_at();
ALTER TABLE regions ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Regions are public" ON regions FOR SELECT USING (true);

-- @seed
INSERT INTO regions (code, label) VALUES ('eu', 'Europe'), ('us', 'United States'), ('legacy', 'Old region');
