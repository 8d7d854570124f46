"""A read that cannot see every row never becomes a deletion.

Row level security that applies to the connected role (RLS enabled; the role
neither a superuser, nor BYPASSRLS, nor the owner of a table without FORCE)
is a refusal of every command that reads rows, unless a permissive SELECT
policy USING (true) shows the role every row or configsync.yaml says so
(`rls: all-rows-visible`). And snapshot, like apply, refuses to remove every
file of a table, or a large share, without --allow-mass-delete.
"""
from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pygit2
import pytest
from configsync.backends.base import Column, RowSecurity, TableInfo
from configsync.sides import row_security_refusal
from helpers import commit_all, head, init_repo, is_clean, permissive_repo, record_files, run

FLAGS = """
    CREATE TABLE flags (name text PRIMARY KEY, enabled boolean NOT NULL);
    INSERT INTO flags VALUES ('checkout', true), ('search', false), ('internal-beta', true);
    ALTER TABLE flags ENABLE ROW LEVEL SECURITY;
"""
FLAGS_CONFIG = "tables:\n  flags:\n    key: name\n"


def sql(url: str, script: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]


def rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM flags ORDER BY name").fetchall()


@contextmanager
def role(url: str, options: str = "") -> Iterator[tuple[str, str]]:
    """A login role that may SELECT (and write) the tables; yields (name, URL)."""
    name = f"cs_reader_{uuid.uuid4().hex[:8]}"
    sql(url, f"CREATE ROLE {name} LOGIN {options}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "
             f"public TO {name}; GRANT CREATE ON SCHEMA public TO {name}")
    parts = urlsplit(url)
    try:
        yield name, urlunsplit(parts._replace(netloc=name + "@" + parts.netloc.rpartition("@")[2]))
    finally:
        sql(url, f"DROP OWNED BY {name}; DROP ROLE {name}")


def adopted(tmp_path: Path, url: str, script: str = FLAGS) -> Path:
    """``script`` run as the owner, then the table adopted by the owner, committed."""
    sql(url, script)
    repo = permissive_repo(tmp_path / "repo", FLAGS_CONFIG, ["flags"], "configsync.yaml")
    assert run(repo, "snapshot", database=url).code == 2
    commit_all(repo, "adopt flags")
    return repo


def refused(result: object, table: str = "flags") -> None:
    text = result.text  # type: ignore[attr-defined]
    assert result.code == 1, text  # type: ignore[attr-defined]
    assert "row level security" in text and f"{table}:" in text, text
    assert f"tables.{table}.rls: all-rows-visible" in text and "Traceback" not in text, text


# ---- PostgreSQL ------------------------------------------------------------------------------


def test_a_role_that_rls_hides_rows_from_is_refused_by_every_command(tmp_path: Path, pg_url: str) -> None:
    repo = adopted(tmp_path, pg_url, FLAGS + "CREATE POLICY visible ON flags FOR SELECT USING (name NOT LIKE 'internal-%');")
    files, before = record_files(repo), rows(pg_url)
    (repo / "config-snapshots/flags/search.yaml").write_text("name: search\nenabled: true\n")
    commit_all(repo, "turn search on")
    with role(pg_url) as (name, reader):
        # a plan saved while the table had no row level security yet
        sql(pg_url, "ALTER TABLE flags DISABLE ROW LEVEL SECURITY")
        assert run(repo, "plan", "--out", str(tmp_path / "plan.json"), database=reader).code == 2
        sql(pg_url, "ALTER TABLE flags ENABLE ROW LEVEL SECURITY")
        for command in (["snapshot"], ["snapshot", "--commit"], ["plan"], ["status"], ["apply", "--yes"],
                        ["apply", "--yes", str(tmp_path / "plan.json")]):
            result = run(repo, *command, database=reader)
            refused(result)
            assert f"applies to role {name}" in result.text, result.text
            assert f'CREATE POLICY configsync_read ON "flags" AS PERMISSIVE FOR SELECT TO "{name}" USING (true);' \
                in result.text
    assert {p: d for p, d in record_files(repo).items() if p != "flags/search.yaml"} == \
        {p: d for p, d in files.items() if p != "flags/search.yaml"}
    assert is_clean(repo) and rows(pg_url) == before


def test_rls_without_any_policy_hides_every_row_and_deletes_no_file(tmp_path: Path, pg_url: str) -> None:
    """The issue's case: the reader sees an empty table; snapshot used to remove every file."""
    repo = adopted(tmp_path, pg_url)
    files = record_files(repo)
    with role(pg_url) as (_, reader):
        refused(run(repo, "snapshot", database=reader))
        refused(run(repo, "status", database=reader))
    assert record_files(repo) == files and is_clean(repo)


def test_a_permissive_select_policy_using_true_lets_the_role_read(tmp_path: Path, pg_url: str) -> None:
    repo = adopted(tmp_path, pg_url)
    with role(pg_url) as (name, reader):
        sql(pg_url, f"CREATE POLICY configsync_read ON flags AS PERMISSIVE FOR SELECT TO {name} USING (true)")
        assert run(repo, "snapshot", database=reader).code == 0
        assert run(repo, "plan", database=reader).code == 0
        assert run(repo, "status", database=reader).code == 0
        # a restrictive policy narrows it again
        sql(pg_url, f"CREATE POLICY only_on ON flags AS RESTRICTIVE FOR SELECT TO {name} USING (enabled)")
        refused(run(repo, "plan", database=reader))
        sql(pg_url, "DROP POLICY only_on ON flags")
        # a policy for another role shows this one nothing
        sql(pg_url, "DROP POLICY configsync_read ON flags; CREATE POLICY for_postgres ON flags FOR SELECT "
                    "TO postgres USING (true)")
        refused(run(repo, "plan", database=reader))
        # PUBLIC, and FOR ALL, count
        sql(pg_url, "CREATE POLICY everyone ON flags FOR ALL USING (true)")
        assert run(repo, "plan", database=reader).code == 0


def test_the_owner_without_force_and_bypassrls_are_not_refused(tmp_path: Path, pg_url: str) -> None:
    repo = adopted(tmp_path, pg_url)
    with role(pg_url, "BYPASSRLS") as (_, bypass):
        assert run(repo, "plan", database=bypass).code == 0
    with role(pg_url) as (name, owner):
        sql(pg_url, f"ALTER TABLE flags OWNER TO {name}")
        assert run(repo, "plan", database=owner).code == 0
        assert run(repo, "snapshot", database=owner).code == 0
        sql(pg_url, "ALTER TABLE flags FORCE ROW LEVEL SECURITY")
        refused(run(repo, "plan", database=owner))
        sql(pg_url, "ALTER TABLE flags OWNER TO postgres")


def test_the_user_may_state_that_the_policies_show_every_row(tmp_path: Path, pg_url: str) -> None:
    """A policy that shows every row but is not literally USING (true): refused until
    configsync.yaml says `rls: all-rows-visible` for the table."""
    repo = adopted(tmp_path, pg_url, FLAGS + "CREATE POLICY all_flags ON flags FOR SELECT USING (enabled OR NOT enabled);")
    with role(pg_url) as (_, reader):
        refused(run(repo, "plan", database=reader))
        (repo / "configsync.yaml").write_text(FLAGS_CONFIG + "    rls: all-rows-visible\n")
        commit_all(repo, "the policies show every flag")
        assert run(repo, "plan", database=reader).code == 0
        assert run(repo, "snapshot", database=reader).code == 0


def test_a_wrong_rls_setting_names_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    init_repo(repo, config=FLAGS_CONFIG + "    rls: off\n", schemas=False)
    result = run(repo, "validate")
    assert result.code == 1 and "tables.flags.rls" in result.err and "all-rows-visible" in result.err, result.text


def test_init_by_a_role_rls_hides_rows_from_writes_nothing(tmp_path: Path, pg_url: str) -> None:
    sql(pg_url, FLAGS)
    repo = tmp_path / "repo"
    repo.mkdir()
    pygit2.init_repository(str(repo), initial_head="main")
    with role(pg_url) as (_, reader):
        result = run(repo, "init", "--database", reader, "--tables", "flags")
    assert result.code == 1 and "row level security" in result.text, result.text
    assert sorted(p.name for p in repo.iterdir()) == [".git"]


def test_the_refusal_over_rest_names_the_keys_role() -> None:
    """PostgREST's description says nothing of row level security: a key other
    than the service role's may be shown part of a table."""
    info = TableInfo("flags", (Column("name", "text", "text"),), ("name",),
                     row_security=RowSecurity("configsync_reader", enabled=None, applies=None))
    message = row_security_refusal({"flags": info}, lambda table: False)
    assert message is not None
    assert "flags: the REST API does not say whether row level security is enabled, and the key's role " \
           "configsync_reader is not service_role" in message
    assert "the service-role key" in message and "tables.flags.rls: all-rows-visible" in message
    assert row_security_refusal({"flags": info}, lambda table: True) is None
    unknown = TableInfo("flags", info.columns, ("name",), row_security=RowSecurity("", enabled=None, applies=None))
    assert "the key is not known to be service_role" in (row_security_refusal({"flags": unknown}, lambda t: False) or "")
    assert row_security_refusal({"flags": TableInfo("flags", info.columns, ("name",))}, lambda table: False) is None


# ---- snapshot's mass deletion --------------------------------------------------------------


def sqlite_flags(tmp_path: Path, count: int) -> tuple[Path, str]:
    db = tmp_path / "flags.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE flags (name TEXT PRIMARY KEY, enabled INTEGER NOT NULL)")
        conn.executemany("INSERT INTO flags VALUES (?, 1)", [(f"f{i:02}",) for i in range(count)])
    url = f"sqlite:///{db}"
    repo = permissive_repo(tmp_path / "repo", FLAGS_CONFIG, ["flags"], "configsync.yaml")
    assert run(repo, "snapshot", database=url).code == 2
    commit_all(repo, "adopt flags")
    return repo, url


def delete(url: str, where: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute(f"DELETE FROM flags WHERE {where}")


@pytest.mark.parametrize("commit", [False, True])
def test_snapshot_refuses_to_remove_every_file_of_a_table(tmp_path: Path, commit: bool) -> None:
    repo, url = sqlite_flags(tmp_path, 3)
    files, before = record_files(repo), head(repo)
    delete(url, "1 = 1")
    args = ["snapshot", "--commit"] if commit else ["snapshot"]
    result = run(repo, *args, database=url)
    assert result.code == 1, result.text
    assert "flags: would remove all 3 files" in result.err and "--allow-mass-delete" in result.err, result.text
    assert record_files(repo) == files and head(repo) == before and is_clean(repo)
    result = run(repo, *args, "--allow-mass-delete", database=url)
    assert result.code == 2 and "flags 3 removed" in result.out, result.text
    assert record_files(repo) == {}


def test_snapshot_refuses_to_remove_more_than_the_share(tmp_path: Path) -> None:
    repo, url = sqlite_flags(tmp_path, 10)
    files = record_files(repo)
    delete(url, "name IN ('f00', 'f01', 'f02', 'f03')")
    result = run(repo, "snapshot", database=url)
    assert result.code == 1 and "flags: would remove 4 of 10 files (more than 30%)" in result.err, result.text
    assert record_files(repo) == files
    # 3 of 10 is not more than 30%: an ordinary drift
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("INSERT INTO flags VALUES ('f00', 1)")
    result = run(repo, "snapshot", database=url)
    assert result.code == 2 and "flags 3 removed" in result.out, result.text
