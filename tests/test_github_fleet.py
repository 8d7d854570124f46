"""Fleets in GitHub Actions: config-fleet-apply.yml run by the test runner of
test_github.py over a local bare ``origin`` with three environments, three real
PostgreSQL databases, each in its own GitHub environment with its own secret."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from configsync import fleet as fleet_runs
from configsync import fleet_markdown
from helpers import execute, fleet_config, postgres_moose
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
    make_origin,
    pull_request_event,
    read_cap,
    read_file_commands,
    script,
)

TENANTS = ["tenant-1", "tenant-2", "tenant-3"]
FLEET_CONFIG = fleet_config(TENANTS, canary="tenant-1")
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
        origin = make_origin(tmp_path, urls["tenant-1"], FLEET_CONFIG)
        github.origin = origin.bare
        yield Fleet(origin, urls, MiniRunner(tmp_path / "runs", origin.bare, github))
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


# ---- the pull request's plan over the fleet --------------------------------------------------


def readonly_environments(urls: dict[str, str]) -> str:
    """The secret CONFIGSYNC_READONLY_ENVIRONMENTS: VARIABLE=URL per line."""
    return "# read-only roles\n" + "".join(f"URL_{t.upper().replace('-', '_')}={url}\n" for t, url in urls.items())


def test_pull_request_plans_every_environment_in_one_job_and_one_comment(fleet: Fleet, github: FakeGitHub) -> None:  # noqa: F811
    execute(fleet.urls["tenant-2"], "UPDATE system_config SET config_value = jsonb_set(config_value, "
            "'{daily_hard_cap}', '45') WHERE config_key = 'budget_limits'")  # tenant-2 holds it already
    sha = fleet.origin.commit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 45", "lower the cap", branch="feature")
    secrets = {"CONFIGSYNC_READONLY_ENVIRONMENTS": readonly_environments(fleet.urls)}
    jobs = fleet.runner.run("config-pr.yml", "pull_request", ref="refs/pull/7/merge", sha=sha,
                            event=pull_request_event(7, sha), secrets=secrets)
    plan = jobs["plan"]
    assert plan.result == "success", plan.log
    assert plan.step("configsync plan").outcome == "skipped"
    assert plan.step("configsync plan (every environment)").outputs["exit-code"] == "2"
    (comment,) = github.comments[7]
    body = comment["body"]
    assert body.startswith("<!-- configsync:plan -->\n### configsync plan over 3 environments: 2 with changes, 0 failed")
    assert "| `tenant-1` | changes | 0 | 1 | 0 |" in body and "| `tenant-2` | ok | 0 | 0 | 0 |" in body
    assert body.count("<details>") == 2 and "<code>tenant-2</code>" not in body
    assert "<details><summary><code>tenant-3</code>: 0 to create, 1 to update, 0 to delete</summary>" in body
    assert body.count("+     config_value.daily_hard_cap: 45") == 2 and "environment tenant\\-3 · revision" in body
    for url in fleet.urls.values():  # no URL in the comment, each masked in the log
        assert url not in body and f"::add-mask::{url}" in plan.log
    assert [read_cap(url) for url in fleet.urls.values()] == [50, 45, 50]  # a plan changes nothing


def _run(env: str, code: int, stdout: str) -> fleet_runs.EnvRun:
    return fleet_runs.EnvRun(env, code, 1.0, stdout, "error: boom\n" if code == 1 else "",
                             {"summary": {"create": 0, "update": 3, "delete": 0}} if code != 1 else {})


def test_fleet_markdown_fits_a_comment_and_keeps_every_section_readable() -> None:
    big = "### configsync plan: 0 to create, 3 to update, 0 to delete\n\n#### t\n\n````diff\n" + \
        "".join(f"! key-{n}    config-snapshots/t/key-{n}.yaml\n    value: {'x' * 60}\n" for n in range(400)) + "````\n"
    runs = [_run(f"tenant-{n:03d}", 2, big) for n in range(30)]
    runs += [_run("small", 2, "### configsync plan: 0 to create, 1 to update, 0 to delete\n"), _run("broken", 1, "")]
    runs += [_run(f"quiet-{n:03d}", 0, "### configsync plan: no changes\n") for n in range(100)]

    def result(run: fleet_runs.EnvRun) -> str:
        return {0: "ok", 1: "failed", 2: "changes"}[run.exit_code]

    def counts(run: fleet_runs.EnvRun) -> dict[str, int] | None:
        return run.report.get("summary")

    text = fleet_markdown.report("plan", runs, ["later-1"], result, counts)
    assert len(text) <= fleet_markdown.LIMIT < 65536
    assert text.startswith("### configsync plan over 133 environments: 31 with changes, 1 failed, 1 not attempted")
    assert text.count("<details>") == text.count("</details>") == 32  # every one with changes, and the failure
    assert "| `later-1` | not attempted |" in text and "100 environments without changes are not listed." in text
    assert "quiet-000" not in text
    # the small section whole, each big one cut with its fence closed and a note saying how to see it all
    assert "<code>small</code>: 0 to create, 3 to update, 0 to delete</summary>\n\n" \
        "### configsync plan: 0 to create, 1 to update, 0 to delete\n\n</details>" in text
    assert "small's output is cut" not in text
    for n in range(30):
        assert f"_… tenant-{n:03d}'s output is cut to fit GitHub's comment size limit: " \
               f"`configsync plan --env tenant-{n:03d}` shows all of it._" in text
    for section in text.split("<details>")[1:]:
        assert sum(1 for line in section.splitlines() if line.startswith("````")) % 2 == 0, section[-300:]
    assert "configsync failed here (exit code 1); its error is in the job log." in text and "boom" not in text
    # a run's text output (apply) is fenced, so nothing in it reads as Markdown
    applied = fleet_markdown.report("apply", [_run("a", 2, "<img src=x> | **approved**")], [], result, counts)
    assert "```\n<img src=x> | **approved**\n```" in applied


def test_environment_variables_secret_is_checked_and_masked(tmp_path: Path) -> None:
    fake = tmp_path / "configsync"
    fake.write_text("#!/bin/sh\necho \"url=$URL_TENANT_1 ld=$LD_PRELOAD list=$CONFIGSYNC_ENVIRONMENT_VARIABLES\"\n")
    fake.chmod(0o755)

    def call(variables: str) -> tuple[int, str, dict[str, str]]:
        output = tmp_path / "output"
        output.write_text("")
        proc = script("run_configsync.py", env={
            "CONFIGSYNC_BIN": str(fake), "CONFIGSYNC_ARGS": "plan --env * --format markdown",
            "CONFIGSYNC_ENVIRONMENT_VARIABLES": variables, "CONFIGSYNC_DATABASE_VARIABLE": "CONFIGSYNC_ENVIRONMENT_VARIABLES",
            "CONFIGSYNC_WITHOUT_DATABASE": "skip", "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp_path)})
        return proc.returncode, proc.stdout, read_file_commands(output)

    code, stdout, outputs = call("URL_TENANT_1=postgresql://r:pw@h/db\n")
    assert code == 0 and "::add-mask::postgresql://r:pw@h/db" in stdout
    assert "url=postgresql://r:pw@h/db ld= list=\n" in Path(outputs["output"]).read_text()  # the list itself is not passed on
    for bad, message in (("LD_PRELOAD=/tmp/x.so", "line 1: LD_PRELOAD is not a database variable"),
                         ("# c\nnot a line", "line 2: expected VARIABLE=VALUE")):
        code, stdout, _ = call(bad)
        assert code == 1 and message in stdout and "/tmp/x.so" not in stdout, stdout
    # empty (a pull request from a fork gets no secrets): skipped, even though --env is given
    code, _, outputs = call("")
    assert code == 0 and outputs["skipped"] == "true"


# ---- drift over the fleet --------------------------------------------------------------------


def test_snapshot_opens_one_drift_pull_request_per_drifted_environment(fleet: Fleet, github: FakeGitHub) -> None:  # noqa: F811
    secrets = {"CONFIGSYNC_READONLY_ENVIRONMENTS": readonly_environments(fleet.urls)}

    def snapshot() -> Job:
        job = fleet.runner.run("config-snapshot.yml", "schedule", ref="refs/heads/main", sha=fleet.origin.main(),
                               event={"schedule": "17 */6 * * *"}, secrets=secrets)["snapshot"]
        assert job.result == "success", job.log
        assert job.step("configsync snapshot").outcome == "skipped"  # the one-database path
        return job

    execute(fleet.urls["tenant-2"], "UPDATE system_config SET config_value = jsonb_set(config_value, "
            "'{daily_hard_cap}', '45') WHERE config_key = 'budget_limits'")
    execute(fleet.urls["tenant-3"], "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'gpt-4o-mini'")
    main = fleet.origin.main()
    job = snapshot()
    assert fleet.origin.branch("configsync/drift-tenant-1") is None
    for tenant, path in (("tenant-2", "system_config/budget_limits.yaml"),
                         ("tenant-3", "proposer_configs/gpt-4o-mini.yaml")):
        branch = fleet.origin.branch(f"configsync/drift-{tenant}")
        assert branch is not None and _git(fleet.origin.bare, "rev-parse", f"{branch}^") == main
        # only that environment's overlay: merging it changes no other environment
        assert _git(fleet.origin.bare, "diff", "--name-only", main, branch) == \
            f"config-snapshots/_environments/{tenant}/{path}"
    assert [(p["head"]["ref"], p["state"]) for p in github.pulls] == [
        ("configsync/drift-tenant-2", "open"), ("configsync/drift-tenant-3", "open")]
    two, three = github.pulls
    assert two["title"].startswith("configsync: drift in tenant-2: ") and "environment `tenant-2`" in two["body"]
    assert "daily_hard_cap" in two["body"] and "context_limit" not in two["body"]
    assert "context_limit" in three["body"] and "`environments: tenant-3`" in three["body"]
    assert "Pull request #1 created" in job.summary and "drift in tenant-1" in job.summary
    for url in fleet.urls.values():
        assert url not in job.summary and url not in two["body"] + three["body"]

    # tenant-2 is put back: its pull request is closed and its branch deleted; tenant-3's stays as it was
    execute(fleet.urls["tenant-2"], "UPDATE system_config SET config_value = jsonb_set(config_value, "
            "'{daily_hard_cap}', '50') WHERE config_key = 'budget_limits'")
    three_branch = fleet.origin.branch("configsync/drift-tenant-3")
    snapshot()
    assert [(p["head"]["ref"], p["state"]) for p in github.pulls] == [
        ("configsync/drift-tenant-2", "closed"), ("configsync/drift-tenant-3", "open")]
    assert fleet.origin.branch("configsync/drift-tenant-2") is None
    assert fleet.origin.branch("configsync/drift-tenant-3") == three_branch


def test_fleet_targets_refuse_names_github_would_fold_together(tmp_path: Path) -> None:
    """GitHub environment names ignore case: tenant-a and Tenant-A would share one secret."""
    (tmp_path / "configsync.yaml").write_text(
        "environments:\n  tenant-a: ${URL_A}\n  Tenant-A: ${URL_B}\n  tenant-b: sqlite:///b.db\n"
        "tables:\n  t:\n    key: id\n")
    output = tmp_path / "output"
    output.touch()
    env = {"GITHUB_OUTPUT": str(output)}
    proc = script("fleet_apply.py", "targets", "--env", "tenant-a,Tenant-A", env=env, cwd=tmp_path)
    assert proc.returncode == 1 and "environments tenant-a and Tenant-A differ only in case" in proc.stdout, proc.stdout
    proc = script("fleet_apply.py", "targets", "--env", "tenant-*", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outputs = read_file_commands(output)
    assert json.loads(outputs["canary"]) == [{"env": "tenant-a", "variable": "URL_A"}, {"env": "tenant-b", "variable": ""}]
    assert json.loads(outputs["rollout"]) == [] and json.loads(outputs["all"]) == ["tenant-a", "tenant-b"]
