-- Moose configuration tables, SQLite DDL (the embedded configsync backend).
--
-- Same tables, columns, column order and constraints as schema.postgres.sql.
-- The declared types tell the configsync SQLite backend how to read and write
-- each column:
--   UUID         uuid as lower-case text
--   TEXT         text
--   JSON         JSON text (PostgreSQL jsonb)
--   TEXT[]       array of strings, stored as a JSON array text (PostgreSQL text[])
--   NUMERIC      exact number (PostgreSQL numeric)
--   INTEGER      integer
--   BOOLEAN      0 / 1
--   TIMESTAMPTZ  ISO-8601 text
-- The extra typeof()/json_valid() checks give SQLite the type safety that
-- PostgreSQL gets from its column types.
--
-- Note: SQLite gives the declared types UUID, JSON, BOOLEAN and TIMESTAMPTZ
-- NUMERIC affinity, so a JSON scalar such as '10000' is stored as the integer
-- 10000 (typeof = 'integer'); readers of JSON columns must accept that.

CREATE TABLE IF NOT EXISTS system_config (
    id            UUID        PRIMARY KEY NOT NULL DEFAULT (
                      lower(hex(randomblob(4))) || '-' ||
                      lower(hex(randomblob(2))) || '-4' ||
                      substr(lower(hex(randomblob(2))), 2) || '-' ||
                      substr('89ab', 1 + (random() & 3), 1) ||
                      substr(lower(hex(randomblob(2))), 2) || '-' ||
                      lower(hex(randomblob(6)))),
    config_key    TEXT        NOT NULL UNIQUE CHECK (config_key <> ''),
    config_value  JSON        NOT NULL CHECK (json_valid(config_value)),
    config_type   TEXT        NOT NULL CHECK (config_type <> ''),
    description   TEXT,
    updated_by    TEXT,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS proposer_configs (
    id                    UUID        PRIMARY KEY NOT NULL DEFAULT (
                              lower(hex(randomblob(4))) || '-' ||
                              lower(hex(randomblob(2))) || '-4' ||
                              substr(lower(hex(randomblob(2))), 2) || '-' ||
                              substr('89ab', 1 + (random() & 3), 1) ||
                              substr(lower(hex(randomblob(2))), 2) || '-' ||
                              lower(hex(randomblob(6)))),
    name                  TEXT        NOT NULL UNIQUE CHECK (name <> ''),
    provider              TEXT        NOT NULL CHECK (provider <> ''),
    endpoint              TEXT        NOT NULL CHECK (endpoint <> ''),
    context_limit         INTEGER     NOT NULL
                              CHECK (typeof(context_limit) = 'integer' AND context_limit > 0),
    cost_profile          JSON        NOT NULL
                              CHECK (json_valid(cost_profile) AND json_type(cost_profile) = 'object'),
    strengths             TEXT[]      NOT NULL DEFAULT '[]'
                              CHECK (json_valid(strengths) AND json_type(strengths) = 'array'),
    complexity_threshold  NUMERIC     NOT NULL
                              CHECK (typeof(complexity_threshold) IN ('integer', 'real') AND complexity_threshold BETWEEN 0 AND 1),
    success_patterns      JSON        CHECK (success_patterns IS NULL OR json_valid(success_patterns)),
    notes                 TEXT,
    is_active             BOOLEAN     NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS contracts (
    id             UUID        PRIMARY KEY NOT NULL DEFAULT (
                       lower(hex(randomblob(4))) || '-' ||
                       lower(hex(randomblob(2))) || '-4' ||
                       substr(lower(hex(randomblob(2))), 2) || '-' ||
                       substr('89ab', 1 + (random() & 3), 1) ||
                       substr(lower(hex(randomblob(2))), 2) || '-' ||
                       lower(hex(randomblob(6)))),
    name           TEXT        NOT NULL CHECK (name <> ''),
    version        TEXT        NOT NULL CHECK (version <> ''),
    specification  JSON        NOT NULL
                       CHECK (json_valid(specification) AND json_type(specification) = 'object'),
    description    TEXT,
    is_active      BOOLEAN     NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (name, version)
);
