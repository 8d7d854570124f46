/* Supabase subscription starter: Stripe-style products and prices. Follows
   vercel/nextjs-subscription-payments, schema.sql (also
   supabase/migrations/20230530034630_init.sql): products (text Stripe id, jsonb
   metadata), prices (bigint unit_amount, currency check, enums pricing_type and
   pricing_plan_interval, interval_count, trial_period_days), each with row level
   security enabled and a public read-only policy. The auth.users tables are left
   out (not configuration). DDL written for this corpus. */

/* @cycle
edit:   {file: prices/price_pro_monthly.yaml, replace: ["unit_amount: 2000", "unit_amount: 2400"]}
create:
  file: products/prod_enterprise.yaml
  record: {id: prod_enterprise, active: true, name: Enterprise, description: SSO and audit logs,
           image: null, metadata: {tier: "3", seats: unlimited}}
delete: {file: prices/price_hobby_yearly.yaml}
*/

CREATE TYPE pricing_type AS ENUM ('one_time', 'recurring');
CREATE TYPE pricing_plan_interval AS ENUM ('day', 'week', 'month', 'year');

CREATE TABLE products (
    id          text PRIMARY KEY,  -- Stripe product id, prod_...
    active      boolean,
    name        text,
    description text,
    image       text,
    metadata    jsonb
);
ALTER TABLE products ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Allow public read-only access." ON products FOR SELECT USING (true);

CREATE TABLE prices (
    id                text PRIMARY KEY,  -- Stripe price id, price_...
    product_id        text REFERENCES products,
    active            boolean,
    description       text,
    unit_amount       bigint,
    currency          text CHECK (char_length(currency) = 3),
    type              pricing_type,
    interval          pricing_plan_interval,
    interval_count    integer,
    trial_period_days integer,
    metadata          jsonb
);
ALTER TABLE prices ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Allow public read-only access." ON prices FOR SELECT USING (true);
COMMENT ON COLUMN prices.unit_amount IS 'In the smallest currency unit (100 cents for US$1.00).';

-- @seed
INSERT INTO products VALUES
    ('prod_hobby', true, 'Hobby', 'For side projects', NULL, '{}'),
    ('prod_pro', true, 'Pro', 'For teams', 'https://files.stripe.com/links/pro.png', '{"tier": "2", "features": ["sso", "priority support"]}'),
    ('prod_legacy', false, 'Legacy', NULL, NULL, NULL);
INSERT INTO prices VALUES
    ('price_hobby_monthly', 'prod_hobby', true, NULL, 500, 'usd', 'recurring', 'month', 1, 14, '{}'),
    ('price_hobby_yearly', 'prod_hobby', true, '2 months free', 5000, 'usd', 'recurring', 'year', 1, NULL, '{}'),
    ('price_pro_monthly', 'prod_pro', true, NULL, 2000, 'usd', 'recurring', 'month', 1, 14, '{"display": "popular"}'),
    ('price_pro_setup', 'prod_pro', true, 'One-time onboarding', 99900, 'jpy', 'one_time', NULL, NULL, NULL, NULL),
    ('price_legacy', 'prod_legacy', false, NULL, 900, 'eur', 'recurring', 'month', 3, 0, '{"migrated_to": "price_pro_monthly"}');
