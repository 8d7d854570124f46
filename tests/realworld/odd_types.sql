/* Enum arrays, domains (over integer and over text), inet/cidr, bytea. In the shape
   of the Supabase starter's enums (vercel/nextjs-subscription-payments schema.sql:
   pricing_type, pricing_plan_interval) and an allow-list in the shape of Unleash's
   client applications (Unleash/unleash src/migrations/20161205203516-create-client-applications.js).
   DDL and values written for this corpus. */

/* @cycle
edit:   {file: endpoints/eu-api.yaml, replace: ["enabled: true", "enabled: false"]}
create:
  file: endpoints/apac-api.yaml
  record: {name: apac-api, enabled: true, tiers: [free], port: 8443, contact: ops@example.com,
           allow_from: 10.2.0.0/16, gateway: 10.2.0.1, pin: null}
delete: {file: endpoints/retired.yaml}
*/

CREATE TYPE tier AS ENUM ('free', 'pro', 'enterprise');
CREATE DOMAIN port_number AS integer CHECK (VALUE BETWEEN 1 AND 65535);
CREATE DOMAIN email AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');

CREATE TABLE endpoints (
    name       text PRIMARY KEY,
    enabled    boolean NOT NULL,
    tiers      tier[],
    port       port_number,
    contact    email,
    allow_from cidr,
    gateway    inet,
    pin        bytea
);

-- @seed
INSERT INTO endpoints VALUES
    ('eu-api', true, '{free,pro}', 443, 'eu@example.com', '192.168.0.0/24', '192.168.0.1/24', '\xdeadbeef'),
    ('us-api', true, '{enterprise}', 8080, 'us@example.com', '2001:db8::/32', '2001:db8::1', '\x00ff'),
    ('empty', false, '{}', NULL, NULL, NULL, NULL, ''),
    ('retired', false, NULL, NULL, NULL, NULL, NULL, NULL);
