"""Apply converges, or says why it cannot.

Inside its transaction apply reads back the rows it wrote; a managed value the
database changed (a trigger, a rounding, a coercion) fails the apply with
nothing committed, naming table, file, column and both values, and the fix.
So after any successful apply, `plan` is empty: on SQLite, PostgreSQL and
over REST with the configsync_apply function.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import test_rest
from configsync import readback
from configsync.backends.base import Column, HistoryEntry, Operation, TableInfo, WriteBatch
from configsync.errors import NotConvergedError
from helpers import Result, commit_all, permissive_repo, run
from test_rest import Project

supabase_cluster = test_rest.supabase_cluster
start_project = test_rest.start_project

CONFIG = """\
tables:
  regions:
    key: code
  rates:
    key: name
"""

# A trigger owns `version` (every update adds one); `amount` keeps 2 decimals.
POSTGRES = """
CREATE TABLE regions (code text PRIMARY KEY, label text NOT NULL, version integer NOT NULL DEFAULT 1,
                      token text);
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.version = OLD.version + 1; NEW.token = 'sekrit-' || NEW.version; RETURN NEW; END $$;
CREATE TRIGGER regions_bump BEFORE UPDATE ON regions FOR EACH ROW EXECUTE FUNCTION bump();
INSERT INTO regions (code, label) VALUES ('eu', 'Europe'), ('us', 'United States');
CREATE TABLE rates (name text PRIMARY KEY, amount numeric(6,2) NOT NULL, starts timestamptz(0));
INSERT INTO rates VALUES ('standard', 1.25, '2025-01-01T00:00:00Z');
"""

# The same on SQLite: its triggers run after the write; round() for numeric(6,2).
SQLITE = """
CREATE TABLE regions (code TEXT PRIMARY KEY, label TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
                      token TEXT);
CREATE TRIGGER regions_bump AFTER UPDATE OF label ON regions FOR EACH ROW BEGIN
    UPDATE regions SET version = OLD.version + 1, token = 'sekrit-' || (OLD.version + 1) WHERE code = NEW.code;
END;
INSERT INTO regions (code, label) VALUES ('eu', 'Europe'), ('us', 'United States');
CREATE TABLE rates (name TEXT PRIMARY KEY, amount NUMERIC(6,2) NOT NULL, starts TIMESTAMP);
CREATE TRIGGER rates_round_update AFTER UPDATE OF amount ON rates FOR EACH ROW BEGIN
    UPDATE rates SET amount = round(NEW.amount, 2) WHERE name = NEW.name;
END;
CREATE TRIGGER rates_round_insert AFTER INSERT ON rates FOR EACH ROW BEGIN
    UPDATE rates SET amount = round(NEW.amount, 2) WHERE name = NEW.name;
END;
INSERT INTO rates VALUES ('standard', 1.25, '2025-01-01T00:00:00+00:00');
"""


def create(url: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        conn.executescript(SQLITE)
        conn.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(POSTGRES.encode())


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        rows = conn.execute(sql).fetchall()
        conn.close()
        return rows
    with psycopg.connect(url) as conn:
        return conn.execute(sql.encode()).fetchall()


def adopted(path: Path, url: str, config: str = CONFIG, run_: Callable[..., Result] = run) -> Path:
    """A config repository with a committed snapshot of both tables."""
    repo = permissive_repo(path, config, ["regions", "rates"], "config")
    result = run_(repo, "snapshot", "--commit", database=url)
    assert result.code == 2, result.text
    return repo


def change(repo: Path, record: str, old: str, new: str) -> None:
    path = repo / "config-snapshots" / record
    text = path.read_text()
    assert old in text, text
    path.write_text(text.replace(old, new))
    commit_all(repo, f"edit {record}")


def history_rows(url: str) -> int:
    try:
        return len(fetch(url, "SELECT * FROM configsync_history"))
    except (sqlite3.OperationalError, psycopg.errors.UndefinedTable):
        return 0


def assert_trigger_refused(result: Result, url: str, before: list[tuple[Any, ...]], history: int) -> None:
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    text = result.err
    assert ("regions config-snapshots/regions/eu.yaml: column version: the file has 1, the database stored 2"
            in text), text
    assert "add it to tables.regions.exclude in configsync.yaml" in text, text
    assert "nothing was changed" in text, text
    assert "sekrit" not in result.text  # a secret column is never compared, never shown
    assert fetch(url, "SELECT code, label, version FROM regions ORDER BY code") == before
    assert history_rows(url) == history


def assert_rounding_refused(result: Result, url: str) -> None:
    assert result.code == 1, result.text
    text = result.err
    assert "rates config-snapshots/rates/standard.yaml: column amount: the file has 1.234, the database stored 1.23" in text
    assert "write the exact value 1.23 in the file" in text, text
    assert [Decimal(str(r[0])) for r in fetch(url, "SELECT amount FROM rates")] == [Decimal("1.25")]


SECRET_CONFIG = CONFIG.replace("    key: code\n", "    key: code\n    secret: [token]\n")


def test_a_column_a_trigger_changes_fails_the_apply_naming_it(tmp_path: Path, db_url: str) -> None:
    create(db_url)
    repo = adopted(tmp_path / "repo", db_url, SECRET_CONFIG)
    before = fetch(db_url, "SELECT code, label, version FROM regions ORDER BY code")
    history = history_rows(db_url)
    change(repo, "regions/eu.yaml", "label: Europe", "label: European Union")
    assert_trigger_refused(run(repo, "apply", "--yes", database=db_url), db_url, before, history)
    assert run(repo, "plan", database=db_url).code == 2  # still to do: nothing was applied

    # The fix the message names: the database owns the column.
    (repo / "configsync.yaml").write_text(SECRET_CONFIG.replace("secret: [token]", "secret: [token]\n    exclude: [version]"))
    for name in ("eu", "us"):
        path = repo / f"config-snapshots/regions/{name}.yaml"
        path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith("version:")))
    commit_all(repo, "the database owns version")
    applied = run(repo, "apply", "--yes", database=db_url)
    assert applied.code == 0, applied.text
    assert fetch(db_url, "SELECT label, version FROM regions WHERE code = 'eu'") == [("European Union", 2)]
    assert run(repo, "plan", database=db_url).code == 0


def test_a_rounded_number_fails_the_apply_naming_the_exact_value(tmp_path: Path, db_url: str) -> None:
    create(db_url)
    repo = adopted(tmp_path / "repo", db_url)
    change(repo, "rates/standard.yaml", "amount: 1.25", "amount: 1.234")
    assert_rounding_refused(run(repo, "apply", "--yes", database=db_url), db_url)

    change(repo, "rates/standard.yaml", "amount: 1.234", "amount: 1.23")
    applied = run(repo, "apply", "--yes", database=db_url)
    assert applied.code == 0, applied.text
    assert run(repo, "plan", database=db_url).code == 0


def test_a_rounded_number_in_a_new_row_fails_too(tmp_path: Path, db_url: str) -> None:
    create(db_url)
    repo = adopted(tmp_path / "repo", db_url)
    (repo / "config-snapshots/rates/reduced.yaml").write_text("name: reduced\namount: 0.125\n")
    commit_all(repo, "a new rate")
    result = run(repo, "apply", "--yes", database=db_url)
    assert result.code == 1, result.text
    assert "rates config-snapshots/rates/reduced.yaml: column amount: the file has 0.125, the database stored" in result.err
    assert fetch(db_url, "SELECT count(*) FROM rates") == [(1,)]


def test_after_a_successful_apply_plan_is_empty(tmp_path: Path, db_url: str) -> None:
    """Creates, updates and deletes, values written in another spelling of the
    same value (0.70, a timestamp with Z): apply succeeds and nothing is left."""
    create(db_url)
    repo = adopted(tmp_path / "repo", db_url, CONFIG.replace("    key: code\n", "    key: code\n    exclude: [version, token]\n"))
    change(repo, "regions/eu.yaml", "label: Europe", "label: European Union")
    (repo / "config-snapshots/regions/us.yaml").unlink()
    (repo / "config-snapshots/regions/jp.yaml").write_text("code: jp\nlabel: Japan\n")
    (repo / "config-snapshots/rates/reduced.yaml").write_text(
        "name: reduced\namount: 0.70\nstarts: 2025-06-01T12:00:00Z\n")
    commit_all(repo, "changes")
    applied = run(repo, "apply", "--yes", database=db_url)
    assert applied.code == 0, applied.text
    planned = run(repo, "plan", database=db_url)
    assert planned.code == 0, planned.text
    assert fetch(db_url, "SELECT code, version FROM regions ORDER BY code") == [("eu", 2), ("jp", 1)]


# ---- over REST, with the configsync_apply function ------------------------------------------


def rest_tables(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(POSTGRES.encode())


def test_over_rest_the_function_reads_back_and_refuses(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project(rest_tables, tables=["regions", "rates"])
    repo = adopted(tmp_path / "repo", project.url, SECRET_CONFIG, project.run)
    before = fetch(project.db, "SELECT code, label, version FROM regions ORDER BY code")
    history = history_rows(project.db)

    change(repo, "regions/eu.yaml", "label: Europe", "label: European Union")
    assert_trigger_refused(project.run(repo, "apply", "--yes"), project.db, before, history)
    change(repo, "regions/eu.yaml", "label: European Union", "label: Europe")

    change(repo, "rates/standard.yaml", "amount: 1.25", "amount: 1.234")
    assert_rounding_refused(project.run(repo, "apply", "--yes"), project.db)
    assert history_rows(project.db) == history
    change(repo, "rates/standard.yaml", "amount: 1.234", "amount: 1.25")

    # timestamptz(0) rounds fractions of a second: refused inside the transaction too.
    change(repo, "rates/standard.yaml", "00:00:00+00:00", "00:00:00.6+00:00")
    refused = project.run(repo, "apply", "--yes")
    assert refused.code == 1, refused.text
    assert ("column starts: the file has '2025-01-01T00:00:00.6+00:00', the database stored "
            "'2025-01-01T00:00:01+00:00'") in refused.err, refused.text
    assert "nothing was changed" in refused.err, refused.text
    assert history_rows(project.db) == history
    change(repo, "rates/standard.yaml", "00:00:00.6+00:00", "00:00:00+00:00")

    # Equal values in other spellings converge: apply succeeds, plan is empty.
    change(repo, "rates/standard.yaml", "amount: 1.25", "amount: 1.230")
    (repo / "config-snapshots/rates/reduced.yaml").write_text(
        "name: reduced\namount: 0.70\nstarts: 2025-06-01T12:00:00Z\n")
    commit_all(repo, "exact values")
    applied = project.run(repo, "apply", "--yes")
    assert applied.code == 0, applied.text
    assert "older configsync" not in applied.text
    assert project.run(repo, "plan").code == 0
    assert history_rows(project.db) == history + 1


# ---- the pure check ------------------------------------------------------------------------


TABLE = TableInfo("t", (Column("k", "text", "text"), Column("n", "numeric", "numeric(6,2)"),
                        Column("at", "timestamp", "timestamptz"), Column("doc", "json", "jsonb")), ("k",))


def batch(*ops: Operation) -> WriteBatch:
    return WriteBatch([], list(ops), HistoryEntry("r", "HEAD", "me", 0, 0, 0, "c"), "configsync_history",
                      json_excludes={"t": {"doc": (("seen",),)}})


def test_the_check_compares_values_not_spellings() -> None:
    op = Operation("update", TABLE, {"k": "a"}, {"n": Decimal("0.70")}, "f/a.yaml",
                   {"k": "a", "n": Decimal("0.70"), "at": "2025-01-01T00:00:00Z", "doc": {"x": 1}})
    same = {"t": [{"k": "a", "n": Decimal("0.7"), "at": "2025-01-01T00:00:00+00:00", "doc": {"x": 1, "seen": 5}}]}
    assert readback.differences(batch(op), same) == []
    other = {"t": [{"k": "a", "n": Decimal("0.71"), "at": "2025-01-01T00:00:01+00:00", "doc": {"x": 2}}]}
    found = readback.differences(batch(op), other)
    assert len(found) == 3 and "column doc: the file has {\"x\":1}, the database stored {\"x\":2}" in found[2], found
    with pytest.raises(NotConvergedError, match="the row is not there after the update"):
        readback.check(batch(op), {"t": []})
