"""Fleets on one real PostgreSQL server: twelve databases as twelve tenants.

Every fleet run starts one configsync process per environment, so these tests
check what a user gets: each tenant's own apply, lock and history, waves, and
the exit codes over the fleet.
"""
from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from helpers import commit_all, dump, execute, fleet_config, init_repo, postgres_moose, run
from psycopg import sql
from support import postgres

TENANTS = [f"tenant-{n:02d}" for n in range(1, 13)]
FLEET_CONFIG = fleet_config(TENANTS, canary="tenant-01")
BUDGET = "config-snapshots/system_config/budget_limits.yaml"
# Only the tenant that has it refuses the change of daily_hard_cap (50 -> 45).
CAP_GUARD = ("ALTER TABLE system_config ADD CONSTRAINT cap_guard CHECK "
             "(config_key <> 'budget_limits' OR (config_value->>'daily_hard_cap')::int >= 50)")


@dataclass
class Fleet:
    repo: Path
    urls: dict[str, str]


def _url_var(tenant: str) -> str:
    return f"URL_{tenant.upper().replace('-', '_')}"


def _create(server: str, name: str, template: str | None = None) -> str:
    if template is None:
        return postgres.create_database(server, name)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return postgres.database_url(server, name)


@contextmanager
def tenants(server: str, source_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            database: Callable[[str], str]) -> Iterator[Fleet]:
    """Twelve tenants, each a database ``database(name)`` creates, their URLs in
    the variables configsync.yaml names, and a copy of the repository; dropped after."""
    repo = tmp_path / "repo"
    shutil.copytree(source_repo, repo)
    prefix = f"fleet_{uuid.uuid4().hex[:8]}"
    urls = {}
    try:
        for tenant in TENANTS:
            urls[tenant] = database(f"{prefix}_{tenant[-2:]}")
            monkeypatch.setenv(_url_var(tenant), urls[tenant])
        yield Fleet(repo, urls)
    finally:
        for tenant in urls:
            postgres.drop_database(server, f"{prefix}_{tenant[-2:]}")


@pytest.fixture(scope="module")
def applied_template(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A config repository holding the Moose rows, and a database (a template for
    tenants) where exactly that revision was applied."""
    prefix = f"fleet_{uuid.uuid4().hex[:8]}"
    source = postgres_moose(postgres.create_database(pg_server, f"{prefix}_source"))
    template = postgres_moose(postgres.create_database(pg_server, f"{prefix}_tmpl"), seed=False)
    repo = tmp_path_factory.mktemp("fleet") / "repo"
    init_repo(repo, config=FLEET_CONFIG)
    assert run(repo, "snapshot", "--commit", database=source).code == 2
    assert run(repo, "apply", "--yes", database=template).code == 0
    try:
        yield f"{prefix}_tmpl", repo
    finally:
        for name in ("source", "tmpl"):
            postgres.drop_database(pg_server, f"{prefix}_{name}")


@pytest.fixture
def fleet(pg_server: str, applied_template: tuple[str, Path], tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """Twelve tenants, each a copy of the applied template, and a copy of the repository."""
    template, source_repo = applied_template
    with tenants(pg_server, source_repo, tmp_path, monkeypatch, lambda name: _create(pg_server, name, template)) as made:
        yield made


def _budget_cap(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT config_value->>'daily_hard_cap' FROM system_config "
                           "WHERE config_key = 'budget_limits'").fetchone()
    assert row is not None
    return int(row[0])


def _change_cap(repo: Path) -> None:
    budget = repo / BUDGET
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    commit_all(repo, "lower the daily hard cap")


def test_initial_apply_to_twelve_fresh_databases_then_plan_and_drift(
    pg_server: str, applied_template: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, source_repo = applied_template
    fresh = tenants(pg_server, source_repo, tmp_path, monkeypatch,
                    lambda name: postgres_moose(_create(pg_server, name), seed=False))
    with fresh as made:
        repo, urls = made.repo, made.urls
        expected = dump(postgres.database_url(pg_server, applied_template[0]))

        applied = run(repo, "apply", "--env", "tenant-*", "--yes", "--jobs", "4")
        assert applied.code == 0, applied.text
        for tenant, url in urls.items():
            assert _without_times(dump(url)) == _without_times(expected), tenant
        # each tenant's own output, in order, then the summary table
        assert [line for line in applied.out.splitlines() if line.startswith("== ")] == [
            line for line in applied.out.splitlines() if line.startswith("== tenant-")]
        assert applied.out.index("== tenant-01") < applied.out.index("== tenant-12")
        assert "environment  result" in applied.out
        assert "12 environments: 12 ok" in applied.out

        planned = run(repo, "plan", "--env", "tenant-*")
        assert planned.code == 0, planned.text

        execute(urls["tenant-05"], "UPDATE system_config SET config_value = config_value || '{\"daily_hard_cap\": 99}' "
                "WHERE config_key = 'budget_limits'")
        status = run(repo, "status", "--env", "tenant-*", "--format", "json")
        assert status.code == 2, status.text
        document = json.loads(status.out)
        assert [e["env"] for e in document["environments"]] == TENANTS
        drifted = [e["env"] for e in document["environments"] if e["exit_code"] == 2]
        assert drifted == ["tenant-05"]
        assert all(e["in_sync"] == (e["env"] != "tenant-05") for e in document["environments"])
        assert all(e["error"] is None for e in document["environments"])
        assert document["summary"]["exit_code"] == 2
        assert document["summary"]["changed"] == 1
        text = run(repo, "status", "--env", "tenant-*")
        assert text.code == 2
        assert [line.split()[0] for line in text.out.splitlines() if " drift " in f" {line} "] == ["tenant-05"]


def _without_times(rows: dict[str, list[tuple[object, ...]]]) -> dict[str, list[tuple[object, ...]]]:
    """Rows without their created_at/updated_at (the last two columns of system_config and
    proposer_configs are timestamps the database assigns)."""
    return {table: sorted((tuple(v for v in row if not hasattr(v, "tzinfo")) for row in found), key=repr)
            for table, found in rows.items()}


def test_rollout_in_waves_with_one_broken_tenant(fleet: Fleet) -> None:
    execute(fleet.urls["tenant-07"], CAP_GUARD)
    before = dump(fleet.urls["tenant-07"])
    _change_cap(fleet.repo)

    result = run(fleet.repo, "apply", "--env", "tenant-*", "--yes", "--jobs", "4", "--format", "json")

    assert result.code == 1, result.text
    assert dump(fleet.urls["tenant-07"]) == before
    assert {t: _budget_cap(u) for t, u in fleet.urls.items() if t != "tenant-07"} == {
        t: 45 for t in TENANTS if t != "tenant-07"}
    document = json.loads(result.out)
    entries = {e["env"]: e for e in document["environments"]}
    assert entries["tenant-07"]["exit_code"] == 1
    assert "cap_guard" in entries["tenant-07"]["error"]
    assert entries["tenant-03"]["exit_code"] == 0
    assert entries["tenant-03"]["summary"] == {"create": 0, "update": 1, "delete": 0}
    assert entries["tenant-03"]["applied"] is True
    assert entries["tenant-03"]["backup"].startswith("refs/configsync/backups/tenant-03/")
    assert document["summary"]["failed"] == ["tenant-07"]
    assert document["summary"]["not_attempted"] == []


def test_a_failing_canary_stops_the_rollout_before_any_other_tenant(fleet: Fleet) -> None:
    execute(fleet.urls["tenant-01"], CAP_GUARD)
    before = {t: dump(u) for t, u in fleet.urls.items()}
    _change_cap(fleet.repo)

    result = run(fleet.repo, "apply", "--env", "tenant-*", "--yes", "--jobs", "4")

    assert result.code == 1, result.text
    assert {t: dump(u) for t, u in fleet.urls.items()} == before
    assert "not attempted: " + ", ".join(TENANTS[1:]) in result.err
    assert "== tenant-02" not in result.out


def test_max_envs_with_deletes_refuses_before_any_write(fleet: Fleet) -> None:
    before = {t: dump(u) for t, u in fleet.urls.items()}
    (fleet.repo / "config-snapshots/system_config/orchestrator_enabled.yaml").unlink()
    _change_cap(fleet.repo)

    result = run(fleet.repo, "apply", "--env", "tenant-*", "--yes", "--max-envs-with-deletes", "3",
                 "--format", "json")

    assert result.code == 1, result.text
    assert "12 environments would delete rows, more than --max-envs-with-deletes 3" in result.err
    assert "nothing was written" in result.err
    assert {t: dump(u) for t, u in fleet.urls.items()} == before
    document = json.loads(result.out)
    assert [e["env"] for e in document["environments"]] == TENANTS
    assert document["summary"]["refused"].startswith("refusing the fleet apply")

    allowed = run(fleet.repo, "apply", "--env", "@canary,tenant-02", "--yes", "--max-envs-with-deletes", "2")
    assert allowed.code == 0, allowed.text
    assert _budget_cap(fleet.urls["tenant-02"]) == 45
    assert _budget_cap(fleet.urls["tenant-03"]) == 50
