/* Cal.com feature flags and calendar cache (Prisma migrations: quoted camelCase
   identifiers, TIMESTAMP(3), Prisma enums). Follows calcom/cal.com,
   packages/prisma/migrations/20230907002853_add_calendar_cache/migration.sql
   ("CalendarCache": composite primary key ("credentialId", "key") with a foreign key
   to "Credential", JSONB value, TIMESTAMP(3) "expiresAt"; and its seed row of the
   "Feature" table: slug, enabled, description, "type" of the enum "FeatureType").
   The "Feature" columns (stale, "lastUsedAt", "createdAt", "updatedAt",
   "updatedBy") follow the fields of cal.com's FeatureDto. DDL written for this corpus. */

/* @cycle
# "createdAt" has a database default (left out of the new file); "updatedAt" has
# none (Prisma's client sets it), so a new file carries it.
edit:   {file: Feature/calendar-cache.yaml, replace: ["enabled: false", "enabled: true"]}
create:
  file: Feature/insights.yaml
  record: {slug: insights, enabled: true, description: Insights page, type: RELEASE, stale: false,
           lastUsedAt: null, updatedAt: "2024-05-01T12:00:00.123+00:00", updatedBy: null}
delete: {file: CalendarCache/2__2024-05.yaml}
*/

CREATE TYPE "FeatureType" AS ENUM ('RELEASE', 'EXPERIMENT', 'OPERATIONAL', 'KILL_SWITCH', 'PERMISSION');

CREATE TABLE "Feature" (
    "slug"        TEXT NOT NULL,
    "enabled"     BOOLEAN NOT NULL DEFAULT false,
    "description" TEXT,
    "type"        "FeatureType",
    "stale"       BOOLEAN DEFAULT false,
    "lastUsedAt"  TIMESTAMP(3),
    "createdAt"   TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"   TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP,
    "updatedBy"   INTEGER,
    CONSTRAINT "Feature_pkey" PRIMARY KEY ("slug")
);

CREATE TABLE "Credential" (
    "id"      SERIAL NOT NULL,
    "type"    TEXT NOT NULL,
    "appId"   TEXT,
    "invalid" BOOLEAN DEFAULT false,
    CONSTRAINT "Credential_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "CalendarCache" (
    "key"          TEXT NOT NULL,
    "value"        JSONB NOT NULL,
    "expiresAt"    TIMESTAMP(3) NOT NULL,
    "credentialId" INTEGER NOT NULL,
    CONSTRAINT "CalendarCache_pkey" PRIMARY KEY ("credentialId", "key")
);
ALTER TABLE "CalendarCache" ADD CONSTRAINT "CalendarCache_credentialId_fkey"
    FOREIGN KEY ("credentialId") REFERENCES "Credential" ("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- @seed
INSERT INTO "Feature" (slug, enabled, description, "type", stale, "lastUsedAt", "createdAt", "updatedAt", "updatedBy") VALUES
    ('calendar-cache', false, 'Enable Third Party Calendar Cache', 'OPERATIONAL', false, NULL,
     '2023-09-07 00:28:53.123', '2023-09-07 00:28:53.123', NULL),
    ('emails', true, 'Disable emails when false', 'KILL_SWITCH', false, '2024-04-30 23:59:59.999',
     '2023-01-01 00:00:00', '2024-02-29 12:00:00.5', 7),
    ('teams', true, NULL, 'PERMISSION', true, NULL, '2022-12-31 10:00:00', '2022-12-31 10:00:00', NULL);
INSERT INTO "Credential" ("id", "type", "appId") VALUES (1, 'google_calendar', 'google-calendar'), (2, 'office365_calendar', 'office365-calendar');
SELECT setval('"Credential_id_seq"', 2);
INSERT INTO "CalendarCache" ("key", "value", "expiresAt", "credentialId") VALUES
    ('2024-05', '{"items": [{"start": "2024-05-02T09:00:00Z", "end": "2024-05-02T10:00:00Z"}], "timeZone": "Europe/Berlin"}', '2024-05-31 00:00:00', 1),
    ('2024-05', '{"items": []}', '2024-05-31 00:00:00', 2),
    ('2024-06', '{"items": [], "nextSyncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU="}', '2024-06-30 00:00:00', 1);
