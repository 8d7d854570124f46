/* Odd numbers: numeric(6,2), money, bigint at its limits, a numeric with 28
   decimal places, float8 extremes (numeric NaN/Infinity: odd_numeric_special;
   float8 NaN/Infinity: odd_float_special). Not one project's file: a rate-card table in the
   shape of vercel/nextjs-subscription-payments schema.sql's prices (text key,
   bigint unit_amount) with the value kinds PostgreSQL allows there. Follows that
   file for the shape; DDL and values written for this corpus. */

/* @cycle
edit:   {file: rate_cards/standard.yaml, replace: ["discount: 12.5", "discount: 15"]}
create:
  file: rate_cards/student.yaml
  record: {name: student, multiplier: 0.5, discount: 50, weight: 0.25, fee: "$1.00", min_units: 0, max_units: 100}
delete: {file: rate_cards/retired.yaml}
*/

CREATE TABLE rate_cards (
    name       text PRIMARY KEY,
    multiplier numeric,
    discount   numeric(6,2),
    weight     double precision,
    fee        money,
    min_units  bigint NOT NULL DEFAULT 0,
    max_units  bigint
);

-- @seed
INSERT INTO rate_cards VALUES
    ('standard', 1, 12.5, 1.0, '$0.00', 0, 1000),
    ('unmetered', 1e20, 0, 1.7976931348623157e308, '$99.00', 0, 9223372036854775807),
    ('credit', -1e-20, 9999.99, -2.2250738585072014e-308, '-$5.25', -9223372036854775808, NULL),
    ('unknown', NULL, NULL, NULL, NULL, 0, NULL),
    ('precise', 0.1000000000000000000000000001, -9999.99, 0.1, '$1,234.56', 1, 2),
    ('retired', 2, 0.01, 5e-324, '$0.01', 0, 0);
