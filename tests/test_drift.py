"""Three-way plans: every difference is git, drift or conflict against the
revision last deployed to the database; apply refuses to undo drift unless
told (--keep-drift, --overwrite-drift, tables.X.drift). Both backends."""
from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pygit2
import pytest
from configsync import plan as plan_module
from configsync.baseline import classify, decide, split
from configsync.changes import Change, changes
from configsync.records import Record
from helpers import applied_environments, commit_all, dump, execute, head, init_repo, is_clean, postgres_moose, run

MINI = "config-snapshots/proposer_configs/gpt-4o-mini.yaml"
BUDGET = "config-snapshots/system_config/budget_limits.yaml"
EDIT_IN_DB = "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'gpt-4o-mini'"


def scalar(url: str, sql: str) -> Any:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        row = pg.execute(sql).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return row[0]


def context_limit(url: str) -> int:
    return int(scalar(url, "SELECT context_limit FROM proposer_configs WHERE name = 'gpt-4o-mini'"))


def description(url: str) -> str:
    return str(scalar(url, "SELECT description FROM system_config WHERE config_key = 'budget_limits'"))


def edit(repo: Path, path: str, old: str, new: str, message: str) -> None:
    file = repo / path
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))
    commit_all(repo, message)


def deployed(repo: Path, url: str) -> None:
    """The database's rows in git, applied: the deployed revision is HEAD."""
    assert run(repo, "snapshot", "--commit", database=url).code == 2
    result = run(repo, "apply", "--yes", database=url)
    assert result.code == 0, result.text


def plan_json(repo: Path, url: str, *args: str) -> dict[str, Any]:
    result = run(repo, "plan", "--format", "json", *args, database=url)
    assert result.code in (0, 2), result.text
    data: dict[str, Any] = json.loads(result.out)
    return data


def by_record(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"/".join(str(v) for v in c["key"].values()): c for c in plan["changes"]}


# ---- the flow on a real database ---------------------------------------------------------


def test_drift_beside_a_change_from_git(repo_path: Path, moose_url: str) -> None:
    """An out-of-band edit, then a merge touching another record: one drift, one git;
    apply refuses; --keep-drift applies only the other record; --overwrite-drift undoes the edit."""
    deployed(repo_path, moose_url)
    execute(moose_url, EDIT_IN_DB)
    edit(repo_path, BUDGET, "Cost control thresholds in USD", "Cost control, reviewed", "reword the budget")

    plan = plan_json(repo_path, moose_url)
    changes_ = by_record(plan)
    assert set(changes_) == {"gpt-4o-mini", "budget_limits"}
    assert changes_["gpt-4o-mini"]["kind"] == "drift"
    assert changes_["gpt-4o-mini"]["field_kinds"] == {"context_limit": "drift"}
    assert changes_["budget_limits"]["kind"] == "git"
    assert changes_["budget_limits"]["field_kinds"] == {"description": "git"}
    assert plan["kinds"] == {"git": 1, "drift": 1, "conflict": 0}
    assert plan["baseline"]["revision"] is not None
    text = run(repo_path, "plan", database=moose_url).out
    assert "baseline: revision " in text and ", the last applied to this database" in text
    assert "context_limit: 64000 -> 128000  (drift)" in text
    assert "Drift: 1 drift change, 0 conflicts: applying would undo" in text

    before = dump(moose_url)
    refused = run(repo_path, "apply", "--yes", database=moose_url)
    assert refused.code == 1, refused.text
    assert "refusing to undo edits made in the database outside configsync" in refused.err
    assert f"proposer_configs gpt-4o-mini ({MINI}): context_limit: edited in the database" in refused.err
    assert "configsync snapshot --commit" in refused.err
    assert "Traceback" not in refused.text
    assert dump(moose_url) == before

    kept = run(repo_path, "apply", "--yes", "--keep-drift", database=moose_url)
    assert kept.code == 0, kept.text
    assert "Left as the database has them: 1 drift or conflict" in kept.out
    assert description(moose_url) == "Cost control, reviewed"
    assert context_limit(moose_url) == 64000
    # The edit is still drift against the revision now deployed, and nothing else differs.
    again = plan_json(repo_path, moose_url)
    assert [(c["key"], c["kind"]) for c in again["changes"]] == [({"name": "gpt-4o-mini"}, "drift")]

    undone = run(repo_path, "apply", "--yes", "--overwrite-drift", database=moose_url)
    assert undone.code == 0, undone.text
    assert "Undone: 1 drift or conflict" in undone.out
    assert context_limit(moose_url) == 128000
    assert run(repo_path, "plan", database=moose_url).code == 0


def test_the_same_field_changed_on_both_sides_is_a_conflict(repo_path: Path, moose_url: str) -> None:
    deployed(repo_path, moose_url)
    execute(moose_url, EDIT_IN_DB)
    edit(repo_path, MINI, "context_limit: 128000", "context_limit: 100000", "more context")

    (change,) = plan_json(repo_path, moose_url)["changes"]
    assert (change["kind"], change["field_kinds"]) == ("conflict", {"context_limit": "conflict"})
    assert "[conflict]" in run(repo_path, "plan", database=moose_url).out

    refused = run(repo_path, "apply", "--yes", database=moose_url)
    assert refused.code == 1, refused.text
    assert "context_limit: changed in the database and in git, differently" in refused.err
    assert context_limit(moose_url) == 64000

    assert run(repo_path, "apply", "--yes", "--keep-drift", database=moose_url).code == 0
    assert context_limit(moose_url) == 64000
    assert run(repo_path, "apply", "--yes", "--overwrite-drift", database=moose_url).code == 0
    assert context_limit(moose_url) == 100000


def test_one_record_one_field_from_git_one_drifted(repo_path: Path, moose_url: str) -> None:
    """Same record, different fields: --keep-drift writes the git field only,
    and the read-back inside the transaction expects the kept field as the database has it."""
    deployed(repo_path, moose_url)
    execute(moose_url, EDIT_IN_DB)
    edit(repo_path, MINI, "notes: Cost-optimized fallback", "notes: Cheap fallback", "reword the notes")

    (change,) = plan_json(repo_path, moose_url)["changes"]
    assert change["kind"] == "drift"
    assert change["field_kinds"] == {"context_limit": "drift", "notes": "git"}

    assert run(repo_path, "apply", "--yes", database=moose_url).code == 1
    kept = run(repo_path, "apply", "--yes", "--keep-drift", database=moose_url)
    assert kept.code == 0, kept.text
    assert context_limit(moose_url) == 64000
    assert str(scalar(moose_url, "SELECT notes FROM proposer_configs WHERE name = 'gpt-4o-mini'")).startswith(
        "Cheap fallback")


def test_records_deleted_or_created_outside_configsync_are_drift(repo_path: Path, moose_url: str) -> None:
    deployed(repo_path, moose_url)
    execute(moose_url, "DELETE FROM system_config WHERE config_key = 'orchestrator_enabled'")
    execute(moose_url, "INSERT INTO system_config (id, config_key, config_value, config_type, description) "
                       "VALUES ('0f0e0d0c-0b0a-0908-0706-050403020100', 'hotfix', '{\"on\": true}', 'flag', 'x')")
    plan = by_record(plan_json(repo_path, moose_url))
    assert (plan["orchestrator_enabled"]["action"], plan["orchestrator_enabled"]["kind"]) == ("create", "drift")
    assert (plan["hotfix"]["action"], plan["hotfix"]["kind"]) == ("delete", "drift")
    refused = run(repo_path, "apply", "--yes", database=moose_url)
    assert refused.code == 1
    assert "orchestrator_enabled" in refused.err and "deleted in the database outside configsync" in refused.err
    assert "hotfix" in refused.err and "created in the database outside configsync" in refused.err
    assert run(repo_path, "apply", "--yes", "--keep-drift", database=moose_url).code == 0
    assert len(plan_json(repo_path, moose_url)["changes"]) == 2


def test_a_drift_pull_request_merged_is_no_change(repo_path: Path, moose_url: str) -> None:
    """The drift workflow (snapshot --commit on a branch) and apply agree: once
    merged, the edit is the revision's own: no change, no drift."""
    deployed(repo_path, moose_url)
    execute(moose_url, EDIT_IN_DB)
    git = pygit2.Repository(str(repo_path))
    main = git.head.peel(pygit2.Commit)
    git.branches.local.create("drift", main)
    git.checkout("refs/heads/drift")
    assert run(repo_path, "snapshot", "--commit", database=moose_url).code == 2
    # Before the merge, main's plan shows the edit as drift.
    assert by_record(plan_json(repo_path, moose_url, "--ref", "main"))["gpt-4o-mini"]["kind"] == "drift"
    # Merged (fast-forward): the database equals the revision.
    git.branches.local["main"].set_target(git.head.target)
    git.checkout("refs/heads/main")
    assert run(repo_path, "plan", database=moose_url).code == 0
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    # A later change elsewhere is from git alone.
    edit(repo_path, BUDGET, "Cost control thresholds in USD", "Cost control, reviewed", "reword the budget")
    plan = plan_json(repo_path, moose_url)
    assert [(c["key"], c["kind"]) for c in plan["changes"]] == [({"config_key": "budget_limits"}, "git")]
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    assert context_limit(moose_url) == 64000


def test_without_a_deployment_record_every_difference_is_from_git(repo_path: Path, moose_url: str) -> None:
    assert run(repo_path, "snapshot", "--commit", database=moose_url).code == 2  # never applied
    execute(moose_url, EDIT_IN_DB)
    plan = plan_json(repo_path, moose_url)
    assert plan["baseline"]["revision"] is None
    assert "no baseline: configsync has not applied to this database yet" in plan["baseline"]["note"]
    assert [c["kind"] for c in plan["changes"]] == ["git"]
    text = run(repo_path, "plan", database=moose_url).out
    assert "no baseline" in text and "(drift)" not in text
    markdown = run(repo_path, "plan", "--format", "markdown", database=moose_url).out
    assert "no baseline" in markdown and "Drift and conflicts" not in markdown
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    assert context_limit(moose_url) == 128000


def test_a_deployed_revision_missing_from_the_clone_is_no_baseline(repo_path: Path, moose_url: str) -> None:
    """A shallow CI checkout lacks the deployed commit: the plan says so and classifies nothing."""
    deployed(repo_path, moose_url)
    execute(moose_url, f"UPDATE configsync_history SET revision = '{'ab' * 20}'")
    execute(moose_url, EDIT_IN_DB)
    plan = plan_json(repo_path, moose_url)
    assert plan["baseline"]["revision"] is None
    assert "the deployed revision abababa is not in this repository" in plan["baseline"]["note"]
    assert "fetch-depth: 0" in plan["baseline"]["note"]
    assert [c["kind"] for c in plan["changes"]] == ["git"]
    assert "is not in this repository" in run(repo_path, "plan", database=moose_url).out


def test_a_role_that_cannot_read_the_history_table_plans_without_a_baseline(repo_path: Path, pg_url: str) -> None:
    """The read-only role of pull-request plans may SELECT the managed tables alone: the plan still works."""
    url = postgres_moose(pg_url)
    deployed(repo_path, url)
    execute(url, EDIT_IN_DB)
    name = f"cs_drift_{uuid.uuid4().hex[:8]}"
    execute(url, f"CREATE ROLE {name} LOGIN; GRANT SELECT ON system_config, proposer_configs, contracts TO {name}")
    parts = urlsplit(url)
    reader = urlunsplit(parts._replace(netloc=name + "@" + parts.netloc.rpartition("@")[2]))
    try:
        plan = plan_json(repo_path, reader)
        assert plan["baseline"]["revision"] is None
        assert "grant this role SELECT on configsync_history" in plan["baseline"]["note"]
        assert [c["kind"] for c in plan["changes"]] == ["git"]
    finally:
        execute(url, f"DROP OWNED BY {name}; DROP ROLE {name}")


def test_a_table_not_managed_at_the_deployed_revision_has_no_baseline(tmp_path: Path, moose_url: str) -> None:
    """Rows of a table configsync starts to manage predate it: not drift, nor conflicts."""
    config = (Path(__file__).resolve().parent.parent / "configsync.yaml").read_text()
    section = '  proposer_configs:\n    key: name\n    filename: "{name}"\n    exclude: [created_at, updated_at]\n'
    assert section in config
    repo = tmp_path / "later"
    init_repo(repo, config=config.replace(section, ""))
    deployed(repo, moose_url)
    (repo / "configsync.yaml").write_text(config)
    commit_all(repo, "manage proposer_configs too")
    assert run(repo, "snapshot", "--commit", database=moose_url).code == 2
    edit(repo, MINI, "context_limit: 128000", "context_limit: 100000", "more context")
    (change,) = plan_json(repo, moose_url)["changes"]
    assert (change["key"], change["kind"]) == ({"name": "gpt-4o-mini"}, "git")
    assert run(repo, "apply", "--yes", database=moose_url).code == 0
    assert context_limit(moose_url) == 100000


def test_a_plan_overtaken_since_it_was_made_is_stale_before_it_is_refused(repo_path: Path, moose_url: str,
                                                                         tmp_path: Path) -> None:
    """Another apply racing a plan makes its changes look like drift: apply names
    the real problem, a stale plan, with what changed."""
    deployed(repo_path, moose_url)
    execute(moose_url, EDIT_IN_DB)
    saved = tmp_path / "plan.json"
    assert run(repo_path, "plan", "--out", str(saved), database=moose_url).code == 2
    execute(moose_url, "UPDATE system_config SET description = 'moved' WHERE config_key = 'budget_limits'")
    result = run(repo_path, "apply", str(saved), "--yes", database=moose_url)
    assert result.code == 1
    assert "the database changed since this plan was made" in result.err
    # SQLite names the row; PostgreSQL found the table in sync by its digest, and names the table.
    assert "system_config budget_limits: changed" in result.err or "system_config: changed" in result.err
    assert "refusing to undo" not in result.err


def test_markdown_lists_drift_and_conflicts_first(repo_path: Path, moose_url: str) -> None:
    deployed(repo_path, moose_url)
    execute(moose_url, EDIT_IN_DB)
    edit(repo_path, MINI, "notes: Cost-optimized fallback", "notes: Cheap fallback", "reword the notes")
    edit(repo_path, BUDGET, "Cost control thresholds in USD", "Cost control, reviewed", "reword the budget")
    out = run(repo_path, "plan", "--format", "markdown", database=moose_url).out
    drift_at, git_at = out.index("#### Drift and conflicts"), out.index("#### Changes from git")
    assert drift_at < git_at
    drift_part, git_part = out[drift_at:git_at], out[git_at:]
    assert "+     context\\_limit: 128000  (drift)" in drift_part or "+     context_limit: 128000  (drift)" in drift_part
    assert "notes" not in drift_part and "budget_limits" not in drift_part
    assert "notes" in git_part and "budget_limits" in git_part and "context_limit" not in git_part


def test_a_saved_plan_carries_the_kinds(repo_path: Path, moose_url: str, tmp_path: Path) -> None:
    deployed(repo_path, moose_url)
    execute(moose_url, EDIT_IN_DB)
    edit(repo_path, BUDGET, "Cost control thresholds in USD", "Cost control, reviewed", "reword the budget")
    saved = tmp_path / "plan.json"
    assert run(repo_path, "plan", "--out", str(saved), database=moose_url).code == 2
    data = json.loads(saved.read_text())
    assert data["format"] == "configsync-plan/2"
    assert sorted(c["kind"] for c in data["changes"]) == ["drift", "git"]
    # Tampering with a kind breaks the checksum.
    tampered = tmp_path / "tampered.json"
    tampered.write_text(saved.read_text().replace('"kind": "drift"', '"kind": "git"'))
    bad = run(repo_path, "apply", str(tampered), "--yes", database=moose_url)
    assert bad.code == 1 and "checksum mismatch" in bad.err
    refused = run(repo_path, "apply", str(saved), "--yes", database=moose_url)
    assert refused.code == 1 and "context_limit" in refused.err
    kept = run(repo_path, "apply", str(saved), "--yes", "--keep-drift", database=moose_url)
    assert kept.code == 0, kept.text
    assert (description(moose_url), context_limit(moose_url)) == ("Cost control, reviewed", 64000)
    again = run(repo_path, "apply", str(saved), "--yes", "--keep-drift", database=moose_url)
    assert again.code == 1 and "already applied" in again.err


@pytest.mark.parametrize(("setting", "limit"), [("keep", 64000), ("overwrite", 128000)])
def test_a_tables_drift_setting_is_its_default(tmp_path: Path, moose_url: str, setting: str, limit: int) -> None:
    repo = tmp_path / "configured"
    config = (Path(__file__).resolve().parent.parent / "configsync.yaml").read_text()
    init_repo(repo, config=config.replace("    key: name\n", f"    key: name\n    drift: {setting}\n"))
    deployed(repo, moose_url)
    execute(moose_url, EDIT_IN_DB)
    edit(repo, BUDGET, "Cost control thresholds in USD", "Cost control, reviewed", "reword the budget")
    result = run(repo, "apply", "--yes", database=moose_url)
    assert result.code == 0, result.text
    assert context_limit(moose_url) == limit
    assert description(moose_url) == "Cost control, reviewed"


def test_the_drift_options_exclude_each_other(repo_path: Path, moose_url: str) -> None:
    result = run(repo_path, "apply", "--yes", "--keep-drift", "--overwrite-drift", database=moose_url)
    assert result.code == 1
    assert "--overwrite-drift and --keep-drift exclude each other" in result.err


def test_a_bad_drift_setting_is_named(tmp_path: Path) -> None:
    repo = tmp_path / "bad"
    config = (Path(__file__).resolve().parent.parent / "configsync.yaml").read_text()
    init_repo(repo, config=config.replace("    key: name\n", "    key: name\n    drift: sometimes\n"))
    result = run(repo, "validate")
    assert result.code == 1
    assert "tables.proposer_configs.drift" in result.err and "Traceback" not in result.text


def test_a_rollback_across_drift_says_so_and_restores(repo_path: Path, moose_url: str) -> None:
    deployed(repo_path, moose_url)
    edit(repo_path, BUDGET, "Cost control thresholds in USD", "Cost control, reviewed", "reword the budget")
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    execute(moose_url, EDIT_IN_DB)
    result = run(repo_path, "rollback", "HEAD", "--yes", database=moose_url)
    assert result.code == 0, result.text
    assert "Across drift: 1 drift change, 0 conflicts" in result.out
    assert (description(moose_url), context_limit(moose_url)) == ("Cost control thresholds in USD", 128000)
    assert is_clean(repo_path)


# ---- environments --------------------------------------------------------------------------


def test_each_environment_is_classified_against_its_own_deployed_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, staging, production = applied_environments(tmp_path, monkeypatch)
    first = head(repo)
    edit(repo, BUDGET, "Cost control thresholds in USD", "Cost control, reviewed", "reword the budget")
    assert run(repo, "apply", "--env", "staging", "--yes").code == 0  # production stays at the first revision
    # In staging, someone puts the old description back and raises the cap its overlay sets.
    execute(staging, "UPDATE system_config SET description = 'Cost control thresholds in USD', "
                     "config_value = json_set(config_value, '$.daily_hard_cap', 12) WHERE config_key = 'budget_limits'")

    production_plan = json.loads(run(repo, "plan", "--env", "production", "--format", "json").out)
    assert production_plan["baseline"]["revision"] == first
    (change,) = production_plan["changes"]
    assert (change["kind"], change["field_kinds"]) == ("git", {"description": "git"})

    staging_plan = json.loads(run(repo, "plan", "--env", "staging", "--format", "json").out)
    assert staging_plan["baseline"]["revision"] == head(repo)
    (change,) = staging_plan["changes"]
    # The baseline has the staging overlay merged in: the cap's 10 is the deployed value, 12 the edit.
    assert (change["kind"], change["field_kinds"]) == ("drift", {"description": "drift", "config_value": "drift"})
    assert run(repo, "apply", "--env", "staging", "--yes").code == 1
    assert run(repo, "apply", "--env", "production", "--yes").code == 0


# ---- pure: classification, decision, plan files ----------------------------------------------


def _record(**values: Any) -> Record:
    return Record("t", (values["k"],), values, f"config-snapshots/t/{values['k']}.yaml")


def _one(desired: dict[str, Any] | None, actual: dict[str, Any] | None) -> Change:
    found = changes("t", {("a",): _record(**desired)} if desired else {},
                    {("a",): _record(**actual)} if actual else {}, ["k"])
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize(("deployed_", "desired", "actual", "kind", "fields"), [
    # update, field by field
    ({"k": "a", "v": 1}, {"k": "a", "v": 2}, {"k": "a", "v": 1}, "git", {}),
    ({"k": "a", "v": 1}, {"k": "a", "v": 1}, {"k": "a", "v": 3}, "drift", {"v": "drift"}),
    ({"k": "a", "v": 1}, {"k": "a", "v": 2}, {"k": "a", "v": 3}, "conflict", {"v": "conflict"}),
    ({"k": "a", "v": 1, "w": 1}, {"k": "a", "v": 2, "w": 1}, {"k": "a", "v": 1, "w": 5}, "drift", {"w": "drift"}),
    ({"k": "a"}, {"k": "a", "v": 2}, {"k": "a", "v": 3}, "git", {}),  # git starts managing v
    (None, {"k": "a", "v": 2}, {"k": "a", "v": 3}, "conflict", {"v": "conflict"}),  # created on both sides
    # create: the database has no row
    (None, {"k": "a", "v": 1}, None, "git", {}),
    ({"k": "a", "v": 1}, {"k": "a", "v": 1}, None, "drift", {}),  # deleted outside configsync
    ({"k": "a", "v": 1}, {"k": "a", "v": 2}, None, "conflict", {}),
    # delete: the revision has no file
    (None, None, {"k": "a", "v": 1}, "drift", {}),  # created outside configsync
    ({"k": "a", "v": 1}, None, {"k": "a", "v": 1}, "git", {}),
    ({"k": "a", "v": 1}, None, {"k": "a", "v": 3}, "conflict", {}),
])
def test_classify(deployed_: dict[str, Any] | None, desired: dict[str, Any] | None, actual: dict[str, Any] | None,
                  kind: str, fields: dict[str, str]) -> None:
    change = classify(_one(desired, actual), _record(**deployed_) if deployed_ else None)
    assert (change.kind, dict(change.field_kinds)) == (kind, fields)


def test_decide_splits_an_update_for_keep_and_refuses_per_table() -> None:
    change = classify(_one({"k": "a", "v": 2, "w": 1}, {"k": "a", "v": 1, "w": 5}), _record(k="a", v=1, w=1))
    git, other = split(change)
    assert git is not None and git.fields == ("v",) and git.kind == "git" and git.after == {"k": "a", "v": 2, "w": 5}
    assert other.fields == ("w",) and other.kind == "drift"
    kept = decide([change], lambda table: "keep")
    assert kept.write == [git] and kept.kept == [other] and not kept.refused
    assert decide([change], lambda table: "refuse").refused == [change]
    overwritten = decide([change], lambda table: "overwrite")
    assert overwritten.write == [change] and overwritten.overwritten == [change]


def test_json_shape_and_plan_file_round_trip(tmp_path: Path) -> None:
    from configsync.baseline import Baseline
    from configsync.plan import Plan

    change = classify(_one({"k": "a", "v": 2, "w": 1}, {"k": "a", "v": 1, "w": 5}), _record(k="a", v=1, w=1))
    plan = Plan([change], "0" * 40, "HEAD", "sqlite:///db", ["t"], {"t": ["k"]}, {"t": {}},
                baseline=Baseline("1" * 40))
    data = plan.to_json()
    (shown,) = data["changes"]
    assert shown["kind"] == "drift"
    assert shown["field_kinds"] == {"v": "git", "w": "drift"}
    assert data["baseline"] == {"revision": "1" * 40, "note": ""}
    assert data["kinds"] == {"git": 0, "drift": 1, "conflict": 0}
    assert data["summary"] == {"create": 0, "update": 1, "delete": 0, "total": 1}
    path = tmp_path / "plan.json"
    plan.save(path)
    loaded = plan_module.load(path)
    assert loaded.changes == plan.changes and loaded.baseline == plan.baseline
    old = json.loads(path.read_text())
    old["format"] = "configsync-plan/1"
    path.write_text(json.dumps(old))
    with pytest.raises(plan_module.PlanFileError, match="an earlier configsync"):
        plan_module.load(path)
