-- Moose configuration tables, PostgreSQL (and Supabase) DDL.
--
-- Reconstructed from the JSON export in config-backup-2025-10-03.json.
-- system_config and proposer_configs follow the production column types and
-- column order; contracts was empty in the export, so its columns are a
-- plausible "API contracts" design.
--
-- gen_random_uuid() is built in since PostgreSQL 13 (pgcrypto before that).
-- No RLS, no triggers: updated_at keeps its default unless the writer sets it.

create table if not exists public.system_config (
    id            uuid        primary key default gen_random_uuid(),
    config_key    text        not null unique check (config_key <> ''),
    config_value  jsonb       not null,
    config_type   text        not null check (config_type <> ''),
    description   text,
    updated_by    text,
    updated_at    timestamptz not null default now(),
    created_at    timestamptz not null default now()
);

create table if not exists public.proposer_configs (
    id                    uuid        primary key default gen_random_uuid(),
    name                  text        not null unique check (name <> ''),
    provider              text        not null check (provider <> ''),
    endpoint              text        not null check (endpoint <> ''),
    context_limit         integer     not null check (context_limit > 0),
    cost_profile          jsonb       not null check (jsonb_typeof(cost_profile) = 'object'),
    strengths             text[]      not null default '{}',
    complexity_threshold  numeric     not null check (complexity_threshold between 0 and 1),
    success_patterns      jsonb,
    notes                 text,
    is_active             boolean     not null default true,
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now()
);

create table if not exists public.contracts (
    id             uuid        primary key default gen_random_uuid(),
    name           text        not null check (name <> ''),
    version        text        not null check (version <> ''),
    specification  jsonb       not null check (jsonb_typeof(specification) = 'object'),
    description    text,
    is_active      boolean     not null default true,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    unique (name, version)
);
