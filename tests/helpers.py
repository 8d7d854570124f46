"""Shared test helpers: config repositories, git commits, CLI calls, DB reads."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import psycopg
import pygit2
from click.testing import CliRunner

from configsync.cli import cli

ROOT = Path(__file__).resolve().parent.parent
MOOSE = ROOT / "examples" / "moose"
SIGNATURE = pygit2.Signature("Test Author", "test@example.com")


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


def head(path: Path) -> str:
    return str(pygit2.Repository(str(path)).head.target)


def is_clean(path: Path) -> bool:
    repo = pygit2.Repository(str(path))
    return not {p: f for p, f in repo.status().items() if not f & pygit2.enums.FileStatus.IGNORED}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_moose(db: Path, seed: bool = True) -> str:
    conn = sqlite3.connect(db)
    conn.executescript((MOOSE / "schema.sqlite.sql").read_text())
    if seed:
        conn.executescript((MOOSE / "seed.sqlite.sql").read_text())
    conn.commit()
    conn.close()
    return sqlite_url(db)


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
