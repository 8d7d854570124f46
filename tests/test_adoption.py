"""Adoption: init from a live database and from a JSON backup, schema inference
and checks, import-backup, and per-environment overlays."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pygit2
import pytest
from helpers import ENV_CONFIG, MOOSE, commit_all, dump, execute, postgres_moose, run, two_environments

# The real backup, shipped with the example (a copy of the workplace's shared/examples/moose/).
BACKUP = Path(__file__).resolve().parents[1] / "examples" / "moose" / "config-backup-2025-10-03.json"

EXTRA_DDL = """
CREATE TYPE tier AS ENUM ('free', 'pro', 'enterprise');
CREATE TABLE tenant_limits (
    tenant   text    NOT NULL,
    region   text    NOT NULL CHECK (region IN ('eu', 'us', 'apac')),
    tier     tier    NOT NULL,
    max_rps  integer NOT NULL,
    note     varchar(40),
    PRIMARY KEY (tenant, region)
);
INSERT INTO tenant_limits VALUES ('acme', 'eu', 'pro', 100, 'launch customer'), ('globex', 'us', 'free', 5, NULL);
"""


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    pygit2.init_repository(str(path), initial_head="main")
    repo = pygit2.Repository(str(path))
    repo.config["user.name"] = "Test Author"
    repo.config["user.email"] = "test@example.com"
    return path


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts and ".configsync" not in p.parts
    }


def test_init_from_postgres_infers_strict_schemas_and_is_idempotent(tmp_path: Path, pg_url: str) -> None:
    postgres_moose(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(EXTRA_DDL)
    repo = new_repo(tmp_path / "adopt")
    result = run(repo, "init", "--database", pg_url, "--all")
    assert result.code == 0, result.text
    config = (repo / "configsync.yaml").read_text()
    assert "    key: config_key\n" in config  # a readable natural key, not the uuid
    assert "    key: [tenant, region]\n" in config
    assert "exclude: [created_at, updated_at]" in config
    assert "excluded: they change on every write" in config  # the choice is explained
    assert pg_url not in config  # a live URL (maybe with a password) is never written
    limits = json.loads((repo / "schemas/tenant_limits.schema.json").read_text())
    assert limits["properties"]["tier"] == {"enum": ["free", "pro", "enterprise"]}
    assert limits["properties"]["region"] == {"enum": ["eu", "us", "apac"]}
    assert limits["properties"]["note"]["maxLength"] == 40
    assert limits["properties"]["max_rps"]["maximum"] == 2**31 - 1
    assert set(limits["required"]) == {"tenant", "region", "tier", "max_rps"}
    assert (repo / "config-snapshots/tenant_limits/acme__eu.yaml").exists()
    assert (repo / ".pre-commit-config.yaml").exists()
    assert len(list((repo / "config-snapshots/system_config").glob("*.yaml"))) == 6

    # the existing rows pass their inferred schemas
    assert run(repo, "validate").code == 0
    first = tree_bytes(repo)

    # running init again changes nothing
    again = run(repo, "init", "--database", pg_url, "--all")
    assert again.code == 0, again.text
    assert "0 file(s) written" in again.out
    assert tree_bytes(repo) == first

    # the schemas reject a value outside the enum and a wrong type
    acme = repo / "config-snapshots/tenant_limits/acme__eu.yaml"
    acme.write_text(acme.read_text().replace("tier: pro", "tier: platinum"))
    result = run(repo, "validate")
    assert result.code == 1 and "acme__eu.yaml:4: tier: 'platinum' is not one of" in result.out
    acme.write_text(acme.read_text().replace("tier: platinum", "tier: pro").replace("max_rps: 100", "max_rps: lots"))
    result = run(repo, "validate")
    assert result.code == 1 and "max_rps: 'lots' is not of type 'integer'" in result.out

    # a person's edit survives a re-run of init, which adds nothing and calls nothing edited
    (repo / "configsync.yaml").write_text(config + "# reviewed by the platform team\n")
    again = run(repo, "init", "--database", pg_url, "--all")
    assert again.code == 0 and "left alone (edited" not in again.out, again.out
    assert "No table added." in again.out
    assert (repo / "configsync.yaml").read_text().endswith("# reviewed by the platform team\n")


def test_init_needs_a_git_repo_and_tables(tmp_path: Path, moose_url: str) -> None:
    result = run(tmp_path, "init", "--database", moose_url, "--all")
    assert result.code == 1 and "not inside a git work tree" in result.err
    repo = new_repo(tmp_path / "r")
    result = run(repo, "init", "--database", moose_url)
    assert result.code == 1 and "--tables" in result.err
    result = run(repo, "init", "--database", moose_url, "--tables", "system_config,nope")
    assert result.code == 1 and "table nope does not exist" in result.err
    assert not (repo / "configsync.yaml").exists()


def _instant(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, str) and len(value) > 18 and value[4] == "-" and value[10] == "T":
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return value


def test_init_from_backup_reproduces_every_value(tmp_path: Path, pg_url: str) -> None:
    assert BACKUP.exists(), f"the Moose backup is missing: {BACKUP}"
    repo = new_repo(tmp_path / "from-backup")
    result = run(repo, "init", "--from-backup", str(BACKUP), "--action", "acme/configsync@v0.1.0")
    assert result.code == 0, result.text
    workflow = (repo / ".github/workflows/config-apply.yml").read_text()
    assert "uses: acme/configsync/.github/actions/configsync@v0.1.0" in workflow
    assert "OWNER/REPO" not in workflow
    assert "'v0.1.0' is a tag or branch, not a commit" in result.err  # a tag can be moved: init says so
    records = sorted(p.relative_to(repo).as_posix() for p in (repo / "config-snapshots").rglob("*.yaml"))
    assert len(records) == 8
    assert run(repo, "validate").code == 0
    commit_all(repo, "adopt the 2025-10-03 backup")

    postgres_moose(pg_url, seed=False)
    result = run(repo, "apply", "--yes", database=pg_url)
    assert result.code == 0, result.text
    backup = json.loads(BACKUP.read_text(), parse_float=Decimal)
    with psycopg.connect(pg_url) as conn:
        psycopg.types.json.set_json_loads(lambda text: json.loads(text, parse_float=Decimal), conn)
        for table in ("system_config", "proposer_configs", "contracts"):
            cursor = conn.execute(f"SELECT * FROM {table}")
            names = [c.name for c in cursor.description]
            rows = {str(row[0]): dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
            assert len(rows) == len(backup[table])
            for expected in backup[table]:
                actual = rows[expected["id"]]
                for column, value in expected.items():
                    got = actual[column]
                    got = str(got) if column == "id" else got
                    assert _instant(got) == _instant(value), (table, expected["id"], column)
    assert run(repo, "plan", database=pg_url).code == 0


def test_import_backup_equals_a_snapshot_of_the_same_data(repo_path: Path) -> None:
    """The shipped config-snapshots/ were written by `snapshot` from a database
    seeded with this backup; importing the JSON must give the same bytes."""
    result = run(repo_path, "import-backup", str(BACKUP))
    assert result.code == 0, result.text
    assert "8 file(s) written, 0 removed" in result.out
    shipped = MOOSE.parent.parent / "config-snapshots"
    for path in shipped.rglob("*.yaml"):
        assert (repo_path / "config-snapshots" / path.relative_to(shipped)).read_bytes() == path.read_bytes()
    # created_at/updated_at are excluded by this config: imported without them
    assert "created_at" not in (repo_path / "config-snapshots/system_config/budget_limits.yaml").read_text()
    result = run(repo_path, "import-backup", str(BACKUP))
    assert "0 file(s) written, 0 removed" in result.out
    result = run(repo_path, "import-backup", str(repo_path / "configsync.yaml"))
    assert result.code == 1 and "invalid JSON" in result.err


def test_schema_check_catches_a_migration(repo_path: Path, moose_url: str) -> None:
    run(repo_path, "snapshot", "--commit", database=moose_url)
    result = run(repo_path, "schema", "check", database=moose_url)
    assert result.code == 0, result.text
    execute(moose_url, "ALTER TABLE system_config ADD COLUMN owner TEXT")
    result = run(repo_path, "schema", "check", database=moose_url)
    assert result.code == 2, result.text
    assert "system_config.owner: in the database but not in the schema" in result.out
    inferred = json.loads(run(repo_path, "schema", "infer", "system_config", database=moose_url).out)
    assert inferred["properties"]["owner"] == {"type": ["string", "null"]}


def test_environment_overlays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, staging, production = two_environments(tmp_path, monkeypatch)
    # the base: a snapshot of production without --env (an --env snapshot writes an overlay)
    assert run(repo, "snapshot", "--commit", "--database", production).code == 2
    overlay = repo / "config-snapshots/_environments/staging/system_config/budget_limits.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("# staging spends less\nconfig_value:\n  daily_hard_cap: 10\n")
    commit_all(repo, "staging: lower the daily hard cap")
    assert run(repo, "validate").code == 0

    result = run(repo, "plan", "--env", "staging")
    assert result.code == 2, result.text
    assert "config_value.daily_hard_cap: 50 -> 10" in result.out
    assert "_environments/staging/system_config/budget_limits.yaml" in result.out
    assert run(repo, "apply", "--env", "staging", "--yes").code == 0
    assert run(repo, "apply", "--env", "production", "--yes").code == 0  # nothing to do: base = production
    caps = {}
    for name, url in (("staging", staging), ("production", production)):
        rows = dump(url)["system_config"]
        budget = next(r for r in rows if "budget_limits" in r)
        caps[name] = json.loads(budget[2])
    assert caps["staging"] == {**caps["production"], "daily_hard_cap": 10}
    assert caps["production"]["daily_hard_cap"] == 50

    # an out-of-band change on staging lands in the overlay, never the base
    execute(staging, "UPDATE system_config SET description = 'tuned by hand' WHERE config_key = 'orchestrator_enabled'")
    execute(staging, "DELETE FROM proposer_configs WHERE name = 'claude-sonnet-4-5'")
    base_before = {p: p.read_bytes() for p in (repo / "config-snapshots").glob("[!_]*/*.yaml")}
    result = run(repo, "snapshot", "--env", "staging")
    assert result.code == 2, result.text
    assert {p: p.read_bytes() for p in (repo / "config-snapshots").glob("[!_]*/*.yaml")} == base_before
    env_dir = repo / "config-snapshots/_environments/staging"
    assert overlay.read_text().startswith("# staging spends less")  # unchanged data keeps its comment
    enabled = (env_dir / "system_config/orchestrator_enabled.yaml").read_text()
    assert "description: tuned by hand" in enabled and "config_value" not in enabled
    assert "$delete: true" in (env_dir / "proposer_configs/claude-sonnet-4-5.yaml").read_text()
    assert run(repo, "snapshot", "--env", "staging").code == 0
    commit_all(repo, "staging drift")
    assert run(repo, "plan", "--env", "staging").code == 0
    assert run(repo, "plan", "--env", "production").code == 0


def test_overlay_problems_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import init_repo

    monkeypatch.setenv("STAGING_DB", "sqlite:///unused.db")
    monkeypatch.setenv("PRODUCTION_DB", "sqlite:///unused.db")
    repo = tmp_path / "bad-envs"
    init_repo(repo, config=ENV_CONFIG)
    base = repo / "config-snapshots/system_config/orchestrator_enabled.yaml"
    base.parent.mkdir(parents=True)
    base.write_text("config_key: orchestrator_enabled\nconfig_value: false\nconfig_type: boolean\n")
    env = repo / "config-snapshots/_environments"
    (env / "staging/system_config").mkdir(parents=True)
    (env / "staging/system_config/orchestrator_enabled.yaml").write_text("config_type: nonsense\n")
    (env / "staging/system_config/missing.yaml").write_text("$delete: true\n")
    (env / "stagin/system_config").mkdir(parents=True)
    (env / "stagin/system_config/orchestrator_enabled.yaml").write_text("config_value: true\n")
    result = run(repo, "validate")
    assert result.code == 1
    assert "_environments/staging/system_config/orchestrator_enabled.yaml:1: config_type: 'nonsense' is not one of" in result.out
    assert "missing.yaml:1: $delete: there is no record missing.yaml in the base to remove" in result.out
    assert "environment 'stagin' is not in configsync.yaml environments (staging, production)" in result.out
