"""configsync.yaml: validation messages and database resolution."""
from __future__ import annotations

from pathlib import Path

import pytest
from configsync.config import DEFAULT_DATABASE, load_config, resolve_database
from configsync.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "configsync.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tabels:\n  t: {}\n", "configsync.yaml:1: unknown setting 'tabels'"),
        ("tables:\n  t:\n    mode: recon\n", "configsync.yaml:3: tables.t.mode: 'recon' is not one of"),
        ("tables:\n  t:\n    keys: id\n", "configsync.yaml:3: unknown setting tables.t.'keys'"),
        ("tables:\n  t:\n    key: [a, a]\n", "tables.t.key: expected a column name or a list"),
        ("tables:\n  'bad name':\n    key: id\n", "'bad name' is not a valid name"),
        ("tables: {}\n", "tables: {} should be non-empty"),
        ("tables:\n  t:\n    key: id\n    exclude: [id]\n", "key column 'id' cannot be excluded or secret"),
        ("tables:\n  t:\n    key: name\n    filename: '{id}'\n", "tables.t.key: name is not in the filename template '{id}'"),
        ("tables:\n  t:\n    key: [name, region]\n    filename: '{name}'\n", "must use exactly the key columns (name, region)"),
        # a misspelt key: the message says what the template uses, not only what the key is
        ("tables:\n  t:\n    key: nmae\n    filename: '{name}'\n",
         "tables.t.key: nmae is not in the filename template '{name}', which names files by name: "
         "if the table has no column nmae, correct `key`; otherwise make the template use {nmae}"),
        ("tables:\n  t:\n    filename: 'fixed'\n", "must use the key columns"),
        ("snapshots: ../elsewhere\ntables:\n  t: {}\n", "must be a directory inside the config repository"),
        ("tables:\n  t: {}\nhistory_table: t\n", "also listed under tables"),
        ("tables: [\n", "invalid YAML"),
        ("- a\n", "expected a mapping"),
    ],
)
def test_bad_config_names_the_setting(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert fragment in str(info.value)


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "configsync.yaml")


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "tables:\n  t:\n"))
    table = config.table("t")
    assert (table.key, table.mode, config.snapshots, config.schemas, config.history_table) == (
        None, "reconcile", "config-snapshots", "schemas", "configsync_history",
    )
    with pytest.raises(ConfigError, match="unknown table 'x'"):
        config.table("x")


def test_database_precedence(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, (
        "database: ${DB_DEFAULT}\nenvironments:\n  prod: postgresql://u:${PW}@h/db\ntables:\n  t: {}\n"
    )))
    env = {"DB_DEFAULT": "sqlite:///default.db", "PW": "pw", "CONFIGSYNC_DATABASE_URL": "sqlite:///from-env.db"}
    assert resolve_database(config, database="sqlite:///cli.db", env="prod", environ=env) == "sqlite:///cli.db"
    assert resolve_database(config, env="prod", environ=env) == "postgresql://u:pw@h/db"
    assert resolve_database(config, environ=env) == "sqlite:///from-env.db"
    del env["CONFIGSYNC_DATABASE_URL"]
    assert resolve_database(config, environ=env) == "sqlite:///default.db"
    with pytest.raises(ConfigError, match="database: environment variable DB_DEFAULT is not set"):
        resolve_database(config, environ={})
    with pytest.raises(ConfigError, match="--env staging: no such environment"):
        resolve_database(config, env="staging", environ=env)
    bare = load_config(write(tmp_path, "tables:\n  t: {}\n"))
    assert resolve_database(bare, environ={}) == DEFAULT_DATABASE
