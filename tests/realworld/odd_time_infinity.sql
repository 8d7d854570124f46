/* timestamptz 'infinity' and '-infinity', dates +-infinity, timestamp infinity:
   "never expires" and "since forever" in the shape of basejump's
   billing_subscriptions (usebasejump/basejump,
   supabase/migrations/20240414162131_basejump-billing.sql: current_period_end,
   cancel_at, trial_end timestamptz). DDL and values written for this corpus. */

/* @cycle
edit:   {file: grants/beta.yaml, replace: ["note: early access", "note: early access (extended)"]}
create:
  file: grants/press.yaml
  record: {name: press, valid_from: "2025-01-01T00:00:00+00:00", valid_until: "2025-03-01T00:00:00+00:00",
           since: "2025-01-01", until: "2025-03-01", note: null}
delete: {file: grants/retired.yaml}
*/

CREATE TABLE grants (
    name        text PRIMARY KEY,
    valid_from  timestamptz NOT NULL,
    valid_until timestamptz,
    since       date,
    until       date,
    note        text
);

-- @seed
INSERT INTO grants VALUES
    ('beta', '2024-01-01 00:00:00+00', 'infinity', '2024-01-01', 'infinity', 'early access'),
    ('founders', '-infinity', 'infinity', '-infinity', 'infinity', NULL),
    ('retired', '2020-01-01 00:00:00+00', '2021-01-01 00:00:00+00', '2020-01-01', '2021-01-01', NULL);
