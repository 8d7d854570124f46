"""The known failures of the real-world corpus, one small test each, asserting the
CORRECT behaviour (DESIGN.md, "Rules that real schemas taught us").

Each is marked xfail(strict=True) with the wrong behaviour observed today: when
configsync is fixed the test passes, strict xfail turns that into a failure, and
the mark is removed. All run on PostgreSQL through the CLI, like a user.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from helpers import Result, commit_all, is_clean, new_repo, run


def adopt(tmp_path: Path, url: str, sql: str) -> Path:
    """``sql`` run in the database, then `init --all` in a new git repo, committed."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
    repo = new_repo(tmp_path / "repo")
    result = run(repo, "init", "--database", url, "--all")
    assert result.code == 0, f"init exited {result.code}: {result.text}"
    commit_all(repo, "configsync init")
    return repo


def edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / "config-snapshots" / path
    text = file.read_text()
    assert old in text, f"{old!r} not in {path}:\n{text}"
    file.write_text(text.replace(old, new, 1))


def scalar(url: str, sql: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def said(result: Result) -> str:
    return f"exit {result.code}: {result.text}"


@contextmanager
def reader_role(url: str) -> Iterator[str]:
    """A login role that can SELECT every table but is subject to row level
    security (not a superuser, not the owner, no BYPASSRLS); yields its URL."""
    role = f"rls_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN NOBYPASSRLS")  # type: ignore[arg-type]
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")  # type: ignore[arg-type]
    parts = urlsplit(url)
    try:
        yield urlunsplit(parts._replace(netloc=role + "@" + parts.netloc.rpartition("@")[2]))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")  # type: ignore[arg-type]
            conn.execute(f"DROP ROLE {role}")  # type: ignore[arg-type]


# 1 ---------------------------------------------------------------------------------------

def test_1_rls_hidden_rows_are_a_refusal_not_deletion(tmp_path: Path, pg_url: str) -> None:
    """A snapshot by a role that row level security hides rows from must refuse,
    naming row level security, and delete no file."""
    repo = adopt(tmp_path, pg_url, """
        CREATE TABLE flags (name text PRIMARY KEY, enabled boolean NOT NULL);
        INSERT INTO flags VALUES ('checkout', true), ('search', false), ('internal-beta', true);
        ALTER TABLE flags ENABLE ROW LEVEL SECURITY;
        CREATE POLICY "public flags" ON flags FOR SELECT USING (name NOT LIKE 'internal-%');
    """)
    with reader_role(pg_url) as reader:
        result = run(repo, "snapshot", database=reader)
    assert sorted(p.name for p in (repo / "config-snapshots/flags").iterdir()) == [
        "checkout.yaml", "internal-beta.yaml", "search.yaml"], f"files deleted: {said(result)}"
    assert result.code == 1 and "row level security" in result.text.lower(), said(result)


# 2 ---------------------------------------------------------------------------------------

def test_2_generated_columns_are_not_exported_and_changes_apply(tmp_path: Path, pg_url: str) -> None:
    """A GENERATED ALWAYS ... STORED column belongs to the database: not in the files;
    an edit and a create (without it) apply, and nothing is left to do."""
    repo = adopt(tmp_path, pg_url, """
        CREATE TABLE price_tiers (
            id text PRIMARY KEY, unit_amount bigint NOT NULL, quantity integer NOT NULL,
            total_amount bigint GENERATED ALWAYS AS (unit_amount * quantity) STORED);
        INSERT INTO price_tiers (id, unit_amount, quantity) VALUES ('pro', 1200, 10);
    """)
    text = (repo / "config-snapshots/price_tiers/pro.yaml").read_text()
    edit(repo, "price_tiers/pro.yaml", "quantity: 10", "quantity: 12")
    (repo / "config-snapshots/price_tiers/team.yaml").write_text("id: team\nunit_amount: 800\nquantity: 25\n")
    commit_all(repo, "more seats, a new tier")
    applied = run(repo, "apply", "--yes", database=pg_url)
    assert applied.code == 0, f"apply: {said(applied)}"
    assert scalar(pg_url, "SELECT sum(total_amount) FROM price_tiers") == 14400 + 20000
    planned = run(repo, "plan", database=pg_url)
    assert planned.code == 0, f"plan after apply: {said(planned)}"
    assert "total_amount" not in text, f"the generated column is in the file:\n{text}"


# 3 ---------------------------------------------------------------------------------------

def test_3_init_keys_by_text_unique_not_by_identity(tmp_path: Path, pg_url: str) -> None:
    """`id bigint GENERATED ALWAYS AS IDENTITY` beside `plan_key text NOT NULL UNIQUE`:
    the key is plan_key, the id is the database's, and a new file needs no id."""
    repo = adopt(tmp_path, pg_url, """
        CREATE TABLE plans (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                            plan_key text NOT NULL UNIQUE, seats integer NOT NULL);
        INSERT INTO plans (plan_key, seats) VALUES ('free', 1), ('pro', 10);
    """)
    files = sorted(p.name for p in (repo / "config-snapshots/plans").iterdir())
    (repo / "config-snapshots/plans/team.yaml").write_text("plan_key: team\nseats: 25\n")
    commit_all(repo, "a new plan")
    result = run(repo, "apply", "--yes", database=pg_url)
    assert files == ["free.yaml", "pro.yaml"], f"init named the files by another key: {files}"
    assert result.code == 0, said(result)
    assert scalar(pg_url, "SELECT seats FROM plans WHERE plan_key = 'team'") == 25


# 4 ---------------------------------------------------------------------------------------

def test_4_init_schemas_accept_init_files_with_null_elements_and_2d_arrays(tmp_path: Path, pg_url: str) -> None:
    repo = adopt(tmp_path, pg_url, """
        CREATE TABLE routes (name text PRIMARY KEY, weights integer[], matrix integer[][], tags text[]);
        INSERT INTO routes VALUES ('holes', '{1,NULL,3}', '{{1,NULL},{NULL,4}}', '{NULL,"",x}'),
                                  ('square', '{1}', '{{1,2},{3,4}}', '{a}');
    """)
    result = run(repo, "validate")
    assert result.code == 0, said(result)


# 5 ---------------------------------------------------------------------------------------

SPECIAL = {
    # case: (column type, the special value as SQL, how to read it back as text)
    "numeric_nan": ("numeric", "'NaN'", "v::text"),
    "numeric_infinity": ("numeric", "'-Infinity'", "v::text"),
    "timestamptz_infinity": ("timestamptz", "'infinity'", "v::text"),
    "jsonb_json_null_not_null_column": ("jsonb NOT NULL", "'null'", "jsonb_typeof(v)"),
    "jsonb_json_null_nullable_column": ("jsonb", "'null'", "coalesce(jsonb_typeof(v), 'SQL NULL')"),
}


@pytest.mark.parametrize("case", sorted(SPECIAL))
def test_5_special_values_round_trip(case: str, tmp_path: Path, pg_url: str, pg_copy_url: str) -> None:
    """init adopts the row; apply to an empty copy writes the same value; an edit
    of another column of it applies there; nothing is left to do."""
    kind, value, read_back = SPECIAL[case]
    ddl = f"CREATE TABLE t (name text PRIMARY KEY, note text, v {kind})"
    with psycopg.connect(pg_copy_url, autocommit=True) as conn:
        conn.execute(ddl)  # type: ignore[arg-type]
    repo = adopt(tmp_path, pg_url, f"{ddl}; INSERT INTO t VALUES ('row', 'a', {value})")
    expected = scalar(pg_url, f"SELECT {read_back} FROM t")
    result = run(repo, "apply", "--yes", database=pg_copy_url)
    assert result.code == 0, f"apply to the empty copy: {said(result)}"
    assert scalar(pg_copy_url, f"SELECT {read_back} FROM t") == expected
    edit(repo, "t/row.yaml", "note: a", "note: b")
    commit_all(repo, "an edit of another column")
    result = run(repo, "apply", "--yes", database=pg_copy_url)
    assert result.code == 0, f"apply of the edit: {said(result)}"
    assert scalar(pg_copy_url, f"SELECT {read_back} FROM t") == expected
    result = run(repo, "plan", database=pg_copy_url)
    assert result.code == 0, f"plan after apply: {said(result)}"


# 6 ---------------------------------------------------------------------------------------

def test_6_keys_differing_only_in_case_get_distinct_files(tmp_path: Path, pg_url: str) -> None:
    repo = adopt(tmp_path, pg_url, """
        CREATE TABLE toggles (name varchar(255) PRIMARY KEY, enabled boolean NOT NULL);
        INSERT INTO toggles VALUES ('Checkout', true), ('search', false);
    """)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO toggles VALUES ('checkout', false)")
    result = run(repo, "snapshot", database=pg_url)
    files = sorted(p.name for p in (repo / "config-snapshots/toggles").iterdir())
    assert result.code == 2, f"snapshot: {said(result)}"
    assert len(files) == 3 and "search.yaml" in files, f"one file per row, plain names kept where no twin: {files}"
    commit_all(repo, "snapshot")
    result = run(repo, "plan", database=pg_url)
    assert result.code == 0, f"plan after snapshot: {said(result)}"


# 7 ---------------------------------------------------------------------------------------

CONVERGE = {
    # case: (DDL + seed, file, old text, new text, a new file or None)
    "trigger_maintained_column": (
        """CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN NEW.modified = now(); RETURN NEW; END $$;
           CREATE TABLE regions (code text PRIMARY KEY, label text NOT NULL,
                                 modified timestamptz NOT NULL DEFAULT now());
           CREATE TRIGGER regions_touch BEFORE UPDATE ON regions FOR EACH ROW EXECUTE FUNCTION touch();
           INSERT INTO regions (code, label) VALUES ('eu', 'Europe');""",
        "regions/eu.yaml", "label: Europe", "label: European Union", None),
    "serial_id_left_out": (
        """CREATE TABLE regions (id serial PRIMARY KEY, code text NOT NULL UNIQUE, label text NOT NULL);
           INSERT INTO regions (code, label) VALUES ('eu', 'Europe');""",
        "regions/eu.yaml", "label: Europe", "label: European Union", ("regions/us.yaml", "code: us\nlabel: United States\n")),
    "numeric_6_2_rounds": (
        """CREATE TABLE rates (name text PRIMARY KEY, amount numeric(6,2) NOT NULL);
           INSERT INTO rates VALUES ('standard', 1.25);""",
        "rates/standard.yaml", "amount: 1.25", "amount: 1.234", None),
}


CONVERGE_OBSERVED = {
}


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=[pytest.mark.xfail(strict=True, reason=CONVERGE_OBSERVED[c])] if c in CONVERGE_OBSERVED else [])
    for c in sorted(CONVERGE)])
def test_7_apply_converges_or_fails_naming_the_column(case: str, tmp_path: Path, pg_url: str) -> None:
    """After a successful apply, plan is empty, snapshot finds no drift and leaves
    git clean; a value the database changes instead fails the apply."""
    sql, path, old, new, created = CONVERGE[case]
    repo = adopt(tmp_path, pg_url, sql)
    edit(repo, path, old, new)
    if created:
        (repo / "config-snapshots" / created[0]).write_text(created[1])
    commit_all(repo, "a change")
    applied = run(repo, "apply", "--yes", database=pg_url)
    if applied.code == 1:  # allowed: a refusal that names the column the database changed
        assert {"trigger_maintained_column": "modified", "numeric_6_2_rounds": "amount"}.get(case, "\0") in applied.text, said(applied)
        return
    assert applied.code == 0, said(applied)
    planned = run(repo, "plan", database=pg_url)
    assert planned.code == 0, f"plan after a successful apply: {said(planned)}"
    snapped = run(repo, "snapshot", database=pg_url)
    assert snapped.code == 0 and is_clean(repo), f"snapshot after a successful apply: {said(snapped)}"


# 8 ---------------------------------------------------------------------------------------

def test_8_a_narrowed_column_type_is_caught_before_apply(tmp_path: Path, pg_url: str) -> None:
    """bigint narrowed to integer by a migration: schema check reports it, and plan
    refuses 9223372036854775807 naming the file and column, before any write."""
    repo = adopt(tmp_path, pg_url, """
        CREATE TABLE quotas (name text PRIMARY KEY, max_requests bigint NOT NULL);
        INSERT INTO quotas VALUES ('free', 1000);
    """)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE quotas ALTER COLUMN max_requests TYPE integer")
    edit(repo, "quotas/free.yaml", "max_requests: 1000", "max_requests: 9223372036854775807")
    commit_all(repo, "unlimited")
    checked = run(repo, "schema", "check", database=pg_url)
    planned = run(repo, "plan", database=pg_url)
    assert checked.code == 2 and "max_requests" in checked.text, f"schema check: {said(checked)}"
    assert planned.code == 1 and "max_requests" in planned.text and "quotas/free.yaml" in planned.text, f"plan: {said(planned)}"
