/* float8 NaN, Infinity and -Infinity (and -0). A sampling-rate table in the shape
   of Unleash's strategy parameters (Unleash/unleash
   src/migrations/20210610085817-features-strategies-table.js), with a double
   precision column holding the special values. DDL and values written for this corpus. */

/* @cycle
edit:   {file: sample_rates/standard.yaml, replace: ["rate: 0.25", "rate: 0.5"]}
create:
  file: sample_rates/debug.yaml
  record: {name: debug, rate: 1.0, ceiling: 2.5}
delete: {file: sample_rates/retired.yaml}
*/

CREATE TABLE sample_rates (
    name    text PRIMARY KEY,
    rate    double precision NOT NULL,
    ceiling real
);

-- @seed
INSERT INTO sample_rates VALUES
    ('standard', 0.25, 1),
    ('always', 'Infinity', 'Infinity'),
    ('never', '-Infinity', '-Infinity'),
    ('unknown', 'NaN', 'NaN'),
    ('negative-zero', '-0', '-0'),
    ('retired', 0.1, 0.1);
