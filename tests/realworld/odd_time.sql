/* Odd times: interval, time, timetz, timestamp without time zone, fractional
   seconds (timestamptz and date +-infinity: odd_time_infinity). A maintenance-window
   table in the shape of basejump's billing_subscriptions (usebasejump/basejump,
   supabase/migrations/20240414162131_basejump-billing.sql: timestamptz columns
   current_period_start/_end, cancel_at, trial_end). DDL and values written for
   this corpus. */

/* @cycle
edit:   {file: maintenance_windows/nightly.yaml, replace: ["every: 1 day", "every: 2 days"]}
create:
  file: maintenance_windows/quarterly.yaml
  record: {name: quarterly, starts_at: "2025-01-01T02:00:00+00:00", ends_at: "2025-01-01T04:00:00+00:00",
           valid_from: "2025-01-01", every: 3 mons, opens: "02:00:00", opens_tz: "02:00:00+01",
           local_start: "2025-01-01T02:00:00"}
delete: {file: maintenance_windows/legacy.yaml}
*/

CREATE TABLE maintenance_windows (
    name        text PRIMARY KEY,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz,
    valid_from  date,
    every       interval,
    opens       time,
    opens_tz    timetz,
    local_start timestamp
);

-- @seed
INSERT INTO maintenance_windows VALUES
    ('nightly', '2024-01-01 01:00:00+00', '2024-01-01 01:30:00+00', '2024-01-01', '1 day', '01:00', '01:00:00+00', '2024-01-01 01:00'),
    ('long', '2024-02-29 23:59:59.999999+00', '2025-01-01 00:00:00+00', '2024-02-29', '1 year 2 mons 3 days 04:05:06.789', '23:59:59.999999', '23:59:59+05:30', '1999-12-31 23:59:59.5'),
    ('odd-interval', '2024-06-30 22:00:00.123456+02', NULL, NULL, '-1 day +02:00:00', '00:00', '12:00:00-03', NULL),
    ('legacy', '2020-02-29 00:00:00+00', '2020-03-01 00:00:00+00', '2020-02-29', '00:00:00.5', NULL, NULL, NULL);
