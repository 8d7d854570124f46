/* Flagsmith projects, environments and features (Django models on PostgreSQL).
   Follows Flagsmith/flagsmith, api/features/migrations/0001_initial.py (Feature:
   AutoField id, name, created_date, initial_value, description, project FK) with
   api/features/migrations/0043_add_uuid_field_to_feature.py (a uuid column with a
   database-side default) and 0007_feature_default_enabled.py; the environments
   table follows api/environments/migrations/0001_initial.py (name, api_key unique,
   project FK), here with `id bigint GENERATED ALWAYS AS IDENTITY` beside the
   natural key `api_key text NOT NULL UNIQUE` (what Django's BigAutoField creates,
   made ALWAYS). DDL written for this corpus. */

/* @cycle
edit:   {file: features/show_referral_banner__1.yaml, replace: ["default_enabled: false", "default_enabled: true"]}
create:
  file: environments/ser_k7Z2qLr9WvX3.yaml
  record: {name: Staging, api_key: ser_k7Z2qLr9WvX3, project_id: 1, minimum_change_request_approvals: null,
           allow_client_traits: true, banner_text: null, banner_colour: null, hide_sensitive_data: false}
delete: {file: features/legacy_search__1.yaml}
*/

CREATE TABLE projects_project (
    id                      serial PRIMARY KEY,
    name                    varchar(2000) NOT NULL,
    created_date            timestamptz NOT NULL DEFAULT now(),
    hide_disabled_flags     boolean NOT NULL DEFAULT false,
    enable_realtime_updates boolean NOT NULL DEFAULT false,
    max_segments_allowed    integer NOT NULL DEFAULT 100
);

CREATE TABLE environments (
    id                                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                              varchar(2000) NOT NULL,
    api_key                           text NOT NULL UNIQUE,
    project_id                        integer NOT NULL REFERENCES projects_project (id) DEFERRABLE INITIALLY DEFERRED,
    minimum_change_request_approvals  integer,
    allow_client_traits               boolean NOT NULL DEFAULT true,
    banner_text                       varchar(255),
    banner_colour                     varchar(7),
    hide_sensitive_data               boolean NOT NULL DEFAULT false,
    created_date                      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE features (
    id              serial PRIMARY KEY,
    uuid            uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    name            varchar(2000) NOT NULL,
    project_id      integer NOT NULL REFERENCES projects_project (id) DEFERRABLE INITIALLY DEFERRED,
    initial_value   varchar(20000),
    description     text,
    default_enabled boolean NOT NULL DEFAULT false,
    type            varchar(50) DEFAULT 'STANDARD',
    is_archived     boolean NOT NULL DEFAULT false,
    is_server_key_only boolean NOT NULL DEFAULT false,
    created_date    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT features_feature_name_project_id_uniq UNIQUE (name, project_id)
);

-- @seed
INSERT INTO projects_project (id, name, hide_disabled_flags) VALUES (1, 'Web app', false), (2, 'Mobile', true);
SELECT setval('projects_project_id_seq', 2);
INSERT INTO environments (name, api_key, project_id, minimum_change_request_approvals, banner_text, banner_colour) VALUES
    ('Development', 'ser_dev4Kq8PzT1mN6', 1, NULL, NULL, NULL),
    ('Production', 'ser_prdX9wE2rT5yU0', 1, 2, 'Careful: production', '#FF0000'),
    ('Production', 'ser_mobP3sD8fG1hJ4', 2, NULL, NULL, NULL);
INSERT INTO features (id, uuid, name, project_id, initial_value, description, default_enabled, type) VALUES
    (5, '3f8e6b0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'show_referral_banner', 1, NULL, 'Referral programme banner', false, 'STANDARD'),
    (6, '9a0b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d', 'checkout_button_colour', 1, '#1E90FF', NULL, true, 'STANDARD'),
    (7, 'c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5', 'legacy_search', 1, NULL, NULL, false, 'STANDARD'),
    (8, 'd2e3f4a5-b6c7-4d8e-9fa0-b1c2d3e4f5a6', 'onboarding_steps', 2, '3', 'How many onboarding screens', true, 'MULTIVARIATE');
SELECT setval('features_id_seq', 8);
