"""The table sets the benchmark builds: their DDL, rows, configsync.yaml and a 1% change.

* ``independent`` (issue 12): one table of N rows holding the types configsync
  must convert (jsonb, numeric(20,10), text[], bigint, float8, date), plus three
  small tables (tens of rows) next to it, as a real config database has.
* ``moose``: the three Moose tables of examples/moose, N rows each (3N rows).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SMALL_DDL = """
CREATE TABLE currencies (code text PRIMARY KEY, name text NOT NULL, digits integer NOT NULL);
CREATE TABLE regions (name text PRIMARY KEY, currency text NOT NULL REFERENCES currencies (code),
                      vat numeric(5,2) NOT NULL, launched date);
CREATE TABLE feature_flags (name text PRIMARY KEY, enabled boolean NOT NULL, rollout float8,
                            audience text[] NOT NULL DEFAULT '{}');
"""

SMALL_FILL = """
INSERT INTO currencies SELECT 'C' || lpad(i::text, 2, '0'), 'Currency ' || i, i % 4 FROM generate_series(1, 20) AS i;
INSERT INTO regions SELECT 'region-' || lpad(i::text, 2, '0'), 'C' || lpad((1 + i % 20)::text, 2, '0'),
       (i % 25) + 0.5, date '2019-01-01' + i * 30 FROM generate_series(1, 30) AS i;
INSERT INTO feature_flags SELECT 'flag-' || lpad(i::text, 2, '0'), i % 2 = 0, i / 40.0,
       ARRAY['beta', 'staff-' || (i % 3)] FROM generate_series(1, 40) AS i;
"""

SMALL_CONFIG = """\
  currencies:
    key: code
    filename: "{code}"
  regions:
    key: name
    filename: "{name}"
  feature_flags:
    key: name
    filename: "{name}"
"""

INDEPENDENT_DDL = """
CREATE TABLE items (
    id bigint PRIMARY KEY,
    doc jsonb NOT NULL,
    amount numeric(20,10) NOT NULL,
    tags text[] NOT NULL,
    weight float8 NOT NULL,
    day date NOT NULL
);
""" + SMALL_DDL

INDEPENDENT_FILL = """
INSERT INTO items
SELECT 1000000000000 + i,
       jsonb_build_object('name', 'item-' || i, 'limits', jsonb_build_object('daily', i % 1000, 'burst', (i % 7) * 1.5),
                          'labels', jsonb_build_array('a', 'b' || (i % 5)), 'enabled', i % 2 = 0),
       round((i * 3.14159265358979)::numeric, 10),
       ARRAY['t' || (i % 10), 'group-' || (i % 3)],
       i / 7.0::float8,
       date '2020-01-01' + (i % 2000)
FROM generate_series(1, %(n)s) AS i;
""" + SMALL_FILL

INDEPENDENT_CONFIG = """\
tables:
  items:
    key: id
    filename: "{id}"
""" + SMALL_CONFIG

MOOSE_CONFIG = """\
tables:
  system_config:
    key: config_key
    filename: "{config_key}"
    exclude: [created_at, updated_at]
  proposer_configs:
    key: name
    filename: "{name}"
    exclude: [created_at, updated_at]
  contracts:
    key: [name, version]
    filename: "{name}@{version}"
    exclude: [created_at, updated_at]
"""

MOOSE_FILL = """
INSERT INTO system_config (config_key, config_value, config_type, description, updated_by)
SELECT 'key_' || lpad(i::text, 7, '0'),
       jsonb_build_object('limit', i, 'enabled', i %% 2 = 0, 'ratio', (i %% 100) / 100.0),
       'json', 'Setting number ' || i, NULL
FROM generate_series(1, %(n)s) AS i;
INSERT INTO proposer_configs (name, provider, endpoint, context_limit, cost_profile, strengths,
                              complexity_threshold, success_patterns, notes, is_active)
SELECT 'model-' || lpad(i::text, 7, '0'), 'openai', 'https://api.example.com/v1/chat/completions',
       128000, jsonb_build_object('currency', 'USD', 'input_cost_per_token', 0.00000015,
                                  'output_cost_per_token', 0.0000006),
       ARRAY['fast-execution', 'simple-tasks'], round((i %% 10) / 10.0, 1), NULL,
       'Generated proposer ' || i, i %% 3 <> 0
FROM generate_series(1, %(n)s) AS i;
INSERT INTO contracts (name, version, specification, description, is_active)
SELECT 'contract-' || lpad(i::text, 7, '0'), '1.0.' || (i %% 5),
       jsonb_build_object('type', 'object', 'fields', jsonb_build_array('id', 'name', 'value')),
       'Contract ' || i, true
FROM generate_series(1, %(n)s) AS i;
"""


def _change_items(repo: Path) -> int:
    """Rename the jsonb ``name`` of every 100th item; returns how many files changed."""
    files = sorted((repo / "config-snapshots/items").glob("*.yaml"))[::100]
    for path in files:
        path.write_text(path.read_text().replace("item-", "changed-item-", 1))
    return len(files)


def _change_system_config(repo: Path) -> int:
    files = sorted((repo / "config-snapshots/system_config").glob("*.yaml"))[::100]
    for path in files:
        path.write_text(path.read_text().replace("description: Setting number", "description: Changed setting number"))
    return len(files)


@dataclass(frozen=True)
class Shape:
    """A table set: how to build it (``fill`` takes ``%(n)s``) and how to change 1% of its files."""

    name: str
    ddl: str
    fill: str
    config: str
    tables: tuple[str, ...]
    rows: Callable[[int], int]  # rows in the whole set for N
    schemas: Path | None  # hand-written schemas to copy, or None: `configsync schema infer --write`
    change_one_percent: Callable[[Path], int]


INDEPENDENT = Shape(
    name="independent",
    ddl=INDEPENDENT_DDL,
    fill=INDEPENDENT_FILL.replace("%", "%%").replace("%%(n)s", "%(n)s"),
    config=INDEPENDENT_CONFIG,
    tables=("items", "currencies", "regions", "feature_flags"),
    rows=lambda n: n + 90,
    schemas=None,
    change_one_percent=_change_items,
)

MOOSE = Shape(
    name="moose",
    ddl=(ROOT / "examples/moose/schema.postgres.sql").read_text(),
    fill=MOOSE_FILL,
    config=MOOSE_CONFIG,
    tables=("system_config", "proposer_configs", "contracts"),
    rows=lambda n: 3 * n,
    schemas=ROOT / "schemas",
    change_one_percent=_change_system_config,
)

SHAPES = {shape.name: shape for shape in (INDEPENDENT, MOOSE)}

# The fleet's tenants hold the small tables only (issue 18: "plan over 100 environments (small tables)").
FLEET_DDL = SMALL_DDL
FLEET_FILL = SMALL_FILL  # executed without parameters: no %% escaping
FLEET_CONFIG_TABLES = "tables:\n" + SMALL_CONFIG
