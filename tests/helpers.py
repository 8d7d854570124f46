"""Shared test helpers: config repositories, git commits, CLI calls, DB reads."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pygit2
from click.testing import CliRunner
from configsync.cli import cli

ROOT = Path(__file__).resolve().parent.parent
MOOSE = ROOT / "examples" / "moose"
SIGNATURE = pygit2.Signature("Test Author", "test@example.com")
# Accepts any record: for tables where only the database's own constraints may object.
# The example's config with two environments whose URLs come from $STAGING_DB and $PRODUCTION_DB.
ENV_CONFIG = (ROOT / "configsync.yaml").read_text().replace(
    "environments:\n  production: ${SUPABASE_DB_URL}\n",
    "environments:\n  staging: ${STAGING_DB}\n  production: ${PRODUCTION_DB}\n",
)
PERMISSIVE_SCHEMA = '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}\n'


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run(repo: Path, *args: str, database: str | None = None, input: str | None = None) -> Result:
    """Run the CLI in ``repo`` like a user would (exceptions are bugs: not caught)."""
    argv = (["--database", database] if database else []) + list(args)
    runner = CliRunner()
    with chdir(repo):
        result = runner.invoke(cli, argv, input=input, catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def init_repo(path: Path, config: str | None = None, schemas: bool = True) -> pygit2.Repository:
    """A git work tree holding configsync.yaml and the Moose schemas."""
    path.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.config["user.name"] = SIGNATURE.name
    repo.config["user.email"] = SIGNATURE.email
    (path / "configsync.yaml").write_text(config if config is not None else (ROOT / "configsync.yaml").read_text())
    if schemas:
        shutil.copytree(ROOT / "schemas", path / "schemas")
    (path / ".gitignore").write_text(".configsync/\n")
    commit_all(path, "initial config")
    return repo


def new_repo(path: Path) -> Path:
    """An empty git work tree (replacing whatever was at ``path``), for `configsync init`."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.config["user.name"] = SIGNATURE.name
    repo.config["user.email"] = SIGNATURE.email
    (path / ".gitignore").write_text(".configsync/\n")
    return path


def commit_all(path: Path, message: str) -> str:
    """Stage everything (like `git add -A`) and commit; returns the commit id."""
    repo = pygit2.Repository(str(path))
    index = repo.index
    index.add_all()
    for changed, flags in repo.status().items():
        if flags & pygit2.enums.FileStatus.WT_DELETED:
            index.remove(changed)
    index.write()
    tree = index.write_tree()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", SIGNATURE, SIGNATURE, message, tree, parents))


def permissive_repo(path: Path, config: str, tables: Sequence[str], message: str) -> Path:
    """A config repository for ``tables`` whose schemas accept any record."""
    init_repo(path, config=config, schemas=False)
    (path / "schemas").mkdir()
    for table in tables:
        (path / f"schemas/{table}.schema.json").write_text(PERMISSIVE_SCHEMA)
    commit_all(path, message)
    return path


def record_files(repo: Path) -> dict[str, bytes]:
    root = repo / "config-snapshots"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.yaml"))}


def three_changes(repo: Path, new_name: str, *edits: tuple[str, str], message: str = "three changes") -> None:
    """Commit an update (budget_limits), a delete (orchestrator_enabled) and a create:
    gpt-4o-mini copied as ``new_name``, with ``edits`` made to the copy. An apply
    runs creates after updates and deletes, so the new row is its last statement."""
    snap = repo / "config-snapshots"
    budget = snap / "system_config/budget_limits.yaml"
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    (snap / "system_config/orchestrator_enabled.yaml").unlink()
    record = (snap / "proposer_configs/gpt-4o-mini.yaml").read_text()
    record = record.replace("name: gpt-4o-mini", f"name: {new_name}").replace("id: f4b60e1b-e375-4796-aaa6-cdcc445a05b7\n", "")
    for old, new in edits:
        record = record.replace(old, new)
    (snap / f"proposer_configs/{new_name}.yaml").write_text(record)
    commit_all(repo, message)


def three_changes_last_one_invalid(repo: Path, *edits: tuple[str, str]) -> None:
    """three_changes whose create, zz-last, the database rejects (CHECK context_limit > 0)."""
    three_changes(repo, "zz-last", *edits, ("context_limit: 128000", "context_limit: -5"),
                  message="three changes, the last one invalid for the database")
    # the schema would catch context_limit: -5; bypass it to reach the database
    (repo / "schemas/proposer_configs.schema.json").write_text(PERMISSIVE_SCHEMA)
    commit_all(repo, "loosen the schema")


def head(path: Path) -> str:
    return str(pygit2.Repository(str(path)).head.target)


def is_clean(path: Path) -> bool:
    repo = pygit2.Repository(str(path))
    return not {p: f for p, f in repo.status().items() if not f & pygit2.enums.FileStatus.IGNORED}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def two_environments(tmp_path: Path, monkeypatch: Any) -> tuple[Path, str, str]:
    """A config repository with environments staging and production, each a
    seeded Moose SQLite database (ENV_CONFIG); returns (repo, staging, production)."""
    staging = sqlite_moose(tmp_path / "staging.db")
    production = sqlite_moose(tmp_path / "production.db")
    monkeypatch.setenv("STAGING_DB", staging)
    monkeypatch.setenv("PRODUCTION_DB", production)
    repo = tmp_path / "repo"
    init_repo(repo, config=ENV_CONFIG)
    return repo, staging, production


def applied_environments(tmp_path: Path, monkeypatch: Any) -> tuple[Path, str, str]:
    """`two_environments`, snapshotted from production, with a staging overlay (a lower
    daily cap) committed and both environments applied; returns (repo, staging, production)."""
    repo, staging, production = two_environments(tmp_path, monkeypatch)
    assert run(repo, "snapshot", "--commit", "--database", production).code == 2
    overlay = repo / "config-snapshots/_environments/staging/system_config/budget_limits.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("config_key: budget_limits\nconfig_value:\n  daily_hard_cap: 10\n")
    commit_all(repo, "staging spends less")
    for env in ("staging", "production"):
        assert run(repo, "apply", "--env", env, "--yes").code == 0
    return repo, staging, production


def sqlite_moose(db: Path, seed: bool = True) -> str:
    conn = sqlite3.connect(db)
    conn.executescript((MOOSE / "schema.sqlite.sql").read_text())
    if seed:
        conn.executescript((MOOSE / "seed.sqlite.sql").read_text())
    conn.commit()
    conn.close()
    return sqlite_url(db)


def fleet_config(tenants: list[str], canary: str) -> str:
    """This repository's configsync.yaml with ``tenants`` as environments (URL_TENANT_1 ...),
    a canary group of one, and a rollout of the canary first."""
    return (ROOT / "configsync.yaml").read_text().replace(
        "environments:\n  production: ${SUPABASE_DB_URL}\n",
        "environments:\n"
        + "".join(f"  {t}: ${{URL_{t.upper().replace('-', '_')}}}\n" for t in tenants)
        + f"groups:\n  canary: [{canary}]\n"
        + 'rollout: ["@canary", "tenant-*"]\n',
    )


def postgres_moose(url: str, seed: bool = True) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((MOOSE / "schema.postgres.sql").read_text())
        if seed:
            conn.execute((MOOSE / "seed.postgres.sql").read_text())
    return url


def dump(url: str, tables: Sequence[str] = ("system_config", "proposer_configs", "contracts")) -> dict[str, list[tuple[Any, ...]]]:
    """Every row and column of ``tables``, ordered, as the driver returns them:
    the ground truth for "the database is untouched". SQLite keeps JSON as
    text, so JSON-looking text is compared parsed (whitespace is not data)."""
    result = {}
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            for table in tables:
                rows = [tuple(_json_text(v) for v in row) for row in conn.execute(f'SELECT * FROM "{table}"')]
                result[table] = sorted(rows, key=repr)
        finally:
            conn.close()
        return result
    with psycopg.connect(url) as pg:
        for table in tables:
            rows = pg.execute(f'SELECT * FROM "{table}"').fetchall()
            result[table] = sorted(rows, key=repr)
    return result


def _json_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def execute(url: str, sql: str, params: Sequence[Any] = ()) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        conn.execute(sql, params)
        conn.commit()
        conn.close()
        return
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(sql, params)  # type: ignore[arg-type]
