-- The Stripe-style products and prices of supabase_subscriptions.sql for the SQLite
-- backend: enums as CHECK (... IN (...)), jsonb as JSON, bigint as INTEGER.

CREATE TABLE products (
    id          TEXT PRIMARY KEY NOT NULL,
    active      BOOLEAN,
    name        TEXT,
    description TEXT,
    image       TEXT,
    metadata    JSON CHECK (metadata IS NULL OR json_valid(metadata))
);

CREATE TABLE prices (
    id                TEXT PRIMARY KEY NOT NULL,
    product_id        TEXT REFERENCES products (id),
    active            BOOLEAN,
    description       TEXT,
    unit_amount       INTEGER,
    currency          TEXT CHECK (length(currency) = 3),
    type              TEXT CHECK (type IN ('one_time', 'recurring')),
    interval          TEXT CHECK (interval IN ('day', 'week', 'month', 'year')),
    interval_count    INTEGER,
    trial_period_days INTEGER,
    metadata          JSON CHECK (metadata IS NULL OR json_valid(metadata))
);

-- @seed
INSERT INTO products VALUES
    ('prod_hobby', 1, 'Hobby', 'For side projects', NULL, '{}'),
    ('prod_pro', 1, 'Pro', 'For teams', 'https://files.stripe.com/links/pro.png', '{"tier": "2", "features": ["sso", "priority support"]}'),
    ('prod_legacy', 0, 'Legacy', NULL, NULL, NULL);
INSERT INTO prices VALUES
    ('price_hobby_monthly', 'prod_hobby', 1, NULL, 500, 'usd', 'recurring', 'month', 1, 14, '{}'),
    ('price_hobby_yearly', 'prod_hobby', 1, '2 months free', 5000, 'usd', 'recurring', 'year', 1, NULL, '{}'),
    ('price_pro_monthly', 'prod_pro', 1, NULL, 2000, 'usd', 'recurring', 'month', 1, 14, '{"display": "popular"}'),
    ('price_pro_setup', 'prod_pro', 1, 'One-time onboarding', 99900, 'jpy', 'one_time', NULL, NULL, NULL, NULL),
    ('price_legacy', 'prod_legacy', 0, NULL, 900, 'eur', 'recurring', 'month', 3, 0, '{"migrated_to": "price_pro_monthly"}');
