"""A read-only key for REST-only projects: `configsync supabase reader` prints
the SQL of a reader role PostgREST can switch to, and mints its key from the
project's JWT secret. Over a real PostgREST: the owner runs the SQL, the key
plans exactly like the service-role key, and PostgreSQL refuses it a secret
column, another table and every write; an expired key is refused; the JWT
secret never appears in any output, whatever is wrong with it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import Result, commit_all, dump, permissive_repo, run
from support.postgrest import sign_jwt
from test_rest import Project, run_sql, start_project, supabase_cluster  # noqa: F401 - fixtures
from test_roles import CONFIG, SCHEMA, SECRET_VALUES

TABLES = ["flags", "limits"]
# The REST API cannot show configsync row level security: the SQL gives the
# reader a policy USING (true) on each table, and configsync.yaml says so.
READER_CONFIG = CONFIG.replace("    secret: [api_key]\n", "    secret: [api_key]\n    rls: all-rows-visible\n") \
    .replace("    exclude: [updated_at]\n", "    exclude: [updated_at]\n    rls: all-rows-visible\n")


def tables(db: str) -> None:
    """test_roles' tables: flags (row level security, a secret column), limits
    (serial, excluded and generated columns) and payroll (not managed)."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(SCHEMA.encode())


@dataclass
class Reader:
    project: Project
    repo: Path
    role: str
    key: str

    @property
    def url(self) -> str:
        """The database URL `--url` prints: the project with the reader's key in it."""
        return self.project.url.replace("://", f"://{self.role}:{self.key}@", 1)


def mint(repo: Path, project: Project, *args: str, secret: str | None = None) -> Result:
    """`configsync supabase reader` with ``secret`` on stdin; no output holds the secret."""
    secret = project.server.jwt_secret if secret is None else secret
    result = run(repo, "supabase", "reader", *args, database=project.url, input=secret + "\n")
    assert secret not in result.text
    return result


def drop_role(db: str, role: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "  # type: ignore[arg-type]
                     f"EXECUTE 'DROP OWNED BY {role}; DROP ROLE {role}'; END IF; END $$")


@pytest.fixture
def reader(tmp_path: Path, start_project: Callable[..., Project]) -> Iterator[Reader]:  # noqa: F811
    """A project with the tables, the apply function and a reader role made
    as docs/supabase.md says: the SQL printed over the REST API with the
    service-role key, run by the owner; its key minted from the JWT secret."""
    project = start_project(tables, tables=TABLES)
    repo = permissive_repo(tmp_path / "repo", READER_CONFIG, TABLES, "configsync.yaml")
    assert project.run(repo, "snapshot", "--commit").code == 2
    role = f"cs_rest_reader_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide
    try:
        printed = project.run(repo, "supabase", "reader", "--reader", role)
        assert printed.code == 0, printed.text
        assert "api_key" not in printed.out.replace("no privilege on api_key", "")
        run_sql(project.db, printed.out)
        project.server.reload()
        result = mint(repo, project, "--reader", role, "--token")
        assert result.code == 0, result.text
        key = result.out.strip()
        # The stand-in gateway, like a self-hosted API gateway, is told which keys are the project's.
        assert project.server.gateway is not None
        project.server.gateway.valid_keys.add(key)
        yield Reader(project, repo, role, key)
    finally:
        drop_role(project.db, role)


def edit(repo: Path) -> None:
    flag = repo / "config-snapshots/flags/search.yaml"
    flag.write_text(flag.read_text().replace("enabled: false", "enabled: true"))
    limit = repo / "config-snapshots/limits/daily.yaml"
    limit.write_text(limit.read_text().replace("amount: 50", "amount: 40"))
    commit_all(repo, "turn search on, lower the daily limit")


def test_the_reader_key_plans_like_the_service_key(reader: Reader) -> None:
    repo, project = reader.repo, reader.project
    assert run(repo, "plan", database=reader.url).code == 0
    edit(repo)
    with_service_key = project.run(repo, "plan", "--format", "json")
    with_reader_key = run(repo, "plan", "--format", "json", database=reader.url)
    assert with_service_key.code == with_reader_key.code == 2, with_reader_key.text
    reader_plan, service_plan = json.loads(with_reader_key.out), json.loads(with_service_key.out)
    assert reader_plan.pop("database") == project.url.replace("://", "://***:***@")  # the key never shown
    assert service_plan.pop("database") == project.url
    del reader_plan["created_at"], service_plan["created_at"]
    assert reader_plan == service_plan and service_plan["changes"]
    text = run(repo, "plan", database=reader.url)
    assert text.code == 2 and "search" in text.out and "daily" in text.out
    assert not any(secret in text.text for secret in SECRET_VALUES)
    assert reader.key not in text.text
    assert run(repo, "status", database=reader.url).code in (0, 2)


def test_the_reader_key_cannot_read_a_secret_column_nor_another_table(reader: Reader) -> None:
    project, key = reader.project, reader.key
    # (The generated column `doubled` is read, and so granted, while the REST API's
    # description does not say it is generated; over the connection string it is not.)
    for path in ("flags?select=api_key", "flags?select=*", "limits?select=updated_at", "payroll?select=who"):
        status, body = project.call("GET", path, key)
        assert status in (401, 403) and body.get("code") == "42501", (path, status, body)
    status, body = project.call("GET", "flags?select=name,enabled&order=name", key)
    assert status == 200 and [row["name"] for row in body["rows"]] == ["checkout", "search"], body
    status, body = project.call("GET", "configsync_history?select=revision", key)
    assert status == 200, body


def test_the_reader_key_cannot_write(reader: Reader) -> None:
    repo, project, key = reader.repo, reader.project, reader.key
    edit(repo)
    before = dump(project.db, TABLES + ["payroll", "configsync_history"])
    for command in (["apply", "--yes"], ["apply", "--yes", "--non-atomic"]):
        result = run(repo, *command, database=reader.url)
        assert result.code == 1, (command, result.text)
        assert "Traceback" not in result.text and key not in result.text
    for method, path, body in (("POST", "flags", {"name": "new", "enabled": True}),
                               ("PATCH", "flags?name=eq.search", {"enabled": True}),
                               ("DELETE", "limits?name=eq.daily", None),
                               ("POST", "configsync_history", {"revision": "x"}),
                               ("POST", "rpc/configsync_apply", {"plan": {}})):
        status, answer = project.call(method, path, key, body)
        assert status in (401, 403) and answer.get("code") == "42501", (method, path, status, answer)
    assert dump(project.db, TABLES + ["payroll", "configsync_history"]) == before


def test_an_expired_key_is_refused(reader: Reader) -> None:
    repo, project = reader.repo, reader.project
    claims = json.loads(base64.urlsafe_b64decode(reader.key.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600  # the default --expires-in
    long_ago = int(time.time()) - 7 * 24 * 3600
    expired = sign_jwt({**claims, "iat": long_ago, "exp": long_ago + 24 * 3600}, project.server.jwt_secret)
    assert project.server.gateway is not None
    project.server.gateway.valid_keys.add(expired)
    before = dump(project.db, TABLES)
    result = run(repo, "plan", database=project.url.replace("://", f"://{reader.role}:{expired}@", 1))
    assert result.code == 1, result.text
    assert "JWT expired" in result.err and expired not in result.text and "Traceback" not in result.text
    assert dump(project.db, TABLES) == before



def test_through_a_gateway_that_admits_only_the_projects_keys_the_anon_key_goes_beside_it(
    reader: Reader, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Supabase's API gateway admits only the anon and service-role keys in
    ``apikey``: the reader key travels as the bearer token beside the anon key."""
    repo, project = reader.repo, reader.project
    assert project.server.gateway is not None
    project.server.gateway.valid_keys.discard(reader.key)  # a strict gateway, as hosted Supabase's
    before = dump(project.db, TABLES)
    alone = run(repo, "plan", database=reader.url)
    assert alone.code == 1 and "$SUPABASE_ANON_KEY" in alone.err, alone.text
    assert reader.key not in alone.text and "Traceback" not in alone.text
    monkeypatch.setenv("SUPABASE_ANON_KEY", project.server.anon_key)
    edit(repo)
    planned = run(repo, "plan", "--format", "json", database=reader.url)
    assert planned.code == 2, planned.text
    assert len(json.loads(planned.out)["changes"]) == 2
    assert reader.key not in planned.text and project.server.anon_key not in planned.text
    # The bearer token, not the anon key, decides the role: still no write.
    assert run(repo, "apply", "--yes", database=reader.url).code == 1
    assert dump(project.db, TABLES) == before
    monkeypatch.setenv("SUPABASE_ANON_KEY", project.server.service_key)
    refused = run(repo, "plan", database=reader.url)
    assert refused.code == 1 and "not the project's anon" in refused.err, refused.text
    assert project.server.service_key not in refused.text


# ---- the secret and the key, without a database --------------------------------------------------------------

SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


def mint_offline(tmp_path: Path, *args: str, stdin: str) -> Result:
    """`supabase reader` in a directory without configsync.yaml, no database."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    return run(tmp_path, "supabase", "reader", *args, input=stdin)


def claims_of(key: str, secret: str) -> dict[str, Any]:
    header, payload, signature = key.split(".")
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def test_a_minted_key_is_an_hs256_jwt_for_the_role_of_the_project(tmp_path: Path) -> None:
    before = int(time.time())
    result = mint_offline(tmp_path, "--token", "--database", "https://abcdefghijklmnop.supabase.co",
                          "--expires-in", "90d", stdin=SECRET + "\n")
    assert result.code == 0, result.text
    claims = claims_of(result.out.strip(), SECRET)
    assert claims["role"] == "configsync_reader" and claims["iss"] == "supabase"
    assert claims["ref"] == "abcdefghijklmnop"
    assert before <= claims["iat"] <= int(time.time()) and claims["exp"] - claims["iat"] == 90 * 24 * 3600
    assert "Minted a key for role configsync_reader of project abcdefghijklmnop" in result.err
    assert SECRET not in result.text

    url = mint_offline(tmp_path, "--url", "--reader", "pr_plan", "--database",
                       "https://service_role:sb_secret_x@abcdefghijklmnop.supabase.co/rest/v1", stdin=SECRET)
    assert url.code == 0, url.text
    prefix = "https://pr_plan:"
    assert url.out.startswith(prefix) and url.out.endswith("@abcdefghijklmnop.supabase.co\n"), url.out
    assert claims_of(url.out[len(prefix):].split("@")[0], SECRET)["role"] == "pr_plan"
    assert "sb_secret_x" not in url.text

    # a ref that is not the URL's project would be refused by the REST backend: refused here
    other = mint_offline(tmp_path, "--token", "--project-ref", "zzzz", "--database",
                         "https://abcdefghijklmnop.supabase.co", stdin=SECRET)
    assert other.code == 1 and "--project-ref zzzz: the database URL is project abcdefghijklmnop" in other.err


@pytest.mark.parametrize(("stdin", "message"), [
    ("", "no JWT secret on standard input"),
    ("\n", "no JWT secret on standard input"),
    ("short-secret-0123456789\n", "is 23 characters long; a project's JWT secret has at least 32"),
    (SECRET + "\n" + SECRET + "-again\n", "standard input holds more than one line"),
    (SECRET[:20] + "\x1b" + SECRET[20:] + "\n", "holds control characters"),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXZhbHVlLWhlcmU\n",
     "holds an API key (a JWT), not the JWT secret"),
    ("sb_secret_0123456789abcdefghijklmnopqrstuvwxyz\n", "holds an API key, not the JWT secret"),
])
def test_a_bad_secret_is_refused_without_being_shown(tmp_path: Path, stdin: str, message: str) -> None:
    for mode in ("--token", "--url"):
        result = mint_offline(tmp_path, mode, "--database", "https://abcdefghijklmnop.supabase.co", stdin=stdin)
        assert result.code == 1, result.text
        assert message in result.err, result.err
        assert result.out == "" and "Traceback" not in result.text
        for line in stdin.splitlines():
            for part in (line, line[:16], line[-16:]):  # not even a piece of it
                if len(part) >= 8:
                    assert part not in result.text, (part, result.text)


@pytest.mark.parametrize(("args", "message"), [
    (["--expires-in", "0d"], "--expires-in '0d': must be more than nothing"),
    (["--expires-in", "11y"], "at most 10y"),
    (["--expires-in", "soon"], "expected a number and a unit"),
    (["--reader", "pg_reader"], "--reader: 'pg_reader' is reserved by PostgreSQL"),
    (["--reader", "service_role"], "--reader: 'service_role' is one of Supabase's own roles"),
    (["--reader", "anon"], "--reader: 'anon' is one of Supabase's own roles"),
    (["--project-ref", "Not-A-Ref"], "--project-ref 'Not-A-Ref': a project ref is lower-case letters and digits"),
])
def test_bad_options_are_refused_before_the_secret_is_read(tmp_path: Path, args: list[str], message: str) -> None:
    result = mint_offline(tmp_path, "--token", *args, stdin=SECRET + "\n")
    assert result.code == 1 and message in result.err, result.text
    assert SECRET not in result.text and result.out == ""


def test_url_needs_a_project_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    monkeypatch.delenv("CONFIGSYNC_DATABASE_URL", raising=False)
    result = mint_offline(tmp_path, "--url", stdin=SECRET)
    assert result.code == 1 and "--url: no https:// project URL" in result.err, result.text
    # a key without a URL is fine: it names no project
    result = mint_offline(tmp_path, "--token", stdin=SECRET)
    assert result.code == 0 and "ref" not in claims_of(result.out.strip(), SECRET)
    assert "no project ref: --project-ref adds one" in result.err
    monkeypatch.setenv("SUPABASE_URL", "https://qwertyuiop.supabase.co")
    result = mint_offline(tmp_path, "--url", stdin=SECRET)
    assert result.code == 0 and result.out.endswith("@qwertyuiop.supabase.co\n"), result.text


def test_the_sql_from_the_connection_string_knows_generated_columns_and_rls(
        tmp_path: Path, start_project: Callable[..., Project]) -> None:  # noqa: F811 - the fixture
    """Printed over the connection string, the catalog says which columns are
    generated and where row level security is on; run twice, it still holds."""
    project = start_project(tables, tables=TABLES)
    repo = permissive_repo(tmp_path / "repo", READER_CONFIG, TABLES, "configsync.yaml")
    role = f"cs_rest_reader_{uuid.uuid4().hex[:8]}"
    try:
        printed = run(repo, "supabase", "reader", "--reader", role, database=project.db)
        assert printed.code == 0, printed.text
        assert "-- limits: no privilege on updated_at, doubled" in printed.out
        assert f'ON TABLE "public"."limits" TO "{role}"' in printed.out and 'ON "public"."limits" AS' not in printed.out
        assert printed.out.rstrip().endswith("NOTIFY pgrst, 'reload schema';")
        run_sql(project.db, printed.out)  # before configsync_describe is installed: nothing to grant
        # configsync_describe as the migration may install it: EXECUTE for service_role only
        run_sql(project.db, "CREATE FUNCTION public.configsync_describe() RETURNS jsonb LANGUAGE sql "
                            "AS $$ SELECT '{}'::jsonb $$; "
                            "REVOKE ALL ON FUNCTION public.configsync_describe() FROM PUBLIC, anon, authenticated")
        run_sql(project.db, printed.out)
        with psycopg.connect(project.db) as conn:
            def can(table: str, column: str) -> bool:
                row = conn.execute("SELECT has_column_privilege(%s, %s, %s, 'SELECT')", (role, table, column)).fetchone()
                return bool(row and row[0])

            assert [can("flags", c) for c in ("name", "enabled", "api_key")] == [True, True, False]
            assert [can("limits", c) for c in ("name", "amount", "updated_at", "doubled")] == [True, True, False, False]
            member = conn.execute("SELECT pg_has_role('authenticator', %s, 'MEMBER')", (role,)).fetchone()
            assert member == (True,)
            write = conn.execute("SELECT has_table_privilege(%s, 'flags', 'INSERT, UPDATE, DELETE, TRUNCATE'), "
                                 "has_function_privilege(%s, 'configsync_apply(jsonb)', 'EXECUTE')",
                                 (role, role)).fetchone()
            assert write == (False, False)
            describe = conn.execute("SELECT has_function_privilege(%s, 'configsync_describe()', 'EXECUTE')",
                                    (role,)).fetchone()
            assert describe == (True,)
        written = run(repo, "supabase", "reader", "--reader", role, "--write", str(tmp_path / "migrations"),
                      database=project.db)
        assert written.code == 0 and "_configsync_reader.sql" in written.out, written.text
        again = run(repo, "supabase", "reader", "--reader", role, "--write", str(tmp_path / "migrations"),
                    database=project.db)
        assert again.code == 0 and "is up to date" in again.out
    finally:
        drop_role(project.db, role)


def test_on_a_terminal_the_secret_is_typed_without_echo(tmp_path: Path) -> None:
    """A real pseudo-terminal: the prompt goes to it, the typed secret is not
    echoed, and the key is printed (with a note to put it into a secret)."""
    import os
    import pty
    import sys

    pid, fd = pty.fork()
    if pid == 0:  # the child: configsync on the terminal
        os.chdir(tmp_path)
        os.execv(sys.executable, [sys.executable, "-m", "configsync", "supabase", "reader", "--token",
                                  "--project-ref", "abcdefghijklmnop"])
    seen = b""

    def read_until(marker: bytes | None) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (marker is None or marker not in seen):
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child is gone: EIO
                return
            if not chunk:
                return
            seen += chunk

    read_until(b"JWT secret (")
    os.write(fd, SECRET.encode() + b"\n")
    read_until(None)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert SECRET not in text and SECRET[:16] not in text
    key = next(word for word in text.split() if word.startswith("eyJ"))
    assert claims_of(key, SECRET)["ref"] == "abcdefghijklmnop"
    assert "put it straight into a secret" in text
