"""Field-level ownership: `exclude` takes paths into json/jsonb columns.

`exclude: [config_value.last_seen]`: that field is not written to files, not
compared, and apply keeps the database's value when it updates the rest of
the column (an admin UI owns it, git owns the rest).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import test_rest
from configsync import readback
from helpers import Result, commit_all, init_repo, permissive_repo, run
from test_rest import Project

supabase_cluster = test_rest.supabase_cluster
start_project = test_rest.start_project

CONFIG = """\
tables:
  settings:
    key: name
    exclude: [config_value.last_seen, config_value.ui.width]
"""

BUDGET = {"cap": 50, "last_seen": "2025-01-01T00:00:00Z", "ui": {"width": 300, "theme": "dark"}}


def create(url: str) -> None:
    rows = [("budget", json.dumps(BUDGET)), ("flags", json.dumps({"beta": True}))]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        conn.execute("CREATE TABLE settings (name TEXT PRIMARY KEY, label TEXT, config_value JSON NOT NULL)")
        conn.executemany("INSERT INTO settings (name, config_value) VALUES (?, ?)", rows)
        conn.commit()
        conn.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE settings (name text PRIMARY KEY, label text, config_value jsonb NOT NULL)")
        for name, value in rows:
            conn.execute("INSERT INTO settings (name, config_value) VALUES (%s, %s::jsonb)", [name, value])


def execute(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        conn.execute(sql)
        conn.commit()
        conn.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())


def stored(url: str, name: str) -> Any:
    sql = f"SELECT config_value FROM settings WHERE name = '{name}'"
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        (value,) = conn.execute(sql).fetchone()
        conn.close()
        return json.loads(value)
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.encode()).fetchone()
        assert row is not None
        return row[0]


def admin_ui_edit(url: str) -> None:
    """The admin UI writes the fields it owns."""
    if url.startswith("sqlite"):
        execute(url, "UPDATE settings SET config_value = json_set(config_value, '$.last_seen', '2026-11-30T09:00:00Z', "
                     "'$.ui.width', 640) WHERE name = 'budget'")
    else:
        execute(url, "UPDATE settings SET config_value = jsonb_set(jsonb_set(config_value, '{last_seen}', "
                     "'\"2026-11-30T09:00:00Z\"'), '{ui,width}', '640') WHERE name = 'budget'")


def cycle(tmp_path: Path, url: str, run_: Callable[..., Result], db: str | None = None) -> None:
    """``url`` for configsync, ``db`` (default: the same) for the admin UI and the checks."""
    db = db or url
    repo = permissive_repo(tmp_path / "repo", CONFIG, ["settings"], "config")
    assert run_(repo, "snapshot", "--commit", database=url).code == 2
    text = (repo / "config-snapshots/settings/budget.yaml").read_text()
    assert "last_seen" not in text and "width" not in text, text
    assert "cap: 50" in text and "theme: dark" in text, text

    admin_ui_edit(db)  # not compared: no drift, nothing to plan
    assert run_(repo, "plan", database=url).code == 0
    snapped = run_(repo, "snapshot", database=url)
    assert snapped.code == 0, snapped.text

    path = repo / "config-snapshots/settings/budget.yaml"
    path.write_text(path.read_text().replace("cap: 50", "cap: 40").replace("theme: dark", "theme: light"))
    commit_all(repo, "a lower cap, a light theme")
    applied = run_(repo, "apply", "--yes", database=url)
    assert applied.code == 0, applied.text
    assert "last_seen" not in applied.text
    # git's fields changed, the admin UI's kept
    assert stored(db, "budget") == {"cap": 40, "last_seen": "2026-11-30T09:00:00Z",
                                     "ui": {"width": 640, "theme": "light"}}
    assert stored(db, "flags") == {"beta": True}
    assert run_(repo, "plan", database=url).code == 0

    # A new row: the file's fields only.
    (repo / "config-snapshots/settings/limits.yaml").write_text("name: limits\nconfig_value:\n  max: 3\n")
    commit_all(repo, "limits")
    assert run_(repo, "apply", "--yes", database=url).code == 0
    assert stored(db, "limits") == {"max": 3}
    assert run_(repo, "plan", database=url).code == 0


def test_excluded_json_fields_are_not_in_files_not_compared_and_kept_by_apply(tmp_path: Path, db_url: str) -> None:
    create(db_url)
    cycle(tmp_path, db_url, run)


def test_over_rest_too(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project(create, tables=["settings"])
    cycle(tmp_path, project.url, lambda repo, *args, database: project.run(repo, *args, database=database),
          project.db)


def test_a_file_with_an_excluded_field_is_refused_with_its_line(tmp_path: Path) -> None:
    repo = permissive_repo(tmp_path / "repo", CONFIG, ["settings"], "config")
    (repo / "config-snapshots/settings").mkdir(parents=True)
    (repo / "config-snapshots/settings/budget.yaml").write_text(
        "name: budget\nconfig_value:\n  cap: 40\n  ui:\n    theme: dark\n    width: 10\n  last_seen: now\n")
    result = run(repo, "validate")
    assert result.code == 1, result.text
    assert ("config-snapshots/settings/budget.yaml:6: config_value.ui.width is excluded in configsync.yaml "
            "(the database owns it); remove it") in result.text, result.text
    assert "config-snapshots/settings/budget.yaml:7: config_value.last_seen is excluded" in result.text


def test_a_path_into_a_column_that_is_not_json_is_a_setting_error(tmp_path: Path, db_url: str) -> None:
    create(db_url)
    for exclude, message in [
        ("label.x", "configsync.yaml: tables.settings.exclude: a path into 'label' needs a json or jsonb column"),
        ("nope.x", "configsync.yaml: tables.settings.exclude: table settings has no column 'nope'"),
        ("config_value..x", "configsync.yaml: tables.settings.exclude: 'config_value..x' is not a column nor a path"),
    ]:
        repo = permissive_repo(tmp_path / exclude, f"tables:\n  settings:\n    key: name\n    exclude: [{exclude}]\n",
                               ["settings"], "config")
        result = run(repo, "plan", database=db_url)
        assert result.code == 1 and message in result.err, result.text
        assert "Traceback" not in result.text


def test_preserve_and_strip() -> None:
    paths = (("last_seen",), ("ui", "width"))
    db = {"cap": 50, "last_seen": 1, "ui": {"width": 2, "theme": "dark"}}
    assert readback.strip({"v": db}, {"v": paths}) == {"v": {"cap": 50, "ui": {"theme": "dark"}}}
    assert readback.preserve({"cap": 40}, db, paths) == {"cap": 40, "last_seen": 1, "ui": {"width": 2}}
    assert readback.preserve({"cap": 40, "ui": "flat"}, db, paths) == {"cap": 40, "ui": "flat", "last_seen": 1}
    assert readback.preserve(None, db, paths) is None
    assert readback.preserve({"cap": 1}, {"cap": 2}, paths) == {"cap": 1}


def test_import_backup_leaves_excluded_fields_out(tmp_path: Path) -> None:
    """A backup's rows become files validate accepts: without the excluded fields."""
    backup = Path(__file__).parent.parent / "examples/moose/config-backup-2025-10-03.json"
    repo = tmp_path / "repo"
    init_repo(repo)
    config = repo / "configsync.yaml"
    config.write_text(config.read_text().replace(
        "    key: config_key\n    filename: \"{config_key}\"\n    exclude: [created_at, updated_at]",
        "    key: config_key\n    filename: \"{config_key}\"\n    exclude: [created_at, updated_at, config_value.daily_soft_cap]"))
    commit_all(repo, "the dashboard owns the soft cap")
    assert run(repo, "import-backup", str(backup)).code == 0
    text = (repo / "config-snapshots/system_config/budget_limits.yaml").read_text()
    assert "daily_hard_cap: 50" in text and "daily_soft_cap" not in text, text
    result = run(repo, "validate")
    assert result.code == 0, result.text
