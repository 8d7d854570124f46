"""The whole user flow on a real database and a real git repository, both backends:
snapshot -> edit -> plan -> apply -> rollback -> no drift; out-of-band edit -> drift."""
from __future__ import annotations

import json
from pathlib import Path

import pygit2
from helpers import commit_all, dump, execute, head, is_clean, run


def test_snapshot_edit_plan_apply_rollback(repo_path: Path, moose_url: str) -> None:
    original = dump(moose_url)

    # 1. snapshot --commit: files appear, one commit that summarises the drift
    result = run(repo_path, "snapshot", "--commit", database=moose_url)
    assert result.code == 2, result.text
    repo = pygit2.Repository(str(repo_path))
    message = repo[repo.head.target].message
    assert message.startswith("snapshot: system_config 6 added; proposer_configs 2 added")
    assert is_clean(repo_path)
    files = sorted(p.relative_to(repo_path).as_posix() for p in (repo_path / "config-snapshots").rglob("*.yaml"))
    assert len(files) == 8
    # files match the rows
    budget = (repo_path / "config-snapshots/system_config/budget_limits.yaml").read_text()
    assert "daily_hard_cap: 50\n" in budget
    assert "id: e1987925-cd5a-4247-8dcf-92cd60868318\n" in budget
    assert "created_at" not in budget  # excluded
    mini = (repo_path / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").read_text()
    assert "input_cost_per_token: 0.00000015\n" in mini
    assert "- fast-execution\n" in mini

    # a second snapshot finds nothing new
    assert run(repo_path, "snapshot", database=moose_url).code == 0

    # 2. edit one field, commit; the plan shows exactly that field
    path = repo_path / "config-snapshots/system_config/budget_limits.yaml"
    path.write_text(budget.replace("daily_hard_cap: 50", "daily_hard_cap: 40"))
    commit_all(repo_path, "lower the daily hard cap")
    result = run(repo_path, "plan", "--format", "json", database=moose_url)
    assert result.code == 2, result.text
    plan = json.loads(result.out)
    assert plan["summary"] == {"create": 0, "update": 1, "delete": 0, "total": 1}
    (change,) = plan["changes"]
    assert change["table"] == "system_config"
    assert change["action"] == "update"
    assert change["key"] == {"config_key": "budget_limits"}
    assert change["fields"] == ["config_value"]
    assert change["file"] == "config-snapshots/system_config/budget_limits.yaml"
    assert change["before"]["config_value"]["daily_hard_cap"] == 50
    assert change["after"]["config_value"]["daily_hard_cap"] == 40
    text = run(repo_path, "plan", database=moose_url).out
    assert "config_value.daily_hard_cap: 50 -> 40" in text
    assert "Plan: 0 to create, 1 to update, 0 to delete." in text

    # 3. apply: the row changed, nothing else did
    result = run(repo_path, "apply", "--yes", database=moose_url)
    assert result.code == 0, result.text
    assert "Backup of the previous state: refs/configsync/backups/" in result.out
    after = dump(moose_url)
    assert after["proposer_configs"] == original["proposer_configs"]
    changed = [r for r in after["system_config"] if r not in original["system_config"]]
    assert len(changed) == 1 and "budget_limits" in changed[0]
    assert run(repo_path, "plan", database=moose_url).code == 0

    # 4. rollback HEAD: the database equals the original rows, every column
    result = run(repo_path, "rollback", "HEAD", "--yes", database=moose_url)
    assert result.code == 0, result.text
    assert dump(moose_url) == original
    assert repo[repo.head.target].message.startswith('Revert "lower the daily hard cap"')
    assert "daily_hard_cap: 50\n" in path.read_text()
    assert is_clean(repo_path)
    assert run(repo_path, "snapshot", database=moose_url).code == 0

    # 5. an out-of-band change is drift: exit 2 and the file shows it
    execute(moose_url, "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'gpt-4o-mini'")
    result = run(repo_path, "snapshot", database=moose_url)
    assert result.code == 2, result.text
    assert "M config-snapshots/proposer_configs/gpt-4o-mini.yaml" in result.out
    assert "context_limit: 64000\n" in (repo_path / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").read_text()


def test_status_and_history(repo_path: Path, moose_url: str) -> None:
    run(repo_path, "snapshot", "--commit", database=moose_url)
    result = run(repo_path, "status", database=moose_url)
    assert result.code == 0, result.text
    assert "deployed  never" in result.out

    path = repo_path / "config-snapshots/system_config/orchestrator_max_concurrent.yaml"
    path.write_text(path.read_text().replace("config_value: 3", "config_value: 5"))
    commit_all(repo_path, "more concurrency")
    result = run(repo_path, "status", database=moose_url)
    assert result.code == 2
    assert "~ system_config orchestrator_max_concurrent" in result.out

    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    result = run(repo_path, "status", database=moose_url)
    assert result.code == 0, result.text
    assert f"deployed  {head(repo_path)[:7]}" in result.out

    result = run(repo_path, "history", "system_config/orchestrator_max_concurrent")
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert "more concurrency" in lines[0]
    assert "config_value: 3 -> 5" in lines[1]
    assert "created" in result.out


def test_backup_ref_restores_the_pre_apply_state(repo_path: Path, moose_url: str) -> None:
    """Any apply can be undone from its backup, even when the database had drifted."""
    run(repo_path, "snapshot", "--commit", database=moose_url)
    # drift nobody committed, then a reviewed change on top
    execute(moose_url, "UPDATE system_config SET description = 'edited in the dashboard' WHERE config_key = 'orchestrator_enabled'")
    path = repo_path / "config-snapshots/system_config/routing_config.yaml"
    path.write_text(path.read_text().replace("enable_parallel_mode: false", "enable_parallel_mode: true"))
    commit_all(repo_path, "parallel mode")
    before_apply = dump(moose_url)
    result = run(repo_path, "apply", "--yes", database=moose_url)
    assert result.code == 0, result.text
    backup = next(line.split()[-1] for line in result.out.splitlines() if line.startswith("Backup"))
    assert dump(moose_url) != before_apply

    result = run(repo_path, "rollback", "--to", backup, "--yes", database=moose_url)
    assert result.code == 0, result.text
    assert dump(moose_url) == before_apply


def test_diff_between_revisions_needs_no_database(repo_path: Path, moose_url: str) -> None:
    run(repo_path, "snapshot", "--commit", database=moose_url)
    first = head(repo_path)
    path = repo_path / "config-snapshots/proposer_configs/claude-sonnet-4-5.yaml"
    path.write_text(path.read_text().replace("is_active: true", "is_active: false"))
    (repo_path / "config-snapshots/system_config/orchestrator_enabled.yaml").unlink()
    commit_all(repo_path, "two changes")
    result = run(repo_path, "--database", "postgresql://nobody@127.0.0.1:1/none", "diff", first)
    assert result.code == 2, result.text
    assert "~ claude-sonnet-4-5" in result.out
    assert "is_active: true -> false" in result.out
    assert "- orchestrator_enabled" in result.out
    assert run(repo_path, "diff", "HEAD", "HEAD").code == 0
