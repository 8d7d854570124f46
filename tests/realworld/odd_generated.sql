/* A `GENERATED ALWAYS AS (...) STORED` column: line items whose total the database
   computes, in the shape of the Stripe-style prices of
   vercel/nextjs-subscription-payments schema.sql (text id, unit_amount bigint).
   DDL and values written for this corpus. */

/* @cycle
edit:   {file: price_tiers/pro.yaml, replace: ["quantity: 10", "quantity: 12"]}
create:
  file: price_tiers/team.yaml
  record: {id: team, unit_amount: 800, quantity: 25}
delete: {file: price_tiers/legacy.yaml}
*/

CREATE TABLE price_tiers (
    id           text PRIMARY KEY,
    unit_amount  bigint NOT NULL,
    quantity     integer NOT NULL,
    total_amount bigint GENERATED ALWAYS AS (unit_amount * quantity) STORED
);

-- @seed
INSERT INTO price_tiers (id, unit_amount, quantity) VALUES ('free', 0, 1), ('pro', 1200, 10), ('legacy', 499, 3);
