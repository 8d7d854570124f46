/* numeric NaN, Infinity and -Infinity (PostgreSQL 14+), beside ordinary numerics.
   A weighting table in the shape of Unleash's strategy sort orders and rollout
   numbers (Unleash/unleash src/migrations/20210610085817-features-strategies-table.js),
   with the special values an unconstrained numeric column accepts. DDL and values
   written for this corpus. */

/* @cycle
edit:   {file: weights/standard.yaml, replace: ["factor: 1", "factor: 1.25"]}
create:
  file: weights/half.yaml
  record: {name: half, factor: 0.5, cap: 10}
delete: {file: weights/retired.yaml}
*/

CREATE TABLE weights (
    name   text PRIMARY KEY,
    factor numeric NOT NULL,
    cap    numeric
);

-- @seed
INSERT INTO weights VALUES
    ('standard', 1, 100),
    ('unbounded', 'Infinity', 'Infinity'),
    ('floor', '-Infinity', NULL),
    ('unknown', 'NaN', 'NaN'),
    ('retired', 2, 0);
