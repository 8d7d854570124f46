"""Column ownership (docs/configuration.md, "Column ownership"): generated and GENERATED ALWAYS
identity columns belong to the database; other database-assigned values (serial,
identity by default, the SQLite rowid, defaults) may be left out of a file, and a
row created that way is no drift; a restore of explicit ids advances their sequence.

Real PostgreSQL and real SQLite, through the CLI like a user.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from configsync.backends.base import Column, TableInfo
from configsync.inference import natural_key, table_schema
from helpers import commit_all, is_clean, new_repo, run
from test_rest import start_project, supabase_cluster  # noqa: F401 - fixtures

# -- helpers -------------------------------------------------------------------------------


def execute(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.executescript(sql)
        conn.commit()
        conn.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        return pg.execute(sql).fetchall()  # type: ignore[call-overload]


def adopt(tmp_path: Path, url: str) -> Path:
    repo = new_repo(tmp_path / "repo")
    result = run(repo, "init", "--database", url, "--all")
    assert result.code == 0, result.text
    commit_all(repo, "configsync init")
    return repo


def said(result: Any) -> str:
    return f"exit {result.code}: {result.text}"


PG_PLANS = """
    CREATE TABLE plans (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        plan_key text NOT NULL UNIQUE,
        seats integer NOT NULL,
        price integer NOT NULL DEFAULT 0,
        total bigint GENERATED ALWAYS AS (seats * price) STORED);
"""
SQLITE_PLANS = """
    CREATE TABLE plans (
        id INTEGER PRIMARY KEY,
        plan_key TEXT NOT NULL UNIQUE,
        seats INTEGER NOT NULL,
        price INTEGER NOT NULL DEFAULT 0,
        total INTEGER GENERATED ALWAYS AS (seats * price) STORED);
"""
SEED = "INSERT INTO plans (plan_key, seats, price) VALUES ('free', 1, 0), ('pro', 10, 12);"


@pytest.fixture(params=["sqlite", "postgres"])
def plans_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'plans.db'}"
        execute(url, SQLITE_PLANS + SEED)
        return url
    url = str(request.getfixturevalue("pg_url"))
    execute(url, PG_PLANS + SEED)
    return url


# -- init ----------------------------------------------------------------------------------


def test_init_keys_by_readable_unique_and_leaves_the_database_columns_out(tmp_path: Path, plans_url: str) -> None:
    repo = adopt(tmp_path, plans_url)
    config = (repo / "configsync.yaml").read_text()
    files = sorted(p.name for p in (repo / "config-snapshots/plans").iterdir())
    pro = (repo / "config-snapshots/plans/pro.yaml").read_text()
    schema = (repo / "schemas/plans.schema.json").read_text()
    assert "key: plan_key" in config, config
    assert files == ["free.yaml", "pro.yaml"], files
    assert "total" not in pro and "total" not in schema, (pro, schema)
    assert "# total: a generated column" in config, config
    assert '"required": [\n    "plan_key",\n    "seats"\n  ]' in schema, schema  # id and price are assigned
    if plans_url.startswith("sqlite"):
        assert "id: 2" in pro, pro  # the rowid may be written (by default): kept for an exact restore
    else:
        assert "# id: an identity column GENERATED ALWAYS" in config and "exclude: [id, total]" in config, config
        assert "id" not in pro.replace("# yaml-language-server", ""), pro


# -- a file naming a database-owned column -------------------------------------------------


def test_a_file_naming_a_generated_column_is_refused_saying_why(tmp_path: Path, plans_url: str) -> None:
    repo = adopt(tmp_path, plans_url)
    # As a configsync.yaml written before: nothing excluded by hand.
    (repo / "configsync.yaml").write_text("tables:\n  plans:\n    key: plan_key\n")
    path = repo / "config-snapshots/plans/pro.yaml"
    path.write_text(path.read_text().replace("seats: 10\n", "seats: 11\ntotal: 500\n"))
    commit_all(repo, "write a generated column")
    line = path.read_text().splitlines().index("total: 500") + 1
    result = run(repo, "apply", "--yes", database=plans_url)
    assert result.code == 1, said(result)
    assert f"config-snapshots/plans/pro.yaml:{line}: column 'total' is a generated column" in result.text, said(result)
    assert "Traceback" not in result.text
    assert query(plans_url, "SELECT seats FROM plans WHERE plan_key = 'pro'") == [(10,)]


def test_a_file_naming_an_always_identity_column_is_refused_saying_why(tmp_path: Path, pg_url: str) -> None:
    execute(pg_url, PG_PLANS + SEED)
    repo = adopt(tmp_path, pg_url)
    path = repo / "config-snapshots/plans/team.yaml"
    path.write_text("plan_key: team\nid: 7\nseats: 25\n")
    commit_all(repo, "a new plan with an id")
    result = run(repo, "plan", database=pg_url)
    assert result.code == 1, said(result)
    assert ("config-snapshots/plans/team.yaml:2: column 'id' is an identity column GENERATED ALWAYS: the database "
            "assigns it; it is never written") in result.text, said(result)


# -- creating rows without database-assigned columns ---------------------------------------


def test_a_row_created_without_assigned_columns_is_no_drift(tmp_path: Path, plans_url: str) -> None:
    """A file leaving out the id (identity / rowid) and a defaulted column: apply
    creates the row, plan and snapshot find nothing, and git stays clean;
    `snapshot --with-assigned` then writes the database's values into the file."""
    repo = adopt(tmp_path, plans_url)
    (repo / "config-snapshots/plans/team.yaml").write_text("plan_key: team\nseats: 25\n")
    commit_all(repo, "a new plan")
    applied = run(repo, "apply", "--yes", database=plans_url)
    assert applied.code == 0, said(applied)
    assert query(plans_url, "SELECT seats, price, total FROM plans WHERE plan_key = 'team'") == [(25, 0, 0)]
    planned = run(repo, "plan", database=plans_url)
    assert planned.code == 0, said(planned)
    snapped = run(repo, "snapshot", database=plans_url)
    assert snapped.code == 0 and is_clean(repo), said(snapped)
    # An edit outside git of a column the file does name is still drift.
    execute(plans_url, "UPDATE plans SET seats = 30 WHERE plan_key = 'team'")
    snapped = run(repo, "snapshot", database=plans_url)
    assert snapped.code == 2, said(snapped)
    team = (repo / "config-snapshots/plans/team.yaml").read_text()
    assert "seats: 30" in team and "price" not in team, team
    commit_all(repo, "drift")
    filled = run(repo, "snapshot", "--with-assigned", database=plans_url)
    team = (repo / "config-snapshots/plans/team.yaml").read_text()
    assert filled.code == 2 and "price: 0" in team, said(filled) + team
    assert ("id: 3" in team) == plans_url.startswith("sqlite"), team  # an ALWAYS identity never
    commit_all(repo, "assigned values")
    assert run(repo, "plan", database=plans_url).code == 0
    assert run(repo, "snapshot", database=plans_url).code == 0 and is_clean(repo)


# -- restores advance the sequence ---------------------------------------------------------


def test_a_restore_of_serial_ids_advances_the_sequence(tmp_path: Path, pg_url: str, pg_copy_url: str) -> None:
    ddl = """CREATE TABLE regions (id serial PRIMARY KEY, code text NOT NULL UNIQUE, label text NOT NULL);
             CREATE TABLE zones (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL);"""
    execute(pg_url, ddl + """INSERT INTO regions (code, label) VALUES ('eu', 'Europe'), ('us', 'US'), ('x', 'X');
                             DELETE FROM regions WHERE code = 'x';
                             INSERT INTO zones (name) VALUES ('a'), ('b');""")
    execute(pg_copy_url, ddl)
    repo = adopt(tmp_path, pg_url)
    assert "key: code" in (repo / "configsync.yaml").read_text()
    applied = run(repo, "apply", "--yes", database=pg_copy_url)
    assert applied.code == 0, said(applied)
    assert query(pg_copy_url, "SELECT id, code FROM regions ORDER BY id") == [(1, "eu"), (2, "us")]
    # The application's next insert does not collide with the restored ids.
    execute(pg_copy_url, "INSERT INTO regions (code, label) VALUES ('apac', 'Asia'); INSERT INTO zones (name) VALUES ('c')")
    assert query(pg_copy_url, "SELECT id FROM regions WHERE code = 'apac'")[0][0] > 2
    assert query(pg_copy_url, "SELECT id FROM zones WHERE name = 'c'")[0][0] > 2
    # The sequence never moves backwards: restoring a lower id keeps it ahead.
    before = query(pg_copy_url, "SELECT last_value FROM regions_id_seq")[0][0]
    execute(pg_copy_url, "DELETE FROM regions WHERE code IN ('eu', 'apac')")
    applied = run(repo, "apply", "--yes", database=pg_copy_url)
    assert applied.code == 0, said(applied)
    assert query(pg_copy_url, "SELECT id FROM regions WHERE code = 'eu'") == [(1,)]
    assert query(pg_copy_url, "SELECT last_value FROM regions_id_seq")[0][0] >= before


def test_an_always_identity_key_is_restored_and_its_sequence_advanced(tmp_path: Path, pg_url: str,
                                                                      pg_copy_url: str) -> None:
    """No readable unique column: the identity is the key, so it is in the files;
    apply writes it with OVERRIDING SYSTEM VALUE and advances the sequence."""
    ddl = "CREATE TABLE events (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb);"
    execute(pg_url, ddl + "INSERT INTO events (payload) VALUES ('{\"a\": 1}'), ('[]'), ('{}');"
                          "DELETE FROM events WHERE id = 2;")
    execute(pg_copy_url, ddl)
    repo = adopt(tmp_path, pg_url)
    assert sorted(p.name for p in (repo / "config-snapshots/events").iterdir()) == ["1.yaml", "3.yaml"]
    applied = run(repo, "apply", "--yes", database=pg_copy_url)
    assert applied.code == 0, said(applied)
    assert query(pg_copy_url, "SELECT id FROM events ORDER BY id") == [(1,), (3,)]
    execute(pg_copy_url, "INSERT INTO events (payload) VALUES ('null')")
    assert query(pg_copy_url, "SELECT max(id) FROM events")[0][0] > 3
    assert run(repo, "plan", database=pg_url).code == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_restored_ids_and_new_rows_in_one_apply_do_not_collide(backend: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    """A file without an id sorts before the files with ids (apac < eu < us): the
    restored ids are written first and the database's next id comes after them."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.db'}"
        execute(url, "CREATE TABLE regions (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, label TEXT NOT NULL);")
    else:
        url = str(request.getfixturevalue("pg_url"))
        execute(url, "CREATE TABLE regions (id serial PRIMARY KEY, code text NOT NULL UNIQUE, label text NOT NULL);")
    repo = adopt(tmp_path, url)
    snap = repo / "config-snapshots/regions"
    snap.mkdir(exist_ok=True)
    (snap / "apac.yaml").write_text("code: apac\nlabel: Asia\n")
    (snap / "eu.yaml").write_text("id: 1\ncode: eu\nlabel: Europe\n")
    (snap / "us.yaml").write_text("id: 2\ncode: us\nlabel: US\n")
    commit_all(repo, "a restore and a new region")
    applied = run(repo, "apply", "--yes", database=url)
    assert applied.code == 0, said(applied)
    assert query(url, "SELECT id, code FROM regions ORDER BY id") == [(1, "eu"), (2, "us"), (3, "apac")]
    assert run(repo, "snapshot", database=url).code == 0 and is_clean(repo)


def test_a_restore_over_the_rest_api_advances_the_sequence(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The configsync_apply function moves the sequence past restored ids in its
    transaction, before a row that leaves its id to the database."""
    project_of = request.getfixturevalue("start_project")

    def setup(db: str) -> None:
        execute(db, "CREATE TABLE regions (id serial PRIMARY KEY, code text NOT NULL UNIQUE, label text NOT NULL);")

    project = project_of(setup, tables=["regions"])
    repo = new_repo(tmp_path / "repo")
    (repo / "configsync.yaml").write_text("tables:\n  regions:\n    key: code\n")
    (repo / "schemas").mkdir()
    (repo / "schemas/regions.schema.json").write_text('{"type": "object"}\n')
    snap = repo / "config-snapshots/regions"
    snap.mkdir(parents=True)
    (snap / "apac.yaml").write_text("code: apac\nlabel: Asia\n")
    (snap / "eu.yaml").write_text("id: 1\ncode: eu\nlabel: Europe\n")
    (snap / "us.yaml").write_text("id: 5\ncode: us\nlabel: US\n")
    commit_all(repo, "a restore and a new region")
    applied = project.run(repo, "apply", "--yes")
    assert applied.code == 0, said(applied)
    assert query(project.db, "SELECT id, code FROM regions ORDER BY id") == [(1, "eu"), (5, "us"), (6, "apac")]
    execute(project.db, "INSERT INTO regions (code, label) VALUES ('ca', 'Canada')")
    assert query(project.db, "SELECT id FROM regions WHERE code = 'ca'") == [(7,)]


# -- pure: the key and the schema ----------------------------------------------------------


def _info(*columns: Column, pk: tuple[str, ...] = ("id",), unique: tuple[tuple[str, ...], ...] = ()) -> TableInfo:
    return TableInfo("t", columns, pk, unique=unique)


@pytest.mark.parametrize("surrogate", [
    Column("id", "integer", "bigint", False, identity="always"),
    Column("id", "integer", "bigint", False, identity="by default"),
    Column("id", "integer", "integer", False, has_default=True),
    Column("id", "integer", "INTEGER", False, identity="by default", type_name="INTEGER"),  # SQLite rowid
    Column("id", "uuid", "uuid", False, has_default=True),
])
def test_natural_key_prefers_readable_unique_over_any_surrogate(surrogate: Column) -> None:
    info = _info(surrogate, Column("rank", "integer", "integer", False), Column("route", "text", "text", False),
                 unique=(("rank",), ("route",)))
    assert natural_key(info) == ("route",)
    assert natural_key(_info(surrogate, Column("rank", "integer", "integer", False), unique=(("rank",),))) == ("rank",)
    assert natural_key(_info(surrogate, Column("route", "text", "text", True), unique=(("route",),))) == ("id",)


def test_natural_key_keeps_a_primary_key_the_database_does_not_assign() -> None:
    info = _info(Column("id", "integer", "integer", False), Column("route", "text", "text", False),
                 unique=(("route",),))
    assert natural_key(info) == ("id",)


def test_schema_requires_no_database_assigned_column_and_omits_owned_ones() -> None:
    info = _info(Column("id", "integer", "bigint", False, identity="by default"),
                 Column("route", "text", "text", False),
                 Column("rph", "integer", "integer", True, has_default=True, generated=True),
                 Column("n", "integer", "integer", False))
    schema = table_schema("t", info, ("route",))
    assert schema["required"] == ["route", "n"]
    assert list(schema["properties"]) == ["id", "route", "n"]
