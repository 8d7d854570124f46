-- The Unleash schema of unleash.sql for the SQLite backend: the same tables, keys
-- and column order, in the declared types the configsync SQLite backend honours
-- (BOOLEAN 0/1, JSON text, TIMESTAMPTZ ISO-8601 text; INTEGER PRIMARY KEY for serial).

CREATE TABLE projects (
    id          VARCHAR(255) PRIMARY KEY NOT NULL,
    name        VARCHAR(255) NOT NULL,
    description TEXT,
    health      INTEGER DEFAULT 100,
    created_at  TIMESTAMPTZ DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE environments (
    name       VARCHAR(100) PRIMARY KEY NOT NULL,
    type       TEXT NOT NULL,
    sort_order INTEGER DEFAULT 9999,
    enabled    BOOLEAN NOT NULL DEFAULT 1,
    protected  BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE project_environments (
    project_id       VARCHAR(255) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_name VARCHAR(100) NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
    PRIMARY KEY (project_id, environment_name)
);

CREATE TABLE features (
    name            VARCHAR(255) PRIMARY KEY NOT NULL,
    description     TEXT,
    type            VARCHAR(255) NOT NULL DEFAULT 'release',
    project         VARCHAR(255) NOT NULL DEFAULT 'default' REFERENCES projects (id),
    stale           BOOLEAN NOT NULL DEFAULT 0,
    archived_at     TIMESTAMPTZ,
    variants        JSON NOT NULL DEFAULT '[]' CHECK (json_valid(variants)),
    impression_data BOOLEAN NOT NULL DEFAULT 0,
    created_at      TIMESTAMP DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now'))
);

CREATE TABLE features_strategies (
    id            INTEGER PRIMARY KEY,
    feature_name  VARCHAR(255) NOT NULL REFERENCES features (name) ON DELETE CASCADE,
    project_name  VARCHAR(255) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment   VARCHAR(100) NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
    strategy_name VARCHAR(255) NOT NULL,
    parameters    JSON NOT NULL DEFAULT '{}' CHECK (json_valid(parameters)),
    constraints   JSON NOT NULL DEFAULT '[]' CHECK (json_valid(constraints)),
    sort_order    INTEGER NOT NULL DEFAULT 9999,
    created_at    TIMESTAMPTZ DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE context_fields (
    name         VARCHAR(255) PRIMARY KEY NOT NULL,
    description  TEXT,
    sort_order   INTEGER DEFAULT 10,
    legal_values JSON CHECK (legal_values IS NULL OR json_valid(legal_values)),
    stickiness   BOOLEAN DEFAULT 0,
    created_at   TIMESTAMP DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now')),
    updated_at   TIMESTAMP DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now'))
);

-- @seed
INSERT INTO projects (id, name, description) VALUES
    ('default', 'Default', 'Default project'),
    ('checkout', 'Checkout team', NULL);
INSERT INTO environments (name, type, sort_order, enabled, protected) VALUES
    ('default', 'production', 1, 1, 1),
    ('development', 'development', 100, 1, 0),
    ('staging', 'test', 200, 0, 0);
INSERT INTO project_environments VALUES
    ('default', 'default'), ('default', 'development'), ('default', 'staging'), ('checkout', 'default');
INSERT INTO features (name, description, type, project, stale, archived_at, variants) VALUES
    ('new-checkout', 'The one-page checkout', 'release', 'checkout', 0, NULL,
     '[{"name": "blue", "weight": 500, "stickiness": "default", "payload": {"type": "string", "value": "b"}},
       {"name": "green", "weight": 500, "stickiness": "default"}]'),
    ('kill-switch-search', NULL, 'kill-switch', 'default', 0, NULL, '[]'),
    ('old-banner', 'Spring campaign banner', 'experiment', 'default', 1, '2024-04-01T09:30:00+00:00', '[]');
INSERT INTO features_strategies (feature_name, project_name, environment, strategy_name, parameters, constraints, sort_order) VALUES
    ('new-checkout', 'checkout', 'default', 'flexibleRollout',
     '{"rollout": "25", "stickiness": "userId", "groupId": "new-checkout"}',
     '[{"contextName": "appName", "operator": "IN", "values": ["web", "ios"], "caseInsensitive": false, "inverted": false}]', 0),
    ('new-checkout', 'checkout', 'development', 'default', '{}', '[]', 0),
    ('kill-switch-search', 'default', 'default', 'userWithId', '{"userIds": "17,42"}', '[]', 1);
INSERT INTO context_fields (name, description, sort_order, legal_values, stickiness) VALUES
    ('environment', 'Allows you to constrain on application environment', 0, NULL, 0),
    ('userId', 'Allows you to constrain on userId', 1, NULL, 1),
    ('appName', 'Allows you to constrain on application name', 2,
     '[{"value": "web"}, {"value": "ios", "description": "iPhone app"}]', 0);
