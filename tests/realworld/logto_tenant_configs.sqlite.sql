-- The Logto schema of logto_tenant_configs.sql for the SQLite backend: composite
-- key (tenant_id, key) with a foreign key, JSON values (jsonb on PostgreSQL).

CREATE TABLE tenants (
    id         VARCHAR(21) PRIMARY KEY NOT NULL,
    db_user    VARCHAR(128),
    created_at TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE logto_configs (
    tenant_id VARCHAR(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    key       VARCHAR(256) NOT NULL,
    value     JSON NOT NULL DEFAULT '{}' CHECK (json_valid(value)),
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE systems (
    key   VARCHAR(256) PRIMARY KEY NOT NULL,
    value JSON NOT NULL CHECK (json_valid(value))
);

-- @seed
INSERT INTO tenants (id, db_user) VALUES ('default', NULL), ('acme', 'tenant_user_acme'), ('globex', 'tenant_user_globex');
INSERT INTO logto_configs VALUES
    ('default', 'adminConsole', '{"signInExperienceCustomized": true, "organizationCreated": false}'),
    ('acme', 'adminConsole', '{"signInExperienceCustomized": false, "livePreviewChecked": false, "checkedChargeNotification": {"token": true, "apiResource": false}}'),
    ('acme', 'oidc.privateKeys', '[{"id": "k1", "value": "-----BEGIN PRIVATE KEY-----redacted", "createdAt": 1700000000000}]'),
    ('acme', 'oidc.cookieKeys', '[]'),
    ('globex', 'adminConsole', '{}');
INSERT INTO systems VALUES
    ('alterationState', '{"timestamp": 1714000000, "updatedAt": "2024-04-25T10:00:00.000Z"}'),
    ('cloudflareHostnames', '{"enabled": false, "zones": []}');
