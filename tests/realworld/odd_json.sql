/* json beside jsonb: json keeps its text (key order, whitespace), jsonb does not;
   nested JSON nulls, big and float-looking numbers, scalar documents. A key/value
   config table in the shape of logto-io/logto packages/schemas/tables/logto_configs.sql
   (key, value jsonb not null) and Unleash's json columns (Unleash/unleash
   src/migrations/20210610085817-features-strategies-table.js). DDL and values
   written for this corpus. (JSON null at the top level: odd_json_null.) */

/* @cycle
edit:   {file: settings/theme.yaml, replace: ["primary: '#1e90ff'", "primary: '#ff4500'"]}
create:
  file: settings/locale.yaml
  record: {key: locale, value: {default: en, fallback: null}, override: null, legacy: {a: 1}, raw: [1, 2.5, "x"]}
delete: {file: settings/retired.yaml}
*/

CREATE TABLE settings (
    key      text PRIMARY KEY,
    value    jsonb NOT NULL,
    override jsonb,
    legacy   json,
    raw      json NOT NULL
);

-- @seed
INSERT INTO settings VALUES
    ('theme', '{"primary": "#1e90ff", "dark": {"background": null}}', NULL, '{"b": 1, "a": 2}', '{"z": 0,   "a": [1, {"y": null}]}'),
    ('unset', '{}', NULL, NULL, '[]'),
    ('numbers', '[1, 1.0, 1.5e300, -0, 12345678901234567890123, 0.1]', '{"x": 0.1}', '[1.10]', '[0.30000000000000004]'),
    ('scalars', '"text"', 'true', '"x"', 'false'),
    ('retired', '{"since": "2020"}', NULL, NULL, '{}');
