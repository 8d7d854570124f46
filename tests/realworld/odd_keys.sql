/* Odd keys: keys differing only in letter case ('Foo' and 'foo'), a key with a
   dot and unicode. Follows the shape of Unleash's features table: feature names are case-sensitive varchar(255)
   primary keys (Unleash/unleash src/migrations/20141020151056-initial-schema.js:
   features.name), so 'Checkout' and 'checkout' can both exist. DDL and values
   written for this corpus. */

/* @cycle
edit:   {file: toggles/search.yaml, replace: ["enabled: false", "enabled: true"]}
create:
  file: toggles/dark-mode.yaml
  record: {name: dark-mode, enabled: true, description: null}
delete: {file: toggles/old.yaml}
*/

CREATE TABLE toggles (
    name        varchar(255) PRIMARY KEY,
    enabled     boolean NOT NULL DEFAULT false,
    description text
);

-- @seed
INSERT INTO toggles VALUES
    ('Checkout', true, 'Capitalised by a person in the admin UI'),
    ('checkout', false, 'The SDK''s lower-case name'),
    ('search', false, NULL),
    ('old', false, NULL),
    ('v2.beta', true, NULL),
    ('größe', true, 'unicode');
