"""Fleets in GitHub Actions: config-fleet-apply.yml run by the test runner of
test_github.py over a local bare ``origin`` with three environments, three real
PostgreSQL databases, each in its own GitHub environment with its own secret."""
from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ROOT, commit_all, execute, init_repo, postgres_moose, run
from support import postgres
from test_github import (  # noqa: F401 - the fake API is a fixture
    GITHUB,
    TEMPLATES,
    WORKFLOWS,
    FakeGitHub,
    Job,
    MiniRunner,
    Origin,
    _git,
    github,
    load,
    read_cap,
)

TENANTS = ["tenant-1", "tenant-2", "tenant-3"]
FLEET_CONFIG = (ROOT / "configsync.yaml").read_text().replace(
    "environments:\n  production: ${SUPABASE_DB_URL}\n",
    "environments:\n"
    + "".join(f"  {t}: ${{URL_{t.upper().replace('-', '_')}}}\n" for t in TENANTS)
    + "groups:\n  canary: [tenant-1]\n"
    + 'rollout: ["@canary", "tenant-*"]\n',
)
SECRET = "CONFIGSYNC_FLEET_DATABASE_URL"
BUDGET = "system_config/budget_limits.yaml"
CAP_GUARD = ("ALTER TABLE system_config ADD CONSTRAINT cap_guard CHECK "
             "(config_key <> 'budget_limits' OR (config_value->>'daily_hard_cap')::int >= 50)")


@dataclass
class Fleet:
    origin: Origin
    urls: dict[str, str]
    runner: MiniRunner

    def environments(self, *without: str) -> dict[str, dict[str, str]]:
        """Each GitHub environment's secrets (none for those in ``without``)."""
        return {t: {SECRET: url} for t, url in self.urls.items() if t not in without}

    def dispatch(self, sha: str, environments: dict[str, dict[str, str]] | None = None,
                 secrets: dict[str, str] | None = None, selector: str = "*") -> dict[str, Job]:
        return self.runner.run("config-fleet-apply.yml", "workflow_dispatch", ref="refs/heads/main", sha=sha,
                               inputs={"environments": selector, "max-parallel": "2"}, secrets=secrets or {},
                               environments=self.environments() if environments is None else environments)


@pytest.fixture
def fleet(tmp_path: Path, pg_server: str, github: FakeGitHub) -> Iterator[Fleet]:  # noqa: F811
    prefix = f"ghfleet_{uuid.uuid4().hex[:8]}"
    urls = {t: postgres_moose(postgres.create_database(pg_server, f"{prefix}_{t[-1]}")) for t in TENANTS}
    try:
        seed = tmp_path / "seed"
        init_repo(seed, config=FLEET_CONFIG)
        for part in ("actions", "scripts"):
            shutil.copytree(GITHUB / part, seed / ".github" / part, ignore=shutil.ignore_patterns("__pycache__"))
        commit_all(seed, "the configsync action")
        assert run(seed, "snapshot", "--commit", database=urls["tenant-1"]).code == 2
        bare = tmp_path / "origin.git"
        _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        _git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
        _git(seed, "push", "--quiet", str(bare), "main:refs/heads/main")
        clone = tmp_path / "clone"
        _git(tmp_path, "clone", "--quiet", str(bare), str(clone))
        for key, value in (("user.name", "Dev"), ("user.email", "dev@example.com")):
            _git(clone, "config", key, value)
        github.origin = bare
        yield Fleet(Origin(bare, clone), urls, MiniRunner(tmp_path / "runs", bare, github))
    finally:
        for t in TENANTS:
            postgres.drop_database(pg_server, f"{prefix}_{t[-1]}")


def legs(job: Job) -> list[tuple[str, str, str]]:
    """(configsync environment, GitHub environment, result) of each of a matrix job's runs."""
    return [(target["env"], leg.environment, leg.result) for target, leg in job.legs]


def test_fleet_apply_rolls_out_the_canary_first_then_the_rest_and_sums_up(fleet: Fleet) -> None:
    change = fleet.origin.commit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 45", "lower the cap")
    jobs = fleet.dispatch(change)
    assert jobs["targets"].result == "success", jobs["targets"].log
    assert json.loads(jobs["targets"].outputs["canary"]) == [{"env": "tenant-1", "variable": "URL_TENANT_1"}]
    assert [t["env"] for t in json.loads(jobs["targets"].outputs["rollout"])] == ["tenant-2", "tenant-3"]
    # each environment in its own runner and GitHub environment, the canary's wave before the others
    assert legs(jobs["canary"]) == [("tenant-1", "tenant-1", "success")], jobs["canary"].log
    assert legs(jobs["rollout"]) == [("tenant-2", "tenant-2", "success"), ("tenant-3", "tenant-3", "success")]
    assert list(jobs) == ["targets", "canary", "rollout", "summary"]
    assert {t: read_cap(url) for t, url in fleet.urls.items()} == dict.fromkeys(TENANTS, 45)
    # each environment's JSON result, collected into one table
    summary = jobs["summary"]
    assert summary.result == "success", summary.log
    for tenant in TENANTS:
        assert f"| {tenant} | applied | 0 | 1 | 0 |" in summary.summary, summary.summary
    assert "3 environments: 3 ok, 0 failed, 0 not attempted." in summary.summary
    assert "config_value.daily_hard_cap: 50 -> 45" in jobs["canary"].summary
    # every environment's backup ref reached origin
    backups = [r for r in fleet.origin.refs() if r.startswith("refs/configsync/backups/")]
    assert sorted(r.split("/")[3] for r in backups) == TENANTS, backups

    # run again: nothing to change anywhere, everything ok
    jobs = fleet.dispatch(change)
    assert jobs["summary"].result == "success" and "| tenant-3 | ok | 0 | 0 | 0 |" in jobs["summary"].summary


def test_a_failing_canary_stops_the_later_wave(fleet: Fleet) -> None:
    execute(fleet.urls["tenant-1"], CAP_GUARD)  # the canary's database refuses the change
    change = fleet.origin.commit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 45", "lower the cap")
    jobs = fleet.dispatch(change)
    assert legs(jobs["canary"]) == [("tenant-1", "tenant-1", "failure")]
    assert jobs["canary"].result == "failure"
    assert jobs["rollout"].result == "skipped" and jobs["rollout"].legs == []
    assert {t: read_cap(url) for t, url in fleet.urls.items()} == dict.fromkeys(TENANTS, 50)
    summary = jobs["summary"]
    assert summary.result == "failure"  # the run ends red, with the whole picture
    assert "| tenant-1 | failed |" in summary.summary and "cap_guard" in summary.summary
    assert "| tenant-2 | not attempted |" in summary.summary and "| tenant-3 | not attempted |" in summary.summary
    assert "Not attempted (a wave before them failed, or their job was cancelled): tenant-2, tenant-3." in summary.summary


def test_a_later_environment_without_its_secret_fails_alone(fleet: Fleet) -> None:
    change = fleet.origin.commit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 45", "lower the cap")
    jobs = fleet.dispatch(change, environments=fleet.environments("tenant-3"))
    assert legs(jobs["rollout"]) == [("tenant-2", "tenant-2", "success"), ("tenant-3", "tenant-3", "failure")]
    assert "the GitHub environment 'tenant-3' has no secret CONFIGSYNC_FLEET_DATABASE_URL" in jobs["rollout"].log
    assert [read_cap(fleet.urls[t]) for t in TENANTS] == [45, 45, 50]
    assert jobs["summary"].result == "failure" and "| tenant-3 | failed |" in jobs["summary"].summary


def test_a_repository_level_secret_is_refused_before_any_apply(fleet: Fleet) -> None:
    """A repository secret would reach every environment lacking its own: one database for all."""
    change = fleet.origin.commit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 45", "lower the cap")
    jobs = fleet.dispatch(change, environments={}, secrets={SECRET: fleet.urls["tenant-1"]})
    assert jobs["targets"].result == "failure"
    assert "is set as a repository or organization secret" in jobs["targets"].log
    assert all(jobs[j].result == "skipped" for j in ("canary", "rollout", "summary"))
    assert [read_cap(fleet.urls[t]) for t in TENANTS] == [50, 50, 50]


def test_a_selection_of_one_group_and_an_empty_selection(fleet: Fleet) -> None:
    change = fleet.origin.commit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 45", "lower the cap")
    jobs = fleet.dispatch(change, selector="tenant-2,tenant-3")
    assert json.loads(jobs["targets"].outputs["canary"]) == [
        {"env": "tenant-2", "variable": "URL_TENANT_2"}, {"env": "tenant-3", "variable": "URL_TENANT_3"}]
    assert jobs["rollout"].result == "skipped" and jobs["summary"].result == "success"
    assert [read_cap(fleet.urls[t]) for t in TENANTS] == [50, 45, 45]
    # a selection that matches nothing is an error, never "nothing to do"
    jobs = fleet.dispatch(change, selector="tenant-9*")
    assert jobs["targets"].result == "failure" and "matches no environment" in jobs["targets"].log
    assert jobs["canary"].result == "skipped" and jobs["summary"].result == "skipped"


def test_fleet_workflow_policies() -> None:
    """One environment per runner, in the GitHub environment of its name, with that environment's
    secret by a fixed name (never secrets[...]: GitHub would hand every secret to every runner)."""
    for path in (WORKFLOWS / "config-fleet-apply.yml", TEMPLATES / "workflows" / "config-fleet-apply.yml"):
        text, data = path.read_text(), load(path)
        assert set(data["on"]) == {"workflow_dispatch"}
        inputs = data["on"]["workflow_dispatch"]["inputs"]
        assert inputs["environments"]["default"] == "*" and inputs["max-parallel"]["type"] == "number"
        assert "secrets[" not in text and "toJSON(secrets" not in text
        assert data["concurrency"]["cancel-in-progress"] is False
        jobs = data["jobs"]
        assert list(jobs) == ["targets", "canary", "rollout", "summary"]
        assert jobs["targets"]["if"] == "github.ref == 'refs/heads/main'"
        for name, source in (("canary", "canary"), ("rollout", "rollout")):
            job = jobs[name]
            assert job["strategy"] == {"fail-fast": False, "max-parallel": "${{ inputs.max-parallel }}",
                                       "matrix": {"target": f"${{{{ fromJSON(needs.targets.outputs.{source}) }}}}"}}
            assert job["environment"] == "${{ matrix.target.env }}"
            secret_steps = [s for s in job["steps"] if "secrets." in json.dumps(s.get("env", {}))]
            assert [s["env"][SECRET] for s in secret_steps] == ["${{ secrets.CONFIGSYNC_FLEET_DATABASE_URL }}"]
        assert jobs["rollout"]["needs"] == ["targets", "canary"]
        assert jobs["summary"]["if"].startswith("always()")
