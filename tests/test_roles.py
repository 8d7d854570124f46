"""Least privilege in the database: `configsync roles` prints the SQL of a
reader role (plans; no secret column) and a writer role (apply; only what it
needs), and configsync works as either: run the SQL as the owner, connect as
a login role that has one of them, and plan, status, snapshot, apply and
rollback work, while reading a secret column, another table or dropping a
table is refused by PostgreSQL.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from configsync.roles import ManagedTable, RoleNames, roles_sql
from helpers import commit_all, permissive_repo, record_files, run

SCHEMA = """
    CREATE TABLE flags (name text PRIMARY KEY, enabled boolean NOT NULL, api_key text);
    INSERT INTO flags VALUES ('checkout', true, 'sk-live-checkout'), ('search', false, 'sk-live-search');
    ALTER TABLE flags ENABLE ROW LEVEL SECURITY;
    CREATE TABLE limits (id serial PRIMARY KEY, name text NOT NULL UNIQUE, amount integer NOT NULL,
                         updated_at timestamptz NOT NULL DEFAULT now(),
                         doubled integer GENERATED ALWAYS AS (amount * 2) STORED);
    INSERT INTO limits (name, amount) VALUES ('daily', 50), ('monthly', 900);
    CREATE TABLE payroll (who text PRIMARY KEY, salary integer);
    INSERT INTO payroll VALUES ('ceo', 1000000);
"""
CONFIG = """\
tables:
  flags:
    key: name
    secret: [api_key]
  limits:
    key: name
    exclude: [updated_at]
"""
SECRET_VALUES = ("sk-live-checkout", "sk-live-search")


def sql(url: str, script: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]


def as_role(url: str, name: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{name}:{url_quote(password, safe='')}@{host}"))


@dataclass
class Logins:
    reader_role: str
    writer_role: str
    reader: str  # URL of a login role granted the reader role
    writer: str  # ... the writer role


@contextmanager
def logins(url: str) -> Iterator[Logins]:
    """Role names unique to this test (roles are cluster-wide): two group roles
    for the SQL to create, and a login role with a password in each."""
    tag = uuid.uuid4().hex[:8]
    groups = (f"cs_reader_{tag}", f"cs_writer_{tag}")
    users = (f"cs_plan_{tag}", f"cs_apply_{tag}")
    try:
        yield Logins(*groups, as_role(url, users[0], "plan-pw"), as_role(url, users[1], "apply-pw"))
    finally:
        for role in (*users, *groups):
            sql(url, f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
                     f"EXECUTE 'DROP OWNED BY {role}; DROP ROLE {role}'; END IF; END $$")


def grant_logins(url: str, roles: Logins) -> None:
    tag = roles.reader_role.rpartition("_")[2]
    sql(url, f"CREATE ROLE cs_plan_{tag} LOGIN PASSWORD 'plan-pw' IN ROLE {roles.reader_role}; "
             f"CREATE ROLE cs_apply_{tag} LOGIN PASSWORD 'apply-pw' IN ROLE {roles.writer_role}")


def adopted(tmp_path: Path, url: str) -> Path:
    """The tables adopted by their owner, committed."""
    sql(url, SCHEMA)
    repo = permissive_repo(tmp_path / "repo", CONFIG, ["flags", "limits"], "configsync.yaml")
    assert run(repo, "snapshot", database=url).code == 2
    commit_all(repo, "adopt")
    return repo


def roles_for(repo: Path, url: str, roles: Logins) -> str:
    result = run(repo, "roles", "--reader", roles.reader_role, "--writer", roles.writer_role, database=url)
    assert result.code == 0, result.text
    return result.out


def denied(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def setup(tmp_path: Path, pg_url: str) -> Iterator[tuple[Path, Logins]]:
    repo = adopted(tmp_path, pg_url)
    with logins(pg_url) as roles:
        sql(pg_url, roles_for(repo, pg_url, roles))
        grant_logins(pg_url, roles)
        yield repo, roles


# ---- the reader ------------------------------------------------------------------------------


def test_the_reader_plans_with_rls_and_a_secret_column_it_cannot_read(
        setup: tuple[Path, Logins], pg_url: str) -> None:
    repo, roles = setup
    result = run(repo, "plan", database=roles.reader)
    assert result.code == 0, result.text
    assert run(repo, "status", database=roles.reader).code in (0, 2)
    assert run(repo, "snapshot", database=roles.reader).code == 0
    flag = repo / "config-snapshots/flags/search.yaml"
    flag.write_text(flag.read_text().replace("enabled: false", "enabled: true"))
    limit = repo / "config-snapshots/limits/daily.yaml"
    limit.write_text(limit.read_text().replace("amount: 50", "amount: 40"))
    commit_all(repo, "turn search on, lower the daily limit")
    result = run(repo, "plan", database=roles.reader)
    assert result.code == 2, result.text
    assert "search" in result.out and "daily" in result.out
    assert not any(secret in result.text for secret in SECRET_VALUES)
    # PostgreSQL itself refuses the secret column, the excluded and the generated
    # ones, another table, and any write
    for statement in ("SELECT api_key FROM flags", "SELECT * FROM flags", "SELECT updated_at FROM limits",
                      "SELECT doubled FROM limits", "SELECT * FROM payroll",
                      "UPDATE flags SET enabled = true", "DELETE FROM limits",
                      "INSERT INTO configsync_history (revision) VALUES ('x')"):
        denied(roles.reader, statement)


def test_the_digest_reads_only_the_readable_columns(setup: tuple[Path, Logins], pg_url: str) -> None:
    """A second plan skips unchanged tables by their digest (the .configsync
    cache): that digest, too, is over the columns the reader may read."""
    repo, roles = setup
    assert run(repo, "plan", database=roles.reader).code == 0
    result = run(repo, "plan", database=roles.reader)
    assert result.code == 0, result.text
    # a change to the secret column is not drift, nor is one to an excluded column
    sql(pg_url, "UPDATE flags SET api_key = 'sk-live-rotated'; UPDATE limits SET updated_at = now() - interval '1 day'")
    result = run(repo, "plan", database=roles.reader)
    assert result.code == 0, result.text


def test_a_reader_without_the_policy_is_refused_not_shown_part_of_a_table(
        setup: tuple[Path, Logins], pg_url: str) -> None:
    repo, roles = setup
    files = record_files(repo)
    sql(pg_url, f'DROP POLICY "{roles.reader_role}_all_rows" ON flags')
    for command in (["plan"], ["status"], ["snapshot"]):
        result = run(repo, *command, database=roles.reader)
        assert result.code == 1, result.text
        assert "row level security" in result.text and "flags:" in result.text, result.text
        assert "Traceback" not in result.text
    assert record_files(repo) == files


# ---- the writer ------------------------------------------------------------------------------


def rows(url: str, table: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # type: ignore[arg-type]


def test_the_writer_applies_and_rolls_back_and_can_do_nothing_else(
        setup: tuple[Path, Logins], pg_url: str) -> None:
    repo, roles = setup
    secrets_before = rows(pg_url, "flags")
    # an update, a delete and a create in each table: a create without an id
    # takes one from the serial's sequence
    snap = repo / "config-snapshots"
    flag = snap / "flags/search.yaml"
    flag.write_text(flag.read_text().replace("enabled: false", "enabled: true"))
    (snap / "flags/beta.yaml").write_text("name: beta\nenabled: false\n")
    (snap / "limits/monthly.yaml").unlink()
    (snap / "limits/weekly.yaml").write_text("name: weekly\namount: 300\n")
    daily = snap / "limits/daily.yaml"
    daily.write_text(daily.read_text().replace("amount: 50", "amount: 40"))
    change = commit_all(repo, "four changes")
    # as the Supabase apply function's migration leaves it: the policies let both roles through
    sql(pg_url, "ALTER TABLE configsync_history ENABLE ROW LEVEL SECURITY")
    result = run(repo, "apply", "--yes", database=roles.writer)
    assert result.code == 0, result.text
    result = run(repo, "status", database=roles.reader)
    assert result.code == 0 and change[:7] in result.out, result.text  # the reader sees the history
    assert ("search", True, "sk-live-search") in rows(pg_url, "flags")
    assert ("beta", False, None) in rows(pg_url, "flags")
    assert [r[1:3] for r in rows(pg_url, "limits")] == [("daily", 40), ("weekly", 300)]
    assert run(repo, "plan", database=roles.writer).code == 0
    # the rollback restores monthly with its id: the writer advances the sequence
    result = run(repo, "rollback", change, "--yes", database=roles.writer)
    assert result.code == 0, result.text
    assert rows(pg_url, "flags") == secrets_before
    assert [r[:3] for r in rows(pg_url, "limits")] == [(1, "daily", 50), (2, "monthly", 900)]
    with psycopg.connect(pg_url) as conn:  # and the sequence moved past it
        assert conn.execute("SELECT last_value FROM limits_id_seq").fetchone() >= (3,)
    assert run(repo, "plan", database=roles.reader).code == 0
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM configsync_history").fetchone() == (2,)
    for statement in ("SELECT api_key FROM flags", "UPDATE flags SET api_key = 'x'",
                      "INSERT INTO flags (name, enabled, api_key) VALUES ('x', true, 'x')",
                      "SELECT * FROM payroll", "DELETE FROM payroll", "DROP TABLE flags",
                      "TRUNCATE limits", "ALTER TABLE flags DISABLE ROW LEVEL SECURITY",
                      "CREATE TABLE public.mine (x int)", "DELETE FROM configsync_history",
                      "UPDATE limits SET updated_at = now()"):
        denied(roles.writer, statement)


def test_the_writer_needs_no_create_privilege_for_the_history_table(
        setup: tuple[Path, Logins], pg_url: str) -> None:
    """The roles SQL creates the history table; apply does not try to (PostgreSQL
    checks CREATE on the schema even for CREATE TABLE IF NOT EXISTS)."""
    repo, roles = setup
    sql(pg_url, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    result = run(repo, "apply", "--yes", database=roles.writer)
    assert result.code == 0, result.text


# ---- the SQL ---------------------------------------------------------------------------------


def test_the_sql_can_be_run_again_and_follows_configsync_yaml(
        setup: tuple[Path, Logins], pg_url: str) -> None:
    """Idempotent, and it takes back what it no longer grants: a column made
    secret after the first run is no longer readable."""
    repo, roles = setup
    (repo / "configsync.yaml").write_text(CONFIG.replace("secret: [api_key]", "secret: [api_key, enabled]"))
    for path in (repo / "config-snapshots/flags").glob("*.yaml"):
        path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith("enabled:")))
    commit_all(repo, "enabled is secret")
    assert run(repo, "plan", database=roles.reader).code == 0  # not yet re-run: it still may read it
    sql(pg_url, roles_for(repo, pg_url, roles))
    sql(pg_url, roles_for(repo, pg_url, roles))
    denied(roles.reader, "SELECT enabled FROM flags")
    denied(roles.writer, "SELECT enabled FROM flags")
    assert run(repo, "plan", database=roles.reader).code == 0


def test_a_misspelt_secret_column_grants_nothing(tmp_path: Path, pg_url: str) -> None:
    repo = adopted(tmp_path, pg_url)
    (repo / "configsync.yaml").write_text(CONFIG.replace("secret: [api_key]", "secret: [apikey]"))
    result = run(repo, "roles", database=pg_url)
    assert result.code == 1 and result.out == "", result.text
    assert "tables.flags.secret" in result.text and "'apikey'" in result.text


@pytest.mark.parametrize("name", ["", "pg_reader", "public", "x" * 64])
def test_a_bad_role_name_is_refused_before_connecting(tmp_path: Path, name: str) -> None:
    repo = permissive_repo(tmp_path / "repo", CONFIG, ["flags", "limits"], "configsync.yaml")
    result = run(repo, "roles", "--reader", name, database="postgresql://nobody@127.0.0.1:9/none")
    assert result.code == 1, result.text
    assert "--reader" in result.text and "Traceback" not in result.text


ODD_TABLE = 'Odd "Table"'
ODD = '''
    CREATE SCHEMA "Conf ""Schema""";
    CREATE TABLE "Conf ""Schema"""."Odd ""Table""" ("Key" text PRIMARY KEY, "Val'ue" integer, "Sec""ret" text);
    INSERT INTO "Conf ""Schema"""."Odd ""Table""" VALUES ('a', 1, 's3cret');
    ALTER TABLE "Conf ""Schema"""."Odd ""Table""" ENABLE ROW LEVEL SECURITY;
'''


def test_every_identifier_is_quoted(pg_url: str) -> None:
    """Mixed case, quotes and a schema: the SQL runs and grants what it says."""
    sql(pg_url, ODD)
    table = ManagedTable(f'Conf "Schema".{ODD_TABLE}', ("Key", "Val'ue"), ("Key",), ('Sec"ret',), True)
    with logins(pg_url) as roles:
        names = RoleNames(roles.reader_role + 'R"', roles.writer_role + "W'")
        text = roles_sql([table], 'Conf "Schema".Hist"ory', names)
        assert '"Conf ""Schema"""."Odd ""Table"""' in text and '("Key", "Val\'ue")' in text
        sql(pg_url, text)
        sql(pg_url, text)
        with psycopg.connect(pg_url) as conn:
            def can(role: str, column: str, privilege: str) -> bool:
                found = conn.execute("SELECT has_column_privilege(%s, %s, %s, %s)",
                                     [role, '"Conf ""Schema"""."Odd ""Table"""', column, privilege]).fetchone()
                return bool(found and found[0])

            assert can(names.reader, "Key", "SELECT") and can(names.reader, "Val'ue", "SELECT")
            assert not can(names.reader, 'Sec"ret', "SELECT") and not can(names.writer, 'Sec"ret', "SELECT")
            assert can(names.writer, "Val'ue", "UPDATE") and not can(names.writer, "Key", "UPDATE")
            policies = conn.execute("SELECT polrelid::regclass::text, polname FROM pg_policy ORDER BY 1, 2").fetchall()
            assert policies == [(table, policy) for table in ('"Conf ""Schema"""."Hist""ory"',
                                                              '"Conf ""Schema"""."Odd ""Table"""')
                                for policy in (names.reader + "_all_rows", names.writer + "_all_rows")]
            found = conn.execute("SELECT to_regclass(%s)", ['"Conf ""Schema"""."Hist""ory"']).fetchone()
            assert found is not None and found[0] is not None
            sql(pg_url, f'DROP OWNED BY "{names.reader.replace(chr(34), chr(34) * 2)}"; '
                        f'DROP ROLE "{names.reader.replace(chr(34), chr(34) * 2)}"; '
                        f'DROP OWNED BY "{names.writer}"; DROP ROLE "{names.writer}"')


SUPABASE_ROLES = """
DO $$ BEGIN
  CREATE ROLE anon NOLOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE authenticated NOLOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated;
"""


def test_supabase_migration_writes_the_roles_as_their_own_file(tmp_path: Path, pg_url: str) -> None:
    """What a Supabase project grants by default (anon and authenticated get every
    new table in public) does not reach the history table the migration creates."""
    repo = adopted(tmp_path, pg_url)
    sql(pg_url, SUPABASE_ROLES)
    folder = repo / "supabase/migrations"
    with logins(pg_url) as roles:
        args = ["supabase", "migration", "--roles", "--reader", roles.reader_role, "--writer", roles.writer_role,
                "--write", str(folder)]
        result = run(repo, *args, database=pg_url)
        assert result.code == 0, result.text
        (written,) = folder.glob("*_configsync_roles.sql")
        text = written.read_text()
        assert "service_role" in text and f'CREATE POLICY "{roles.reader_role}_all_rows" ON "public"."flags"' in text
        assert run(repo, *args, database=pg_url).out.endswith("is up to date.\n")
        sql(pg_url, text)
        grant_logins(pg_url, roles)
        with psycopg.connect(pg_url) as conn:
            for role in ("anon", "authenticated"):
                found = conn.execute("SELECT has_table_privilege(%s, 'configsync_history', 'SELECT, INSERT')",
                                     [role]).fetchone()
                assert found == (False,), role
        assert run(repo, "plan", database=roles.reader).code == 0
        assert run(repo, "apply", "--yes", database=roles.writer).code == 0
        assert run(repo, "status", database=roles.reader).code == 0
    # the function's migration is still the default, and its own file
    assert run(repo, "supabase", "migration", "--write", str(folder)).code == 0
    assert len(list(folder.glob("*_configsync_apply.sql"))) == 1


def test_a_line_break_in_a_name_cannot_end_a_comment() -> None:
    table = ManagedTable("t\nDROP TABLE x; --", ("a\nb",), ("a\nb",), ("s\nDROP TABLE y;",), False)
    text = roles_sql([table], "configsync_history")
    assert "-- t\\nDROP TABLE x; --: no privilege on s\\nDROP TABLE y;\n" in text, text
    assert "\nDROP TABLE y;" not in text
    assert '"t\nDROP TABLE x; --"' in text  # inside a quoted identifier a line break is only a character
