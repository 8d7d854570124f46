"""The Supabase REST backend against a real PostgREST 12 over a throwaway PostgreSQL.

Set up like a Supabase project (tests/support/postgrest.py): Supabase's roles
and grants, HS256 keys signed here, the /rest/v1 prefix behind a small
gateway, db-max-rows = 1000. Nothing here is skipped: without the PostgREST
binary (installed by `make test`) every test fails with the install command.

PostgreSQL itself is the ground truth: rows are compared through psycopg, and
a snapshot over REST must be byte-identical to one over psycopg.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pygit2
import pytest
from configsync import values
from configsync.backends import open_backend, redact
from configsync.backends.base import HistoryEntry, Operation, ReadSpec, WriteBatch
from configsync.backends.pgcommon import LOCK_ID
from configsync.backends.supabase.backend import RestBackend
from configsync.backends.supabase.codec import parse_pg_array
from configsync.backends.supabase.settings import key_role, settings_from_url
from configsync.errors import BackendError, ConfigError, StalePlanError
from configsync.supabase_migration import migration_sql
from helpers import (
    PERMISSIVE_SCHEMA,
    Result,
    commit_all,
    dump,
    execute,
    init_repo,
    permissive_repo,
    postgres_moose,
    record_files,
    run,
    three_changes,
    three_changes_last_one_invalid,
)
from support import postgrest
from support.postgrest import PostgrestServer
from test_types import (
    ACME_EDITS,
    NEW_ROW,
    create_postgres,
    read_row,
    replace_line,
)

MOOSE_TABLES = ["system_config", "proposer_configs", "contracts"]
KEY_ENV = "SUPABASE_SERVICE_ROLE_KEY"


@dataclass
class Project:
    """A Supabase project: its database (for psycopg) and its REST API."""

    db: str
    server: PostgrestServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def gateway(self) -> postgrest.Gateway:
        assert self.server.gateway is not None
        return self.server.gateway

    def run(self, repo: Path, *args: str, database: str | None = None) -> Result:
        """The CLI against the REST API; no output ever contains a key."""
        result = run(repo, *args, database=database or self.url)
        for key in (self.server.service_key, self.server.anon_key):
            assert key not in result.text
        return result

    def snapshotted_repo(self, repo: Path) -> Path:
        """A new config repository holding a committed snapshot taken over the REST API."""
        init_repo(repo)
        self.run(repo, "snapshot", "--commit")
        return repo

    def call(self, method: str, path: str, key: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """A raw request through the gateway, as any client of the project could send."""
        conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=30)
        headers = {"apikey": key, "Authorization": f"Bearer {key}", "Content-Type": "application/json",
                   "Prefer": "count=exact"}
        conn.request(method, f"/rest/v1/{path}", body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        parsed = json.loads(data) if data else {}
        return response.status, parsed if isinstance(parsed, dict) else {"rows": parsed}


@pytest.fixture(scope="session")
def supabase_cluster(pg_server: str) -> str:
    """The session's PostgreSQL server with Supabase's roles; PostgREST must be installed."""
    try:
        postgrest.binary()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    postgrest.prepare_cluster(pg_server)
    return pg_server


def run_sql(db: str, script: str) -> None:
    """A whole SQL script, as the SQL editor or `supabase db push` would run it."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(script.encode())  # bytes: no client-side placeholders (the script has %I)


def install_migration(db: str, tables: list[str], history_table: str = "configsync_history") -> None:
    run_sql(db, migration_sql(tables, history_table))


def moose(db: str) -> None:
    """The Moose tables, seeded; row-level security on, as a Supabase project would have it."""
    postgres_moose(db)
    with psycopg.connect(db, autocommit=True) as conn:
        for table in MOOSE_TABLES:
            conn.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")


@pytest.fixture
def start_project(supabase_cluster: str, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Project]]:
    """Start a project on a fresh database: setup(db), the migration, PostgREST."""
    servers: list[PostgrestServer] = []

    def start(setup: Callable[[str], None] = moose, *, tables: list[str] | None = MOOSE_TABLES,
              max_rows: int | None = 1000) -> Project:
        postgrest.prepare_database(pg_url)
        setup(pg_url)
        if tables is not None:
            install_migration(pg_url, tables)
        server = PostgrestServer(pg_url, max_rows=max_rows)
        server.start()
        servers.append(server)
        monkeypatch.setenv(KEY_ENV, server.service_key)
        return Project(pg_url, server)

    yield start
    for server in servers:
        server.stop()


def backup_refs(repo: Path) -> list[str]:
    return [r for r in pygit2.Repository(str(repo)).references if r.startswith("refs/configsync/")]


def commit_edit(repo: Path, record: str, old: str, new: str, message: str) -> None:
    """Change one record file (config-snapshots/``record``) by hand and commit it."""
    path = repo / "config-snapshots" / record
    path.write_text(path.read_text().replace(old, new))
    commit_all(repo, message)


# ---- the core scenario ------------------------------------------------------------------


def test_end_to_end_over_rest_with_the_same_files_as_postgresql(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    """snapshot -> edit -> plan -> apply -> rollback -> no drift; out-of-band change -> drift,
    with the migration installed the way a user does it."""
    project = start_project(tables=None)
    repo = tmp_path / "repo"
    init_repo(repo)
    original = dump(project.db)

    # the migration, written by the CLI and deployed; PostgREST picks it up
    result = project.run(repo, "supabase", "migration", "--write", "supabase/migrations")
    assert result.code == 0, result.text
    (migration,) = (repo / "supabase/migrations").glob("*_configsync_apply.sql")
    for _ in range(2):  # deploying it twice is harmless
        run_sql(project.db, migration.read_text())
    project.server.reload(until=lambda spec: "/rpc/configsync_apply" in spec["paths"])
    assert project.run(repo, "supabase", "migration", "--write", "supabase/migrations").out.endswith("is up to date.\n")
    (repo / ".gitignore").write_text(".configsync/\nsupabase/\n")
    commit_all(repo, "ignore supabase/")

    # 1. snapshot over REST == snapshot over psycopg, byte for byte
    result = project.run(repo, "snapshot", "--commit")
    assert result.code == 2, result.text
    assert "Drift: system_config 6 added; proposer_configs 2 added" in result.out
    direct = tmp_path / "direct"
    init_repo(direct)
    assert run(direct, "snapshot", database=project.db).code == 2
    assert record_files(repo) == record_files(direct)
    assert len(record_files(repo)) == 8
    mini = (repo / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").read_text()
    assert "input_cost_per_token: 0.00000015\n" in mini
    assert project.run(repo, "snapshot").code == 0
    assert project.run(repo, "status").out.splitlines()[2] == "deployed  never (no apply recorded in this database)"

    # 2. edit, plan
    commit_edit(repo, "system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40",
                "lower the daily hard cap")
    result = project.run(repo, "plan")
    assert result.code == 2, result.text
    assert "config_value.daily_hard_cap: 50 -> 40" in result.out
    assert f"database {project.url} · revision" in result.out

    # 3. apply: one RPC, only that row changed, recorded in the history
    project.gateway.requests.clear()
    result = project.run(repo, "apply", "--yes")
    assert result.code == 0, result.text
    assert "Applied: 0 created, 1 updated, 0 deleted" in result.out
    writes = [r for r in project.gateway.requests if r[0] != "GET"]
    assert writes == [("POST", "/rest/v1/rpc/configsync_apply")]
    after = dump(project.db)
    assert after["proposer_configs"] == original["proposer_configs"]
    (changed,) = [r for r in after["system_config"] if r not in original["system_config"]]
    assert changed[1] == "budget_limits"
    assert project.run(repo, "plan").code == 0
    result = project.run(repo, "status")
    assert result.code == 0, result.text
    assert f"deployed  {str(pygit2.Repository(str(repo)).head.target)[:7]}" in result.out

    # 4. rollback: every column back as it was
    result = project.run(repo, "rollback", "HEAD", "--yes")
    assert result.code == 0, result.text
    assert dump(project.db) == original
    assert project.run(repo, "snapshot").code == 0

    # 5. an out-of-band change is drift
    execute(project.db, "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'gpt-4o-mini'")
    result = project.run(repo, "snapshot")
    assert result.code == 2, result.text
    assert "M config-snapshots/proposer_configs/gpt-4o-mini.yaml" in result.out
    assert run(direct, "snapshot", database=project.db).code == 2
    assert record_files(repo) == record_files(direct)


# ---- every type: the same files, exact writes ---------------------------------------------

EXTRAS_DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE extras (
    name      text PRIMARY KEY,
    mood      mood,
    moods     mood[],
    stamps    timestamptz[],
    days      date[],
    ids       uuid[],
    span      interval,
    raw       bytea,
    at_time   time,
    code      varchar(8),
    fixed     char(4),
    small     smallint,
    single    real,
    plain     json,
    local_ts  timestamp,
    nums      numeric[],
    flags     boolean[],
    texts     text[]
);
INSERT INTO extras VALUES
  ('one', 'happy', '{sad,happy}', ARRAY['2025-10-03 14:30:15.25+02', '1999-12-31 23:59:59+00']::timestamptz[],
   '{2025-10-03,1970-01-01}', '{b3e1f6d2-8c4a-4f1e-9a7b-2d5c6e7f8a90}', '1 day 02:03:04.5', '\\x00ff10',
   '12:30:00.5', 'abc', 'ab', -32768, 0.1, '{"b": 1.50, "a": [1e-7, null], "b": 2}',
   '2025-10-03 12:30:15.123', '{0.70,1e-7,12345678901234567890.5}', '{true,false,null}',
   ARRAY['a,b', 'q"uote', 'back\\slash', 'NULL', '', ' pad ', '{x}']),
  ('two', NULL, '{}', '{NULL}', NULL, '{}', '-1 mon', '\\x', NULL, '', NULL, NULL, -2.5e-30,
   '[]', NULL, NULL, '{}', '{}');
"""

TYPES_CONFIG = """\
tables:
  typed:
    filename: "{tenant}@{slot}"
  extras: {}
"""


def types_repo(path: Path) -> Path:
    return permissive_repo(path, TYPES_CONFIG, ("typed", "extras"), "typed tables")


def typed_and_extras(db: str) -> None:
    create_postgres(db)  # also sets the database's time zone to Asia/Kolkata
    run_sql(db, EXTRAS_DDL)


def test_every_type_snapshots_to_the_same_bytes_and_applies_exactly(
    tmp_path: Path, start_project: Callable[..., Project]
) -> None:
    project = start_project(typed_and_extras, tables=["typed", "extras"])
    repo, direct = types_repo(tmp_path / "rest"), types_repo(tmp_path / "direct")

    assert project.run(repo, "snapshot", "--commit").code == 2
    assert run(direct, "snapshot", database=project.db).code == 2
    rest_files, pg_files = record_files(repo), record_files(direct)
    assert sorted(rest_files) == sorted(pg_files)
    different = [n for n in rest_files if rest_files[n] != pg_files[n]]
    assert not different, "\n\n".join(
        f"{n}\n--- rest\n{rest_files[n].decode()}--- psycopg\n{pg_files[n].decode()}" for n in different)
    one = rest_files["extras/one.yaml"].decode()
    assert "- '2025-10-03 12:30:15.25+00'\n" in one  # timestamptz[] as PostgreSQL text, in UTC
    assert "local_ts: '2025-10-03T12:30:15.123'\n" in one
    assert "seen_at: '2025-10-03T12:30:15.1234+00:00'\n" in rest_files["typed/acme@1.yaml"].decode()
    result = project.run(repo, "plan")
    assert result.code == 0 and "No changes." in result.out, result.text

    # edit every type, apply over REST
    typed = repo / "config-snapshots/typed"
    for old, new in ACME_EDITS:
        replace_line(typed / "acme@1.yaml", old, new)
    nulls = typed / "acme@2.yaml"
    replace_line(nulls, "doc: null", "doc: {on: yes, n: 0.70}")
    replace_line(nulls, "amount: null", "amount: 0.70")
    (typed / "initech@7.yaml").write_text(NEW_ROW, encoding="utf-8")
    extras = repo / "config-snapshots/extras"
    one_file = extras / "one.yaml"
    replace_line(one_file, "mood: happy", "mood: ok")
    replace_line(one_file, "- sad", "- ok")
    replace_line(one_file, "- '2025-10-03 12:30:15.25+00'", "- '2026-01-02 03:04:05.5+00'")
    replace_line(one_file, "span: 1 day 02:03:04.5", "span: 2 days")
    replace_line(one_file, "local_ts: '2025-10-03T12:30:15.123'", "local_ts: '2026-01-02T03:04:05'")
    (extras / "three.yaml").write_text(
        "name: three\nmood: sad\nmoods: [ok]\nstamps: ['2026-01-02 03:04:05+00']\ndays: null\nids: null\n"
        "span: '03:00:00'\nraw: \\x0a0b\nat_time: null\ncode: null\nfixed: null\nsmall: 7\nsingle: null\n"
        "plain: {z: 1.50}\nlocal_ts: null\nnums: [0.70]\nflags: null\ntexts: ['a,b', 'NULL']\n", encoding="utf-8")
    commit_all(repo, "edit every type")
    result = project.run(repo, "plan", "--format", "json")
    assert json.loads(result.out)["summary"] == {"create": 2, "update": 3, "delete": 0, "total": 5}, result.text
    result = project.run(repo, "apply", "--yes")
    assert result.code == 0, result.text
    assert "Applied: 2 created, 3 updated, 0 deleted" in result.out
    result = project.run(repo, "plan")
    assert result.code == 0 and "No changes." in result.out, result.text
    before = record_files(repo)
    assert project.run(repo, "snapshot").code == 0
    assert record_files(repo) == before

    row = read_row(project.db, "acme", 1)
    assert str(row["amount"]) == "98765.43210"
    assert row["doc"]["exact"] == Decimal("12345678901234567890.123456788")
    assert row["big"] == 9007199254740995 and row["ratio"] == 2.5e-8 and row["qty"] is None
    assert row["seen_at"] == dt.datetime(2025, 12, 24, 17, 0, 0, 500000, tzinfo=dt.UTC)
    assert str(read_row(project.db, "acme", 2)["doc"]["n"]) == "0.70"
    assert read_row(project.db, "initech", 7)["seen_at"] == dt.datetime(2026, 1, 2, 8, 4, 5, 500, tzinfo=dt.UTC)
    with psycopg.connect(project.db) as conn:
        three = conn.execute("SELECT mood::text, moods::text, stamps, span::text, raw, plain::text, nums::text, "
                             "texts, local_ts FROM extras WHERE name = 'three'").fetchone()
        one_row = conn.execute("SELECT local_ts, stamps FROM extras WHERE name = 'one'").fetchone()
    assert three is not None and one_row is not None
    assert three[:2] == ("sad", "{ok}")
    assert three[2] == [dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)]
    assert three[3:7] == ("03:00:00", b"\n\x0b", '{"z": 1.50}', "{0.70}")
    assert three[7] == ["a,b", "NULL"]
    assert one_row[0] == dt.datetime(2026, 1, 2, 3, 4, 5)  # a timestamp without zone: taken as written (UTC)
    assert one_row[1][0] == dt.datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC)

    # and what was written reads back the same over both connections
    fresh, fresh_rest = types_repo(tmp_path / "fresh"), types_repo(tmp_path / "fresh-rest")
    assert run(fresh, "snapshot", database=project.db).code == 2
    assert project.run(fresh_rest, "snapshot").code == 2
    assert record_files(fresh) == record_files(fresh_rest)
    assert len(record_files(fresh)) == len(record_files(repo)) == 10  # 7 typed, 3 extras


# ---- reads that never miss rows --------------------------------------------------------------

BIG_CONFIG = """\
tables:
  big:
    key: id
"""


def big_table(rows: int) -> Callable[[str], None]:
    def setup(db: str) -> None:
        execute(db, "CREATE TABLE big (id integer PRIMARY KEY, label text NOT NULL)")
        execute(db, f"INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, {rows}) g")

    return setup


def big_repo(path: Path) -> Path:
    return permissive_repo(path, BIG_CONFIG, ["big"], "big")


@pytest.mark.parametrize("max_rows", [1000, 300])
def test_snapshot_never_misses_rows_beyond_the_cap(tmp_path: Path, start_project: Callable[..., Project], max_rows: int) -> None:
    """db-max-rows caps every response; 2,500 rows still all arrive, and a no-change plan deletes nothing."""
    project = start_project(big_table(2500), tables=["big"], max_rows=max_rows)
    # the cap is real: one plain request gets max_rows rows
    status, body = project.call("GET", "big?select=id", project.server.service_key)
    assert status in (200, 206) and len(body["rows"]) == max_rows

    repo = big_repo(tmp_path / "repo")
    result = project.run(repo, "snapshot", "--commit")
    assert result.code == 2, result.text
    assert "Drift: big 2500 added" in result.out
    assert len(record_files(repo)) == 2500
    pages = [r for r in project.gateway.requests if r[1].startswith("/rest/v1/big?")]
    assert len(pages) >= 2500 // max_rows + 1
    result = project.run(repo, "plan", "--format", "json")
    assert result.code == 0, result.text
    assert json.loads(result.out)["summary"] == {"create": 0, "update": 0, "delete": 0, "total": 0}
    direct = big_repo(tmp_path / "direct")
    run(direct, "snapshot", database=project.db)
    assert record_files(direct) == record_files(repo)

    # an apply checks all 2,500 rows under the function's lock, then writes one
    commit_edit(repo, "big/2500.yaml", "label: row 2500", "label: the last row", "relabel the last row")
    result = project.run(repo, "apply", "--yes")
    assert result.code == 0, result.text
    assert "Applied: 0 created, 1 updated, 0 deleted" in result.out
    with psycopg.connect(project.db) as conn:
        assert conn.execute("SELECT label FROM big WHERE id = 2500").fetchone() == ("the last row",)


AWKWARD = ["a,b", "a.b", "a:b", "(x)", 'q"uote', "back\\slash", " space", "ünï", "", "NULL", "null",
           "*", "%25", "a&b=c", "+plus", "or=(x)", "and(", "é", "Z", "z", "0", "01", "1"]


def awkward(db: str) -> None:
    execute(db, "CREATE TABLE single (k text PRIMARY KEY, v integer)")
    execute(db, "CREATE TABLE pair (k text, n integer, v integer, PRIMARY KEY (k, n))")
    with psycopg.connect(db, autocommit=True) as conn:
        for i, k in enumerate(AWKWARD):
            conn.execute("INSERT INTO single VALUES (%s, %s)", (k, i))
            for n in range(3):
                conn.execute("INSERT INTO pair VALUES (%s, %s, %s)", (k, n, i * 10 + n))


def test_keyed_pages_with_awkward_keys(start_project: Callable[..., Project]) -> None:
    """Pages of 7 rows, keys full of PostgREST's reserved characters: every row once, in key order."""
    project = start_project(awkward, tables=None, max_rows=5)
    backend = RestBackend(project.url, project.server.service_key, project.url, page_size=7)
    try:
        infos = backend.describe(["single", "pair"])
        assert infos["pair"].primary_key == ("k", "n")
        rows = backend.read([ReadSpec(infos["single"], ("k", "v"), ("k",)),
                             ReadSpec(infos["pair"], ("k", "n", "v"), ("k", "n"))])
    finally:
        backend.close()
    with psycopg.connect(project.db) as conn:
        single = conn.execute("SELECT k, v FROM single ORDER BY k").fetchall()
        pair = conn.execute("SELECT k, n, v FROM pair ORDER BY k, n").fetchall()
    assert [(r["k"], r["v"]) for r in rows["single"]] == single
    assert [(r["k"], r["n"], r["v"]) for r in rows["pair"]] == pair
    assert len(rows["pair"]) == 3 * len(AWKWARD)


def test_a_table_changing_while_read_is_read_again(start_project: Callable[..., Project]) -> None:
    project = start_project(big_table(50), tables=None)
    backend = RestBackend(project.url, project.server.service_key, project.url, page_size=10)
    inserted = threading.Event()
    original = backend.client.request

    def request(method: str, path: str, **kwargs: Any) -> Any:
        response = original(method, path, **kwargs)
        if path == "big" and not inserted.is_set():  # after the first page: a row appears ahead of the cursor
            execute(project.db, "INSERT INTO big VALUES (51, 'late')")
            inserted.set()
        return response

    backend.client.request = request  # type: ignore[method-assign]
    try:
        info = backend.describe(["big"])["big"]
        rows = backend.read([ReadSpec(info, ("id", "label"), ("id",))])["big"]
    finally:
        backend.close()
    assert inserted.is_set()
    assert [r["id"] for r in rows] == list(range(1, 52))  # counted 50, read 51: read again


# ---- atomic apply through the RPC -------------------------------------------------------------

def test_failing_last_statement_of_the_rpc_leaves_the_database_unchanged(
    tmp_path: Path, start_project: Callable[..., Project]
) -> None:
    project = start_project()
    repo = tmp_path / "repo"
    init_repo(repo)
    assert project.run(repo, "snapshot", "--commit").code == 2
    before = dump(project.db)
    three_changes_last_one_invalid(repo)
    project.gateway.requests.clear()
    result = project.run(repo, "apply", "--yes")
    assert result.code == 1, result.text
    assert "apply failed at proposer_configs config-snapshots/proposer_configs/zz-last.yaml" in result.err
    assert 'violates check constraint "proposer_configs_context_limit_check"' in result.err
    assert "nothing was changed" in result.err and "Traceback" not in result.text
    assert dump(project.db) == before
    assert backup_refs(repo) == []
    assert [r for r in project.gateway.requests if r[0] != "GET"] == [("POST", "/rest/v1/rpc/configsync_apply")]
    assert project.run(repo, "status").out.splitlines()[2].startswith("deployed  never")


def test_stale_and_repeated_plans_are_refused(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project()
    repo = project.snapshotted_repo(tmp_path / "repo")
    commit_edit(repo, "system_config/orchestrator_max_concurrent.yaml", "config_value: 3", "config_value: 5",
                "more concurrency")
    assert project.run(repo, "plan", "--out", str(tmp_path / "plan.json")).code == 2

    execute(project.db, "UPDATE system_config SET description = 'dashboard' WHERE config_key = 'budget_limits'")
    before = dump(project.db)
    result = project.run(repo, "apply", str(tmp_path / "plan.json"), "--yes")
    assert result.code == 1, result.text
    assert "the database changed since this plan was made" in result.err
    assert "system_config budget_limits: changed" in result.err
    assert dump(project.db) == before

    execute(project.db, "UPDATE system_config SET description = 'Cost control thresholds in USD' "
                        "WHERE config_key = 'budget_limits'")
    assert project.run(repo, "apply", str(tmp_path / "plan.json"), "--yes").code == 0
    result = project.run(repo, "apply", str(tmp_path / "plan.json"), "--yes")
    assert result.code == 1
    assert "this plan was already applied" in result.err


def moose_batch(backend: RestBackend, value: int) -> WriteBatch:
    info = backend.describe(["system_config"])["system_config"]
    spec = ReadSpec(info, tuple(c for c in info.column_names if c not in ("created_at", "updated_at")), ("config_key",))
    op = Operation("update", info, {"config_key": "orchestrator_max_concurrent"}, {"config_value": value},
                   "config-snapshots/system_config/orchestrator_max_concurrent.yaml")
    return WriteBatch([spec], [op], HistoryEntry("r" * 40, "HEAD", "test", 0, 1, 0, f"checksum-{value}"),
                      "configsync_history", lock_timeout=5)


def test_the_function_refuses_rows_changed_after_they_were_checked(start_project: Callable[..., Project]) -> None:
    """Between configsync's check and the function's lock, someone edits a planned table:
    the function's own stale check refuses, nothing is written."""
    project = start_project()
    backend = RestBackend(project.url, project.server.service_key, project.url)
    calls = []

    def verify(rows: dict[str, list[Any]]) -> None:
        calls.append(rows)
        if len(calls) == 1:  # right after configsync's check, before the RPC
            execute(project.db, "UPDATE system_config SET description = 'raced' WHERE config_key = 'routing_config'")

    try:
        with pytest.raises(StalePlanError, match="the database changed while the apply was being prepared"):
            backend.apply(moose_batch(backend, 9), verify)
    finally:
        backend.close()
    assert len(calls) == 2
    with psycopg.connect(project.db) as conn:
        value = conn.execute("SELECT config_value FROM system_config WHERE config_key = "
                             "'orchestrator_max_concurrent'").fetchone()
        history = conn.execute("SELECT count(*) FROM configsync_history").fetchone()
    assert value == (3,) and history == (0,)


def test_apply_waits_for_the_same_lock_as_a_direct_apply(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project()
    repo = project.snapshotted_repo(tmp_path / "repo")
    commit_edit(repo, "system_config/orchestrator_max_concurrent.yaml", "config_value: 3", "config_value: 4",
                "four")
    before = dump(project.db)
    with psycopg.connect(project.db) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])  # a direct apply is running
        result = project.run(repo, "apply", "--yes", "--lock-timeout", "1")
    assert result.code == 1, result.text
    assert "another apply is running and did not finish within the lock timeout" in result.err
    assert dump(project.db) == before
    assert project.run(repo, "apply", "--yes").code == 0


def test_a_lost_answer_is_resolved_from_the_history(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project()
    repo = project.snapshotted_repo(tmp_path / "repo")
    commit_edit(repo, "system_config/orchestrator_max_concurrent.yaml", "config_value: 3", "config_value: 6",
                "six")

    # the gateway fails before forwarding: not retried, and the outcome is spelled out
    project.gateway.fail("POST", "rpc/configsync_apply", status=503)
    result = project.run(repo, "apply", "--yes")
    assert result.code == 1, result.text
    assert "all of this apply's changes or none of them" in result.err
    assert [r for r in project.gateway.requests if r[0] == "POST"] == [("POST", "/rest/v1/rpc/configsync_apply")]

    # served, but the answer is lost: the history shows it was applied
    project.gateway.fail("POST", "rpc/configsync_apply", status=-1)
    result = project.run(repo, "apply", "--yes")
    assert result.code == 0, result.text
    with psycopg.connect(project.db) as conn:
        assert conn.execute("SELECT config_value FROM system_config WHERE config_key = "
                            "'orchestrator_max_concurrent'").fetchone() == (6,)


def test_reads_are_retried(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project()
    repo = tmp_path / "repo"
    init_repo(repo)
    project.gateway.fail("GET", "/rest/v1/system_config", times=2, status=503)
    project.gateway.fail("GET", "/rest/v1/contracts", times=1, status=0)  # connection dropped
    result = project.run(repo, "snapshot")
    assert result.code == 2, result.text
    firsts = [r for r in project.gateway.requests if r[1].startswith("/rest/v1/system_config?")]
    assert len(firsts) == 3


# ---- without the function ------------------------------------------------------------------


def test_without_the_function_apply_refuses_unless_non_atomic(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project(tables=None)
    repo = project.snapshotted_repo(tmp_path / "repo")
    three_changes(repo, "gpt-5-mini")
    before = dump(project.db)

    result = project.run(repo, "apply", "--yes")
    assert result.code == 1, result.text
    assert "the REST API knows no configsync_apply function" in result.err
    assert "schema cache" in result.err and "notify pgrst, 'reload schema';" in result.err
    assert "configsync supabase migration --write supabase/migrations" in result.err
    assert "--non-atomic" in result.err
    assert dump(project.db) == before and backup_refs(repo) == []

    result = project.run(repo, "apply", "--yes", "--non-atomic")
    assert result.code == 0, result.text
    assert "Applied: 1 created, 1 updated, 1 deleted" in result.out
    assert "note: --non-atomic: 3 changes were sent as separate requests; reading the database back found every one applied" in result.out
    assert ("note: the apply was not recorded in configsync_history (table configsync_history does not exist in "
            f"{project.url}, or the REST API does not expose it") in result.out
    assert project.run(repo, "plan").code == 0
    # The new row's id is the database's (a uuid default) and its file leaves it
    # out: no drift (docs/configuration.md, "Column ownership"); --with-assigned writes it.
    assert project.run(repo, "snapshot").code == 0
    assert project.run(repo, "snapshot", "--with-assigned").code == 2
    direct = tmp_path / "direct"
    init_repo(direct)
    run(direct, "snapshot", database=project.db)
    assert record_files(direct) == record_files(repo)


def test_non_atomic_apply_says_what_was_and_was_not_applied(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project(tables=None)
    repo = project.snapshotted_repo(tmp_path / "repo")
    three_changes_last_one_invalid(repo)
    result = project.run(repo, "apply", "--yes", "--non-atomic")
    assert result.code == 1, result.text
    err = result.err
    assert "apply stopped at proposer_configs config-snapshots/proposer_configs/zz-last.yaml" in err
    assert 'violates check constraint "proposer_configs_context_limit_check"' in err
    assert "Reading the database back: 2 of 3 changes applied." in err
    applied, not_applied = err.split("Applied:\n")[1].split("Not applied:\n")
    assert "- system_config orchestrator_enabled  config-snapshots/system_config/orchestrator_enabled.yaml" in applied
    assert "~ system_config budget_limits  config-snapshots/system_config/budget_limits.yaml" in applied
    assert "+ proposer_configs zz-last  config-snapshots/proposer_configs/zz-last.yaml" in not_applied
    (backup,) = backup_refs(repo)
    assert f"undo with: configsync rollback --to {backup}" in err
    with psycopg.connect(project.db) as conn:
        keys = [r[0] for r in conn.execute("SELECT config_key FROM system_config ORDER BY 1")]
        names = [r[0] for r in conn.execute("SELECT name FROM proposer_configs ORDER BY 1")]
        cap = conn.execute("SELECT config_value->'daily_hard_cap' FROM system_config "
                           "WHERE config_key = 'budget_limits'").fetchone()
    assert "orchestrator_enabled" not in keys and "zz-last" not in names and cap == (45,)
    # the backup restores the state before the half apply (here through the direct connection)
    result = run(repo, "rollback", "--to", backup, "--yes", "--allow-mass-delete", database=project.db)
    assert result.code == 0, result.text
    assert project.run(repo, "snapshot").code == 0


# ---- keys and permissions --------------------------------------------------------------------


def test_the_anon_key_is_refused_and_can_write_nothing(
    tmp_path: Path, start_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = start_project()
    repo = project.snapshotted_repo(tmp_path / "repo")
    commit_edit(repo, "system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 1", "cap 1")
    before = dump(project.db)
    anon = project.server.anon_key
    monkeypatch.setenv(KEY_ENV, anon)
    for command in (["snapshot"], ["plan"], ["apply", "--yes"], ["apply", "--yes", "--non-atomic"], ["status"]):
        result = project.run(repo, *command)
        assert result.code == 1, (command, result.text)
        assert ("error: permission denied for table system_config: this is the anon key; use the service-role "
                "key ($SUPABASE_SERVICE_ROLE_KEY, from Project Settings > API)") in result.err, result.err
    assert dump(project.db) == before

    # and directly, past configsync: the function and every table refuse the anon key
    plan = {"format": "configsync-apply/1", "history_table": "configsync_history", "reads": [], "operations": [],
            "history": {"revision": "x"}}
    status, body = project.call("POST", "rpc/configsync_apply", anon, {"plan": plan})
    assert status in (401, 403) and body["code"] == "42501", body
    assert "permission denied for function configsync_apply" in body["message"]
    for table in MOOSE_TABLES:
        status, body = project.call("POST", table, anon, {"id": str(uuid.uuid4())})
        assert status in (401, 403) and body["code"] == "42501", body
        status, body = project.call("PATCH", f"{table}?id=not.is.null", anon, {"id": str(uuid.uuid4())})
        assert status in (200, 204), body
        status, body = project.call("DELETE", f"{table}?id=not.is.null", anon)
        assert status in (200, 204), body
    status, body = project.call("GET", "configsync_history", anon)
    assert status in (401, 403) and body["code"] == "42501"
    assert dump(project.db) == before


def test_a_key_without_write_rights_gets_the_service_role_hint(
    tmp_path: Path, start_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A role configsync cannot recognise from the key (a custom JWT): the database's refusal is mapped."""
    project = start_project(tables=None)
    with psycopg.connect(project.db, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE configsync_reader NOLOGIN BYPASSRLS; "
                     "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
        conn.execute("GRANT configsync_reader TO authenticator")
        conn.execute("GRANT USAGE ON SCHEMA public TO configsync_reader")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO configsync_reader")
    project.server.reload()
    repo = project.snapshotted_repo(tmp_path / "repo")
    commit_edit(repo, "system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 1", "cap 1")
    before = dump(project.db)
    reader = project.server.key("configsync_reader")
    monkeypatch.setenv(KEY_ENV, reader)
    # The REST API does not say whether row level security hides rows from this
    # role: refused until configsync.yaml says the role sees every row.
    result = project.run(repo, "plan")
    assert result.code == 1 and "the key's role configsync_reader is not service_role" in result.err, result.text
    config = repo / "configsync.yaml"
    config.write_text(config.read_text().replace("exclude: [created_at, updated_at]\n",
                                                 "exclude: [created_at, updated_at]\n    rls: all-rows-visible\n"))
    commit_all(repo, "configsync_reader sees every row")
    assert project.run(repo, "plan").code == 2  # it may read
    result = project.run(repo, "apply", "--yes")
    assert result.code == 1
    assert "If it is installed, this key may not call it: use the service-role key" in result.err
    result = project.run(repo, "apply", "--yes", "--non-atomic")
    assert result.code == 1
    assert "permission denied for table system_config: use the service-role key" in result.err
    assert reader not in result.text
    assert dump(project.db) == before


def test_the_function_is_safe(start_project: Callable[..., Project]) -> None:
    project = start_project()
    with psycopg.connect(project.db) as conn:
        row = conn.execute(
            "SELECT prosecdef, proconfig, "
            "has_function_privilege('anon', p.oid, 'EXECUTE'), has_function_privilege('authenticated', p.oid, 'EXECUTE'), "
            "has_function_privilege('service_role', p.oid, 'EXECUTE'), "
            "coalesce(array_to_string(proacl, ' '), '') "
            "FROM pg_proc p WHERE proname = 'configsync_apply'").fetchone()
    assert row is not None
    security_definer, config, anon, authenticated, service_role, acl = row
    assert security_definer is False
    assert any(c.startswith("search_path=") for c in config)
    assert (anon, authenticated, service_role) == (False, False, True)
    assert not any(entry.startswith("=") for entry in acl.split())  # nothing granted to PUBLIC

    key = project.server.service_key

    def call(plan: dict[str, Any]) -> dict[str, Any]:
        base = {"format": "configsync-apply/1", "history_table": "configsync_history", "reads": [],
                "operations": [], "history": {"revision": "x"}, **plan}
        status, body = project.call("POST", "rpc/configsync_apply", key, {"plan": base})
        assert status >= 400, body
        return body

    execute(project.db, "CREATE TABLE secrets (id int PRIMARY KEY, value text)")
    body = call({"operations": [{"action": "delete", "table": "secrets", "key": {"id": 1}, "values": {}}]})
    assert body["code"] == "CS002" and "table secrets is not one of the tables this function manages" in body["message"]
    body = call({"reads": [{"table": "system_config; DROP TABLE contracts", "columns": [], "key": [], "expected": []}]})
    assert body["code"] == "CS002"
    body = call({"reads": [{"table": "system_config", "key": ["id"], "expected": [],
                            "columns": [{"name": 'id" FROM system_config; DROP TABLE contracts; --'}]}]})
    assert body["code"] == "42703"  # a quoted identifier that does not exist, not SQL
    body = call({"format": "configsync-apply/0"})
    assert body["code"] == "CS002"
    body = call({"history_table": "elsewhere"})
    assert body["code"] == "CS002"
    with psycopg.connect(project.db) as conn:
        assert conn.execute("SELECT count(*) FROM contracts").fetchone() == (0,)
        assert conn.execute("SELECT to_regclass('contracts') IS NOT NULL").fetchone() == (True,)


def test_a_table_the_function_does_not_know_is_refused(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project(tables=["system_config", "proposer_configs"])  # contracts came later
    repo = project.snapshotted_repo(tmp_path / "repo")
    result = project.run(repo, "apply", "--yes")
    assert result.code == 1
    # refused by the plan apply makes (test_rest_parity.py), before the function would refuse it
    assert "configsync.yaml manages contracts, which the installed configsync_apply does not accept" in result.err
    assert "generate and deploy a new migration: `configsync supabase migration" in result.err


# ---- configuration and errors ----------------------------------------------------------------


def test_connection_settings_and_errors(tmp_path: Path, start_project: Callable[..., Project],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    project = start_project()
    repo = tmp_path / "repo"
    init_repo(repo)
    key = project.server.service_key
    port = project.gateway.port

    # the key in the URL, as a configsync.yaml ${ENV} reference would put it
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("CS_KEY", key)
    monkeypatch.setenv("NEXT_PUBLIC_SUPABASE_URL", project.url)
    result = project.run(repo, "plan", database=f"http://service_role:${{CS_KEY}}@127.0.0.1:{port}")
    assert result.code == 2, result.text
    assert f"database http://service_role:***@127.0.0.1:{port} · revision" in result.out
    # the seed's variable names: the URL from NEXT_PUBLIC_SUPABASE_URL, the key from SUPABASE_SERVICE_ROLE_KEY
    result = project.run(repo, "plan", database="${NEXT_PUBLIC_SUPABASE_URL}")
    assert result.code == 1 and f"set ${KEY_ENV} (Project Settings > API)" in result.err
    monkeypatch.setenv(KEY_ENV, key)
    assert project.run(repo, "plan", database="${NEXT_PUBLIC_SUPABASE_URL}").code == 2
    assert project.run(repo, "plan", database=f"{project.url}/rest/v1/").code == 2

    cases = [
        (f"http://127.0.0.1:{port}/elsewhere", "has no REST API at"),
        ("http://127.0.0.1:1", "cannot connect to http://127.0.0.1:1: "),
        (f"http://{key}@127.0.0.1:{port}", "put the key after a colon"),
    ]
    for url, message in cases:
        result = project.run(repo, "plan", database=url)
        assert result.code == 1 and message in result.err, (url, result.text)
        assert "Traceback" not in result.text
    for bad in (postgrest.api_key("service_role", "another-secret-another-secret-123"),):
        monkeypatch.setenv(KEY_ENV, bad)
        result = project.run(repo, "plan")
        assert result.code == 1
        assert "the API key was rejected (Invalid API key): use the service-role key" in result.err
        project.gateway.valid_keys.add(bad)  # past the gateway, PostgREST itself refuses it
        result = project.run(repo, "plan")
        assert result.code == 1 and "the API key was rejected (" in result.err, result.err
        assert bad not in result.text

    monkeypatch.setenv(KEY_ENV, key)
    (repo / "configsync.yaml").write_text((repo / "configsync.yaml").read_text() + "  nonexistent: {}\n")
    (repo / "schemas/nonexistent.schema.json").write_text(PERMISSIVE_SCHEMA)
    commit_all(repo, "a table that is not there")
    result = project.run(repo, "plan")
    assert result.code == 1
    assert f"table nonexistent does not exist in {project.url}, or the key cannot see it" in result.err


def test_timeouts_are_clear(start_project: Callable[..., Project]) -> None:
    project = start_project()
    project.gateway.fail("GET", "/rest/v1/", times=5, status=200, delay=2)
    backend = RestBackend(project.url, project.server.service_key, project.url, timeout=0.5, retries=1, backoff=0.1)
    try:
        with pytest.raises(BackendError, match=r"no answer from http://127\.0\.0\.1:\d+ within 0\.5 seconds"):
            backend.describe(["system_config"])
    finally:
        backend.close()


def test_the_migration_ends_by_reloading_postgrests_schema_cache(tmp_path: Path) -> None:
    """PostgREST answers PGRST202 for a function newer than its schema cache; a project
    without Supabase's DDL event trigger needs the reload the migration asks for last."""
    repo = tmp_path / "repo"
    init_repo(repo)
    assert run(repo, "supabase", "migration", "--write", "supabase/migrations").code == 0
    (migration,) = (repo / "supabase/migrations").glob("*_configsync_apply.sql")
    statements = [line for line in migration.read_text().splitlines() if line and not line.startswith("--")]
    assert statements[-1] == "notify pgrst, 'reload schema';"


def test_migration_command(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    init_repo(repo)
    result = run(repo, "supabase", "migration")
    assert result.code == 0, result.text
    sql = result.out
    assert sql.startswith("-- configsync_apply: apply one configsync plan in ONE transaction")
    assert "\nsecurity invoker\n" in sql and "security definer" not in sql.lower()
    assert "array['system_config', 'proposer_configs', 'contracts']::text[]" in sql
    assert "revoke all on function public.configsync_apply(jsonb) from public, anon, authenticated;" in sql
    assert "grant execute on function public.configsync_apply(jsonb) to service_role;" in sql
    assert f"apply_lock constant bigint := {LOCK_ID};" in sql

    result = run(repo, "supabase", "migration", "--write", "supabase/migrations")
    assert result.code == 0 and result.out.startswith("Wrote supabase/migrations/"), result.text
    (first,) = (repo / "supabase/migrations").iterdir()
    assert first.name.endswith("_configsync_apply.sql") and first.read_text() == sql
    assert run(repo, "supabase", "migration", "--write", "supabase/migrations").out == f"{first.relative_to(repo)} is up to date.\n"
    (repo / "configsync.yaml").write_text((repo / "configsync.yaml").read_text().replace(
        "tables:\n", "history_table: deploys\ntables:\n"))
    first.rename(first.with_name("20000101000000_configsync_apply.sql"))
    result = run(repo, "supabase", "migration", "--write", "supabase/migrations")
    assert result.code == 0 and result.out.startswith("Wrote "), result.text
    assert len(list((repo / "supabase/migrations").iterdir())) == 2
    assert '"public"."deploys"' in max((repo / "supabase/migrations").iterdir()).read_text()


# ---- units ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("{}", []),
    ("{a,b}", ["a", "b"]),
    ('{"a,b","q\\"uote","back\\\\slash",NULL,"NULL",""}', ["a,b", 'q"uote', "back\\slash", None, "NULL", ""]),
    ("{{1,2},{3,4}}", [["1", "2"], ["3", "4"]]),
    ('{"2025-10-03 12:30:15.25+00"}', ["2025-10-03 12:30:15.25+00"]),
    ("[0:1]={x,y}", ["x", "y"]),
])
def test_parse_pg_array(text: str, expected: Any) -> None:
    assert parse_pg_array(text) == expected


def test_key_roles() -> None:
    secret = "s" * 40
    assert key_role(postgrest.api_key("anon", secret)) == "anon"
    assert key_role(postgrest.api_key("service_role", secret)) == "service_role"
    assert key_role("sb_publishable_abc") == "anon"
    assert key_role("sb_secret_abc") == "service_role"
    assert key_role("not-a-jwt") is None
    assert key_role("a.b!.c") is None


def test_settings_from_url(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {KEY_ENV: "env-key"}
    assert settings_from_url("https://abc.supabase.co", "x", env) == ("https://abc.supabase.co", "env-key")
    assert settings_from_url("https://abc.supabase.co/rest/v1/", "x", env) == ("https://abc.supabase.co", "env-key")
    assert settings_from_url("https://u:url%2Fkey@abc.supabase.co:8443/p", "x", env) == (
        "https://abc.supabase.co:8443/p", "url/key")
    for url, message in [("https://abc.supabase.co", f"set ${KEY_ENV}"), ("https:///x", "no host given"),
                         ("https://abc.supabase.co?x=1", "unexpected ?query")]:
        with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("?", r"\?")):
            settings_from_url(url, "x", {})
    assert redact("https://service_role:secret@abc.supabase.co") == "https://service_role:***@abc.supabase.co"
    assert redact("https://secret@abc.supabase.co") == "https://***@abc.supabase.co"
    monkeypatch.setenv(KEY_ENV, "sb_secret_x")
    backend = open_backend("https://abc.supabase.co", Path("."))
    assert isinstance(backend, RestBackend) and backend.display_url == "https://abc.supabase.co"


def test_values_round_trip_through_the_payload() -> None:
    """What the RPC receives keeps every digit."""
    text = values.dumps({"n": Decimal("12345678901234567890.123456789"), "u": str(uuid.UUID(int=1))})
    assert "12345678901234567890.123456789" in text


# ---- database errors and the function's search_path -----------------------------------------


def test_database_errors_over_rest_never_show_a_secret_value(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    """Every 23xxx class over the REST backend (the function's detail and the
    REST error explainer): exit 1, the constraint named, no secret anywhere."""
    from test_faults import KEY_CONFIG, KEY_TABLES, assert_database_errors_hide_secrets, key_tables

    secret = f"sk-live-{uuid.uuid4().hex}"
    project = start_project(lambda db: key_tables(db, secret), tables=list(KEY_TABLES))
    repo = permissive_repo(tmp_path / "repo", KEY_CONFIG, KEY_TABLES, "schemas")

    def cli(*args: str) -> Result:
        return project.run(repo, *args)

    assert cli("snapshot", "--commit").code == 2
    assert_database_errors_hide_secrets(repo, project.db, secret, cli)


def call_function(db: str, operations: list[dict[str, Any]]) -> Any:
    """configsync_apply called directly as service_role, as PostgREST would."""
    plan = {"format": "configsync-apply/1", "history_table": "configsync_history", "reads": [],
            "operations": [{"file": "f.yaml", **op} for op in operations], "history": {"revision": "x"}}
    with psycopg.connect(db) as conn:
        conn.execute("SET ROLE service_role")
        row = conn.execute("SELECT public.configsync_apply(%s)", [json.dumps(plan)]).fetchone()
        return row[0] if row else None


@pytest.fixture
def key_project(supabase_cluster: str, pg_url: str) -> tuple[str, str]:
    """A database like a Supabase project's with the key tables and the function
    (no PostgREST), and the secret its rows hold."""
    from test_faults import KEY_TABLES, key_tables

    secret = "sk-live-" + uuid.uuid4().hex
    postgrest.prepare_database(pg_url)
    key_tables(pg_url, secret)
    install_migration(pg_url, list(KEY_TABLES))
    return pg_url, secret


def test_the_function_passes_no_row_value_in_an_error(key_project: tuple[str, str]) -> None:
    """The function's own error, as any client of the API gets it: the SQLSTATE,
    the message and the constraint's column names; no value in the detail."""
    from test_faults import KEY_ERRORS, KEY_TABLES

    db, secret = key_project
    before = dump(db, KEY_TABLES)
    for state, _record, _edit, op, says in KEY_ERRORS:
        with pytest.raises(psycopg.Error) as caught:
            call_function(db, [op])
        diag = caught.value.diag
        assert caught.value.sqlstate == state
        assert diag.message_hint is not None and diag.message_hint.startswith("configsync-operation:0")
        for text in (str(caught.value), diag.message_primary, diag.message_detail, diag.message_hint):
            assert secret not in (text or ""), (state, text)
        constraint = says.partition(" (")[0]
        assert constraint.partition('"')[2] in (diag.message_primary or ""), (state, diag.message_primary)
        if "(Key" in says:
            assert diag.message_detail == says.partition(" (")[2].removesuffix(")"), (state, diag.message_detail)
    assert dump(db, KEY_TABLES) == before


def test_the_function_runs_no_function_a_role_put_in_public(key_project: tuple[str, str]) -> None:
    """A role that may CREATE in public shadows jsonb_populate_record with one
    that matches the table's row type exactly (a better match than pg_catalog's
    polymorphic one): the function must not find it."""
    db = key_project[0]
    intruder = f"intruder_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {intruder} NOLOGIN")
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {intruder}")
        conn.execute(f"SET ROLE {intruder}")
        conn.execute("""
            CREATE FUNCTION public.jsonb_populate_record(public.api_keys, jsonb) RETURNS public.api_keys
            LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked: ran as %', current_user; END $$""")
        conn.execute("RESET ROLE")
    try:
        answer = call_function(db, [
            {"action": "update", "table": "api_keys", "key": {"name": "beta"}, "values": {"quota": 11}}])
        assert answer["updated"] == 1
        with psycopg.connect(db) as conn:
            assert conn.execute("SELECT quota FROM api_keys WHERE name = 'beta'").fetchone() == (11,)
            config = conn.execute("SELECT proconfig FROM pg_proc WHERE proname = 'configsync_apply'").fetchone()
        assert config == (["search_path=pg_catalog, pg_temp"],)
    finally:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {intruder}")
            conn.execute(f"DROP ROLE {intruder}")


@pytest.mark.parametrize(("status", "body", "shown"), [
    (400, {"code": "23514", "message": 'new row for relation "keys" violates check constraint "quota"',
           "details": "Failing row contains (alpha, t1, SECRET, -5).", "hint": None},
     'new row for relation "keys" violates check constraint "quota"'),
    (409, {"code": "23505", "message": 'duplicate key value violates unique constraint "keys_tenant"',
           "details": "Key (tenant, api_key)=(t1, SECRET) already exists.", "hint": None},
     'duplicate key value violates unique constraint "keys_tenant" (Key (tenant, api_key) already exists)'),
    (409, {"code": "23P01", "message": 'conflicting key value violates exclusion constraint "one_active"',
           "details": "Key (api_key)=(SECRET) conflicts with existing key (api_key)=(SECRET)."},
     'conflicting key value violates exclusion constraint "one_active" (Key (api_key) conflicts with an existing key)'),
    (400, {"code": "22P02", "message": 'invalid input syntax for type uuid: "SECRET"', "details": None},
     'invalid input syntax for type uuid: "…"'),
    (500, {"message": "the gateway echoed the key: SECRET", "details": "SECRET"},
     "the gateway echoed the key: ***; the server failed, try again"),
])
def test_the_rest_error_explainer_shows_no_value(status: int, body: dict[str, Any], shown: str) -> None:
    """PostgREST's JSON error as the explainer words it: no detail with a value,
    no quoted value, never the API key (here the secret is the key too)."""
    import httpx
    from configsync.backends.supabase.client import RestClient

    secret = f"sk-live-{uuid.uuid4().hex}"
    client = RestClient("https://p.supabase.co", secret, "https://p.supabase.co")
    answer = httpx.Response(status, json={k: v.replace("SECRET", secret) if isinstance(v, str) else v
                                          for k, v in body.items()})
    assert client.explain(answer) == shown


def test_a_trigger_that_counts_on_public_in_the_search_path_is_explained(
        tmp_path: Path, start_project: Callable[..., Project]) -> None:
    """The function no longer searches public: a trigger on a managed table that
    names a table unqualified fails the apply with advice, and works once its
    function has its own search_path."""
    from test_faults import KEY_CONFIG, KEY_TABLES, key_tables

    def setup(db: str) -> None:
        key_tables(db, "sk-live-" + uuid.uuid4().hex)
        run_sql(db, """
            CREATE TABLE public.audit_log (name text, at timestamptz DEFAULT now());
            CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO audit_log (name) VALUES (NEW.name); RETURN NEW; END $$;
            CREATE TRIGGER audit AFTER UPDATE ON public.api_keys FOR EACH ROW EXECUTE FUNCTION public.audit();
        """)

    project = start_project(setup, tables=list(KEY_TABLES))
    repo = permissive_repo(tmp_path / "repo", KEY_CONFIG, KEY_TABLES, "schemas")
    assert project.run(repo, "snapshot", "--commit").code == 2
    commit_edit(repo, "api_keys/alpha.yaml", "quota: 10", "quota: 11", "more quota")
    before = dump(project.db, KEY_TABLES)
    failed = project.run(repo, "apply", "--yes")
    assert failed.code == 1
    assert 'apply failed at api_keys config-snapshots/api_keys/alpha.yaml: relation "audit_log" does not exist' \
        in failed.err, failed.err
    assert "ALTER FUNCTION ... SET search_path = public" in failed.err
    assert dump(project.db, KEY_TABLES) == before
    execute(project.db, "ALTER FUNCTION public.audit() SET search_path = public")
    assert project.run(repo, "apply", "--yes").code == 0
    with psycopg.connect(project.db) as conn:
        assert conn.execute("SELECT name FROM audit_log").fetchall() == [("alpha",)]
