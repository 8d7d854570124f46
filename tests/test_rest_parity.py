"""The REST path on a par with the direct one, over a real PostgREST.

On one PostgreSQL database shaped like a real project (natural keys such as
config_key, name and [name, version]; a unique constraint that is not the
primary key; a composite foreign key; an enum; generated and identity
columns; a CHECK ... IN list; row level security on one table),
`init`, `schema infer`, `schema check`, `snapshot` and `plan --format json`
give the same output and write the same bytes whether configsync connects
with the postgresql:// URL or the project's REST URL: over REST, tables are
described by the migration's configsync_describe().
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pygit2
import test_rest
from configsync.backends import redact
from configsync.backends.supabase.describe import FUNCTIONS_VERSION
from configsync.supabase_migration import migration_sql
from helpers import Result, run
from test_rest import Project, run_sql

# The Supabase project fixtures of test_rest.py (a fresh database, the migration, PostgREST).
supabase_cluster = test_rest.supabase_cluster
start_project = test_rest.start_project

PROJECT_DDL = """
CREATE TYPE rollout_state AS ENUM ('draft', 'live', 'retired');
CREATE TABLE system_config (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    config_key   text NOT NULL UNIQUE,
    config_value jsonb NOT NULL,
    description  text,
    state        rollout_state NOT NULL DEFAULT 'live'
);
COMMENT ON COLUMN system_config.config_value IS 'The setting, as JSON';
CREATE TABLE proposer_configs (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 text NOT NULL,
    version              integer NOT NULL,
    provider             text NOT NULL CHECK (provider IN ('openai', 'anthropic', 'google')),
    input_cost_per_token numeric(12, 10),
    context_limit        integer NOT NULL DEFAULT 8192,
    cost_per_million     numeric GENERATED ALWAYS AS (input_cost_per_token * 1000000) STORED,
    UNIQUE (name, version)
);
ALTER TABLE proposer_configs ENABLE ROW LEVEL SECURITY;
CREATE TABLE contracts (
    name             text PRIMARY KEY,
    chain_id         integer NOT NULL,
    address          varchar(42) NOT NULL,
    proposer_name    text,
    proposer_version integer,
    FOREIGN KEY (proposer_name, proposer_version) REFERENCES proposer_configs (name, version),
    UNIQUE (chain_id, address)
);
CREATE TABLE rate_limits (
    id      serial PRIMARY KEY,
    route   text NOT NULL UNIQUE,
    per_min integer NOT NULL
);
INSERT INTO system_config (config_key, config_value, description, state) VALUES
  ('budget_limits', '{"daily_hard_cap": 50, "alert_at": 0.8}', 'Spending caps', 'live'),
  ('orchestrator_enabled', 'true', NULL, 'draft');
INSERT INTO proposer_configs (name, version, provider, input_cost_per_token, context_limit) VALUES
  ('gpt-4o-mini', 1, 'openai', 0.00000015, 128000),
  ('gpt-4o-mini', 2, 'openai', 0.00000012, 128000),
  ('claude-sonnet', 1, 'anthropic', 0.000003, 200000);
INSERT INTO contracts VALUES
  ('settlement', 8453, '0x00000000000000000000000000000000000000a1', 'gpt-4o-mini', 2),
  ('registry', 1, '0x00000000000000000000000000000000000000b2', NULL, NULL);
INSERT INTO rate_limits (route, per_min) VALUES ('/v1/propose', 60);
"""

TABLES = ["system_config", "proposer_configs", "contracts"]
# Commits with a fixed time: the two repositories' revisions are then equal too.
FIXED = pygit2.Signature("Test Author", "test@example.com", 1_760_000_000, 0)


def project_schema(db: str) -> None:
    run_sql(db, PROJECT_DDL)


def commit(path: Path, message: str) -> str:
    repo = pygit2.Repository(str(path))
    index = repo.index
    index.add_all()
    index.write()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", FIXED, FIXED, message, index.write_tree(), parents))


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    pygit2.init_repository(str(path), initial_head="main")
    (path / ".gitignore").write_text(".configsync/\n")
    return path


def tree_files(repo: Path) -> dict[str, bytes]:
    """Every file init and the commands wrote (not git's, not the local cache)."""
    return {p.relative_to(repo).as_posix(): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file() and not {".git", ".configsync"} & set(p.relative_to(repo).parts)}


def same_output(direct: Result, rest: Result, urls: tuple[str, str]) -> None:
    """The same exit code and output, apart from the database URL each names
    (and the second a plan was made at)."""
    def text(result: Result, url: str) -> tuple[int, str, str]:
        def same(output: str) -> str:
            return re.sub(r'"created_at": "[^"]*"', '"created_at": "<time>"', output.replace(url, "<database>"))
        return result.code, same(result.out), same(result.err)

    one, other = text(direct, urls[0]), text(rest, urls[1])
    assert one == other, "\n".join(difflib.unified_diff(
        (one[1] + one[2]).splitlines(), (other[1] + other[2]).splitlines(), "direct", "rest", lineterm=""))


def test_init_infer_snapshot_and_plan_over_rest_equal_the_direct_connection(
    tmp_path: Path, start_project: Callable[..., Project]
) -> None:
    project = start_project(project_schema, tables=TABLES)
    direct, rest = new_repo(tmp_path / "direct"), new_repo(tmp_path / "rest")
    urls = (redact(project.db), project.url)

    def both(*args: str) -> tuple[Result, Result]:
        return run(direct, *args, database=project.db), project.run(rest, *args)

    # init: the same natural keys (config_key, [name, version], name), schemas and files
    one, other = both("init", "--tables", ",".join(TABLES))
    assert one.code == 0, one.text
    same_output(one, other, urls)
    config = (rest / "configsync.yaml").read_text()
    assert "key: config_key" in config and "key: [name, version]" in config, config
    snapshots = [f for f in tree_files(rest) if f.startswith("config-snapshots/")]
    assert "config-snapshots/proposer_configs/gpt-4o-mini__2.yaml" in snapshots, snapshots
    assert tree_files(direct) == tree_files(rest)
    commit(direct, "adopt")
    commit(rest, "adopt")

    # schema infer and check
    for args in (("schema", "infer"), ("schema", "check")):
        one, other = both(*args)
        assert one.code == 0, one.text
        same_output(one, other, urls)
    one, other = both("schema", "infer", "--write", "--force")
    same_output(one, other, urls)
    assert tree_files(direct) == tree_files(rest)

    # snapshot after a change in the database; then a change in git, planned
    run_sql(project.db, "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'claude-sonnet'")
    one, other = both("snapshot")
    assert one.code == 2, one.text
    same_output(one, other, urls)
    assert tree_files(direct) == tree_files(rest)
    for repo in (direct, rest):
        path = repo / "config-snapshots/system_config/budget_limits.yaml"
        path.write_text(path.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 40"))
        (repo / "config-snapshots/contracts/registry.yaml").unlink()
        commit(repo, "lower the cap, drop the registry")
    one, other = both("plan", "--format", "json")
    assert one.code == 2, one.text
    same_output(one, other, urls)
    assert '"daily_hard_cap"' in other.out


def test_a_table_added_after_the_migration_fails_plan_with_the_fix(
    tmp_path: Path, start_project: Callable[..., Project]
) -> None:
    """configsync.yaml gains rate_limits; the deployed configsync_apply does not
    know it: `plan` (not only `apply`) fails, says what to re-run, writes nothing."""
    project = start_project(project_schema, tables=TABLES)
    repo = new_repo(tmp_path / "repo")
    assert project.run(repo, "init", "--tables", ",".join(TABLES)).code == 0
    commit(repo, "adopt")
    result = project.run(repo, "init", "--tables", "rate_limits")
    assert result.code == 0, result.text
    commit(repo, "adopt rate_limits")
    before = tree_files(repo)

    result = project.run(repo, "plan", "--out", "plan.json")
    assert result.code == 1, result.text
    assert "configsync.yaml manages rate_limits, which the installed configsync_apply does not accept" in result.err
    assert "`configsync supabase migration --write supabase/migrations`" in result.err
    assert "Traceback" not in result.text
    assert tree_files(repo) == before and not (repo / "plan.json").exists()
    assert project.run(repo, "apply", "--yes").code == 1

    # the fix it names: a new migration, deployed; then plan and apply work
    result = project.run(repo, "supabase", "migration")
    run_sql(project.db, result.out)
    project.server.reload()
    assert project.run(repo, "plan").code == 0, project.run(repo, "plan").text


def test_a_function_older_than_the_configuration_needs_fails_plan(
    tmp_path: Path, start_project: Callable[..., Project]
) -> None:
    project = start_project(project_schema, tables=None)
    old = migration_sql(TABLES, "configsync_history").replace(
        f"'version', {FUNCTIONS_VERSION},", "'version', 1,")
    assert old != migration_sql(TABLES, "configsync_history")
    run_sql(project.db, old)
    project.server.reload()
    repo = new_repo(tmp_path / "repo")
    assert project.run(repo, "init", "--tables", ",".join(TABLES)).code == 0
    commit(repo, "adopt")
    result = project.run(repo, "plan")
    assert result.code == 1, result.text
    assert f"are version 1 (configsync 0.1.0); this configsync needs version {FUNCTIONS_VERSION}" in result.err
    assert "configsync supabase migration" in result.err


def test_without_configsync_describe_the_openapi_description_is_used_and_init_says_so(
    tmp_path: Path, start_project: Callable[..., Project]
) -> None:
    """An older migration (configsync_apply alone): init still works, from the
    OpenAPI description, and says that the new migration gives natural keys."""
    project = start_project(project_schema, tables=TABLES)
    run_sql(project.db, "DROP FUNCTION configsync_describe(text[])")
    project.server.reload()
    repo = new_repo(tmp_path / "repo")
    result = project.run(repo, "init", "--tables", ",".join(TABLES))
    assert result.code == 0, result.text
    assert "no configsync_describe function" in result.err
    assert "configsync supabase migration" in result.err
    commit(repo, "adopt")
    assert project.run(repo, "plan").code == 0


def test_the_describe_function_is_read_only_and_for_the_service_role_only(
    start_project: Callable[..., Project],
) -> None:
    project = start_project(project_schema, tables=TABLES)
    for key in (project.server.anon_key, project.server.key("authenticated")):
        status, body = project.call("POST", "rpc/configsync_describe", key, {"tables": TABLES})
        assert status in (401, 403) and body.get("code") == "42501", body
    status, body = project.call("POST", "rpc/configsync_describe", project.server.service_key, {"tables": None})
    assert status == 200, body
    assert body["managed"] == TABLES and body["version"] == FUNCTIONS_VERSION
    assert set(body["tables"]) == set(TABLES)
    assert body["tables"]["proposer_configs"]["row_security"]["enabled"] is True
    with psycopg.connect(project.db) as conn:
        volatility, definer = conn.execute(
            "SELECT provolatile, prosecdef FROM pg_proc WHERE proname = 'configsync_describe'").fetchone()
        config = conn.execute("SELECT proconfig FROM pg_proc WHERE proname = 'configsync_describe'").fetchone()[0]
    assert (volatility, definer) == ("s", False)
    assert config == ["search_path=pg_catalog, pg_temp"]



def test_first_adoption_over_rest_installs_describe_before_init(
    tmp_path: Path, start_project: Callable[..., Project]
) -> None:
    """A team with only the project URL and the service-role key: the migration
    before init (no configsync.yaml yet), `init --all` with natural keys, then
    plan asks for the migration of the adopted tables, and works once it is deployed."""
    project = start_project(project_schema, tables=None)
    repo = new_repo(tmp_path / "repo")
    result = project.run(repo, "supabase", "migration")
    assert result.code == 0, result.text
    assert "configsync_apply manages no table yet" in result.err
    assert "array[]::text[]" in result.out
    run_sql(project.db, result.out)
    project.server.reload()

    result = project.run(repo, "init", "--all")
    assert result.code == 0, result.text
    assert "configsync_describe" not in result.err  # no note: the function answered
    config = (repo / "configsync.yaml").read_text()
    for key in ("key: config_key", "key: [name, version]", "key: name", "key: route"):
        assert key in config, config
    commit(repo, "adopt")

    result = project.run(repo, "plan")
    assert result.code == 1, result.text
    assert "which the installed configsync_apply does not accept (it manages: none)" in result.err
    result = project.run(repo, "supabase", "migration")
    assert result.code == 0 and not result.err, result.text
    run_sql(project.db, result.out)
    project.server.reload()
    result = project.run(repo, "plan")
    assert result.code == 0 and "No changes." in result.out, result.text
