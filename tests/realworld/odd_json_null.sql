/* JSON null (not SQL NULL) at the top level of a jsonb value, in a nullable and in
   a NOT NULL column, and of a json value. Follows the shape of the Supabase starter's `metadata jsonb`
   (vercel/nextjs-subscription-payments schema.sql, products.metadata) written by a
   webhook from Stripe's `"metadata": null`, and Logto's `value jsonb NOT NULL`
   (logto-io/logto packages/schemas/tables/logto_configs.sql). DDL and values
   written for this corpus. */

/* @cycle
edit:   {file: product_metadata/prod_pro.yaml, replace: ["tier: '2'", "tier: '3'"]}
create:
  file: product_metadata/prod_team.yaml
  record: {id: prod_team, metadata: {tier: "2"}, value: {seats: 5}, legacy: null}
delete: {file: product_metadata/prod_retired.yaml}
*/

CREATE TABLE product_metadata (
    id       text PRIMARY KEY,
    metadata jsonb,           -- SQL NULL or JSON null
    value    jsonb NOT NULL,  -- may hold JSON null
    legacy   json
);

-- @seed
INSERT INTO product_metadata VALUES
    ('prod_pro', '{"tier": "2"}', '{}', NULL),
    ('prod_json_null', 'null', 'null', 'null'),
    ('prod_sql_null', NULL, '[]', NULL),
    ('prod_retired', '{}', '{}', '{}');
