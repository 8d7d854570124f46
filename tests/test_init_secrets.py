"""`init` never writes likely secrets in plain text: columns whose name or comment
says so, and those named with --secret, are `secret` before the first row is read."""
from __future__ import annotations

from pathlib import Path

import pytest
from configsync.backends import Column
from configsync.secrets_guess import looks_secret, words
from helpers import execute, new_repo, run

SECRET = "sk-live-7f3a9c"
TOKEN = "rt-0d15ea5e"


def providers(url: str) -> None:
    execute(url, "CREATE TABLE providers (name text PRIMARY KEY, api_key text, base_url text, "
                 "max_tokens integer, refresh_token text, blob text)")
    execute(url, "INSERT INTO providers VALUES ('openai', %s, 'https://api.openai.com', 4096, %s, 'b-1')"
            .replace("%s", "?" if url.startswith("sqlite") else "%s"), [SECRET, TOKEN])


def repository_text(repo: Path) -> str:
    return "\n".join(p.read_text() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts
                     and ".configsync" not in p.parts)


def test_init_marks_secret_columns_by_name_and_writes_no_value(db_url: str, tmp_path: Path) -> None:
    providers(db_url)
    repo = new_repo(tmp_path / "repo")
    result = run(repo, "init", "--tables", "providers", database=db_url)
    assert result.code == 0, result.text
    config = (repo / "configsync.yaml").read_text()
    assert "secret: [api_key, refresh_token]" in config
    assert "Secret (never read, never in files): providers: api_key, refresh_token" in result.out
    text = repository_text(repo)
    assert SECRET not in text and TOKEN not in text
    record = (repo / "config-snapshots/providers/openai.yaml").read_text()
    assert "max_tokens: 4096" in record and "base_url:" in record  # counts and URLs are config, not secrets
    assert run(repo, "validate").code == 0


def test_the_guess_can_be_turned_off_and_columns_named(db_url: str, tmp_path: Path) -> None:
    providers(db_url)
    repo = new_repo(tmp_path / "repo")
    result = run(repo, "init", "--tables", "providers", "--no-secret-guess", "--secret", "providers.blob",
                 database=db_url)
    assert result.code == 0, result.text
    assert "secret: [blob]" in (repo / "configsync.yaml").read_text()
    assert SECRET in (repo / "config-snapshots/providers/openai.yaml").read_text()  # asked for


@pytest.mark.parametrize(("named", "message"), [
    ("providers.nope", "--secret providers.nope: table providers has no column nope"),
    ("nope", "--secret nope: any table being adopted has no column nope"),
    ("providers.name", "--secret providers.name: name names the rows of providers (its key)"),
])
def test_a_bad_secret_option_is_refused_and_writes_nothing(
        db_url: str, tmp_path: Path, named: str, message: str) -> None:
    providers(db_url)
    repo = new_repo(tmp_path / "repo")
    result = run(repo, "init", "--tables", "providers", "--secret", named, database=db_url)
    assert result.code == 1 and message in result.err and "Traceback" not in result.text
    assert not (repo / "configsync.yaml").exists()


@pytest.mark.postgres
def test_a_column_comment_can_say_secret(pg_url: str, tmp_path: Path) -> None:
    providers(pg_url)
    execute(pg_url, "COMMENT ON COLUMN providers.blob IS 'the webhook signing secret'")
    repo = new_repo(tmp_path / "repo")
    assert run(repo, "init", "--tables", "providers", database=pg_url).code == 0
    assert "secret: [api_key, refresh_token, blob]" in (repo / "configsync.yaml").read_text()


@pytest.mark.parametrize(("name", "secret"), [
    ("api_key", True), ("apiKey", True), ("openai_api_key", True), ("private_key", True), ("webhookKey", True),
    ("stripe_secret", True), ("access_token", True), ("token", True), ("password_hash", True), ("salt", True),
    ("config_key", False), ("keyboard", False), ("monkey", False), ("max_tokens", False), ("token_limit", False),
    ("tokens_used", False), ("description", False), ("name", False),
])
def test_which_names_look_secret(name: str, secret: bool) -> None:
    assert looks_secret(Column(name, "text", "text", True, False)) is secret, words(name)


def test_init_from_a_backup_marks_secrets_too(tmp_path: Path) -> None:
    backup = tmp_path / "backup.json"
    backup.write_text('{"providers": [{"name": "openai", "api_key": "' + SECRET + '", "max_tokens": 4096}]}')
    repo = new_repo(tmp_path / "repo")
    result = run(repo, "init", "--from-backup", str(backup))
    assert result.code == 0, result.text
    assert "secret: [api_key]" in (repo / "configsync.yaml").read_text()
    assert SECRET not in repository_text(repo) and "api_key" not in (repo / "schemas/providers.schema.json").read_text()
    assert run(repo, "validate").code == 0
