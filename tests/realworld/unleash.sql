/* Unleash feature toggles. Follows Unleash/unleash, src/migrations/:
   20141020151056-initial-schema.js (features, strategies keyed by name),
   20210610085817-features-strategies-table.js (features_strategies: serial id,
   json parameters and constraints), 20210618091331-project-environments-table.js
   (project_environments: composite key of two foreign keys),
   20210831072631-add-sort-order-and-type-to-env.js (environments.sort_order, type),
   20200102184820-create-context-fields.js (context_fields).
   DDL written for this corpus, in the shape of those migrations. */

/* @cycle
edit:   {file: features/new-checkout.yaml, replace: ["stale: false", "stale: true"]}
create:
  file: features/dark-mode.yaml
  record: {name: dark-mode, description: Dark theme for the admin UI, type: release, project: default,
           stale: false, archived_at: null, variants: [], impression_data: false}
delete: {file: project_environments/default__staging.yaml}
*/

CREATE TABLE projects (
    id          varchar(255) PRIMARY KEY,
    name        varchar(255) NOT NULL,
    description text,
    health      integer DEFAULT 100,
    created_at  timestamp with time zone DEFAULT now()
);

CREATE TABLE environments (
    name       varchar(100) PRIMARY KEY,
    type       text NOT NULL,
    sort_order integer DEFAULT 9999,
    enabled    boolean NOT NULL DEFAULT true,
    protected  boolean NOT NULL DEFAULT false,
    created_at timestamp with time zone DEFAULT now()
);

CREATE TABLE project_environments (
    project_id       varchar(255) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_name varchar(100) NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
    PRIMARY KEY (project_id, environment_name)
);

CREATE TABLE features (
    name            varchar(255) PRIMARY KEY,
    description     text,
    type            varchar(255) NOT NULL DEFAULT 'release',
    project         varchar(255) NOT NULL DEFAULT 'default' REFERENCES projects (id),
    stale           boolean NOT NULL DEFAULT false,
    archived_at     timestamp with time zone,
    variants        jsonb NOT NULL DEFAULT '[]'::jsonb,
    impression_data boolean NOT NULL DEFAULT false,
    created_at      timestamp without time zone DEFAULT now()
);

CREATE TABLE features_strategies (
    id            serial PRIMARY KEY,
    feature_name  varchar(255) NOT NULL REFERENCES features (name) ON DELETE CASCADE,
    project_name  varchar(255) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment   varchar(100) NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
    strategy_name varchar(255) NOT NULL,
    parameters    json NOT NULL DEFAULT '{}'::json,
    constraints   json NOT NULL DEFAULT '[]'::json,
    sort_order    integer NOT NULL DEFAULT 9999,
    created_at    timestamp with time zone DEFAULT now()
);

CREATE TABLE context_fields (
    name         varchar(255) PRIMARY KEY,
    description  text,
    sort_order   integer DEFAULT 10,
    legal_values json,
    stickiness   boolean DEFAULT false,
    created_at   timestamp without time zone DEFAULT now(),
    updated_at   timestamp without time zone DEFAULT now()
);

-- @seed
INSERT INTO projects (id, name, description) VALUES
    ('default', 'Default', 'Default project'),
    ('checkout', 'Checkout team', NULL);
INSERT INTO environments (name, type, sort_order, enabled, protected) VALUES
    ('default', 'production', 1, true, true),
    ('development', 'development', 100, true, false),
    ('staging', 'test', 200, false, false);
INSERT INTO project_environments VALUES
    ('default', 'default'), ('default', 'development'), ('default', 'staging'), ('checkout', 'default');
INSERT INTO features (name, description, type, project, stale, archived_at, variants) VALUES
    ('new-checkout', 'The one-page checkout', 'release', 'checkout', false, NULL,
     '[{"name": "blue", "weight": 500, "stickiness": "default", "payload": {"type": "string", "value": "b"}},
       {"name": "green", "weight": 500, "stickiness": "default"}]'),
    ('kill-switch-search', NULL, 'kill-switch', 'default', false, NULL, '[]'),
    ('old-banner', 'Spring campaign banner', 'experiment', 'default', true, '2024-04-01 09:30:00+00', '[]');
INSERT INTO features_strategies (feature_name, project_name, environment, strategy_name, parameters, constraints, sort_order) VALUES
    ('new-checkout', 'checkout', 'default', 'flexibleRollout',
     '{"rollout": "25", "stickiness": "userId", "groupId": "new-checkout"}',
     '[{"contextName": "appName", "operator": "IN", "values": ["web", "ios"], "caseInsensitive": false, "inverted": false}]', 0),
    ('new-checkout', 'checkout', 'development', 'default', '{}', '[]', 0),
    ('kill-switch-search', 'default', 'default', 'userWithId', '{"userIds": "17,42"}', '[]', 1);
INSERT INTO context_fields (name, description, sort_order, legal_values, stickiness) VALUES
    ('environment', 'Allows you to constrain on application environment', 0, NULL, false),
    ('userId', 'Allows you to constrain on userId', 1, NULL, true),
    ('appName', 'Allows you to constrain on application name', 2,
     '[{"value": "web"}, {"value": "ios", "description": "iPhone app"}]', false);
