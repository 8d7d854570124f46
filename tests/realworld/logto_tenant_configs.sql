/* Multi-tenant settings: a composite key (tenant_id, key) whose first column is a
   foreign key to the tenants table. Follows logto-io/logto,
   packages/schemas/tables/logto_configs.sql (tenant_id varchar(21) references
   tenants on update/delete cascade, key varchar(256), value jsonb not null default
   '{}', primary key (tenant_id, key)) and packages/schemas/tables/systems.sql for
   the un-tenanted key/value table. DDL written for this corpus. */

/* @cycle
edit:   {file: logto_configs/acme__adminConsole.yaml, replace: ["livePreviewChecked: false", "livePreviewChecked: true"]}
create:
  file: logto_configs/globex__cloudConnection.yaml
  record: {tenant_id: globex, key: cloudConnection, value: {appId: app_42, resource: "https://cloud.example/api"}}
delete: {file: logto_configs/acme__oidc.privateKeys.yaml}
*/

CREATE TABLE tenants (
    id         varchar(21) PRIMARY KEY,
    db_user    varchar(128),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE logto_configs (
    tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
    key       varchar(256) NOT NULL,
    value     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE systems (
    key   varchar(256) PRIMARY KEY,
    value jsonb NOT NULL
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
