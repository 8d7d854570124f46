/* Arrays holding NULL and 2-D arrays (integer[][], text[] with NULL and an empty
   string). A routing table in the shape of Unleash's context-field legal values and
   strategy constraints' value lists (Unleash/unleash
   src/migrations/20200102184820-create-context-fields.js). DDL and values written
   for this corpus. (Enum arrays, domains, inet/cidr, bytea: odd_types.) */

/* @cycle
edit:   {file: routes/eu-web.yaml, replace: ["priority: 10", "priority: 20"]}
create:
  file: routes/apac-web.yaml
  record: {name: apac-web, priority: 5, weights: [1, 2], matrix: [[1, 0], [0, 1]], tags: [apac]}
delete: {file: routes/retired.yaml}
*/

CREATE TABLE routes (
    name     text PRIMARY KEY,
    priority smallint NOT NULL,
    weights  integer[],
    matrix   integer[][],
    tags     text[]
);

-- @seed
INSERT INTO routes VALUES
    ('eu-web', 10, '{1,2,3}', '{{1,2},{3,4}}', '{eu,web}'),
    ('us-holes', 1, '{1,NULL,3}', '{{1,NULL},{NULL,4}}', '{NULL,"",NULL}'),
    ('empty', 0, '{}', '{}', '{}'),
    ('retired', 0, NULL, NULL, NULL);
