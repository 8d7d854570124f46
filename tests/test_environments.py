"""Backups and rollbacks that know their environment."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pygit2
import pytest
from helpers import applied_environments, commit_all, dump, init_repo, run, sqlite_moose

BUDGET = "config-snapshots/system_config/budget_limits.yaml"


def _base_files(repo: Path) -> dict[str, bytes]:
    tree = pygit2.Repository(str(repo)).head.peel(pygit2.Commit).tree / "config-snapshots"
    found = {}
    for table in ("system_config", "proposer_configs"):
        for entry in tree / table:
            found[f"{table}/{entry.name}"] = entry.data
    return found


def test_a_staging_backup_restores_staging_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, staging, production = applied_environments(tmp_path, monkeypatch)
    budget = repo / BUDGET
    budget.write_text(budget.read_text().replace("description: Cost control thresholds in USD",
                                                 "description: Cost control, reviewed"))
    commit_all(repo, "reword the budget")
    before = dump(staging)
    applied = run(repo, "apply", "--env", "staging", "--yes")
    assert applied.code == 0, applied.text
    hint = re.search(r"undo with: configsync rollback --to (refs/configsync/backups/staging/\S+) --env staging$",
                     applied.out, re.MULTILINE)
    assert hint, applied.out
    backup = hint.group(1)
    assert dump(staging) != before

    # Used for another environment, or for the base, the backup is refused.
    for args in (("--env", "production"), ()):
        refused = run(repo, "rollback", "--to", backup, *args, "--yes")
        assert refused.code == 1, refused.text
        assert f"{backup} is a backup of environment staging" in refused.err
        assert "restore it with --env staging" in refused.err

    production_before, base_before = dump(production), _base_files(repo)
    dry = run(repo, "rollback", "--to", backup, "--env", "staging", "--dry-run")
    assert dry.code == 0, dry.text
    assert "~ budget_limits" in dry.out
    restored = run(repo, "rollback", "--to", backup, "--env", "staging", "--yes")
    assert restored.code == 0, restored.text
    assert dump(staging) == before  # exactly staging's state before the apply
    assert dump(production) == production_before
    assert _base_files(repo) == base_before  # the overlay changed, never the base
    assert run(repo, "plan", "--env", "staging").code == 0
    assert run(repo, "plan", "--env", "production").code == 2  # production is still to get the reworded budget


def test_a_base_backup_is_refused_for_an_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _, production = applied_environments(tmp_path, monkeypatch)
    budget = repo / BUDGET
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    commit_all(repo, "lower the cap")
    applied = run(repo, "apply", "--database", production, "--yes")
    assert applied.code == 0, applied.text
    backup = re.search(r"undo with: configsync rollback --to (refs/configsync/backups/\d\S+)$", applied.out, re.MULTILINE)
    assert backup, applied.out
    refused = run(repo, "rollback", "--to", backup.group(1), "--env", "staging", "--yes")
    assert refused.code == 1, refused.text
    assert "a backup of a database applied without --env; restore it without --env" in refused.err


def test_selective_restore_of_one_table_and_of_one_record(tmp_path: Path) -> None:
    """The Moose runbook's third scenario: put back one table, or one record,
    from any revision or backup, leaving every other change in place."""
    db = sqlite_moose(tmp_path / "db.sqlite")
    repo = tmp_path / "repo"
    init_repo(repo)
    assert run(repo, "snapshot", "--commit", database=db).code == 2
    before_changes = str(pygit2.Repository(str(repo)).head.target)
    budget, model = repo / BUDGET, repo / "config-snapshots/proposer_configs/gpt-4o-mini.yaml"
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    model.write_text(model.read_text().replace("context_limit: 128000", "context_limit: 64000"))
    commit_all(repo, "two changes")
    applied = run(repo, "apply", "--yes", database=db)
    assert applied.code == 0, applied.text
    backup = re.search(r"undo with: configsync rollback --to (\S+)$", applied.out, re.MULTILINE)
    assert backup

    def caps() -> tuple[bool, bool]:
        """(the budget change is in the database, the model change is)"""
        rows = dump(db)
        budget_row = next(r for r in rows["system_config"] if "budget_limits" in r)
        model_row = next(r for r in rows["proposer_configs"] if "gpt-4o-mini" in r)
        return json.loads(budget_row[2])["daily_hard_cap"] == 45, 64000 in model_row

    assert caps() == (True, True)
    result = run(repo, "rollback", "--to", before_changes, "--table", "system_config", "--yes", database=db)
    assert result.code == 0, result.text
    assert "Rollback: 0 to create, 1 to update, 0 to delete." in result.out
    assert caps() == (False, True)  # the budget is back, the model change stays
    assert "context_limit: 64000" in model.read_text()

    result = run(repo, "restore", "proposer_configs/gpt-4o-mini", "--from", backup.group(1), "--yes", database=db)
    assert result.code == 0, result.text
    assert caps() == (False, False)
    assert "context_limit: 128000" in model.read_text()
    subject = pygit2.Repository(str(repo)).head.peel(pygit2.Commit).message.splitlines()[0]
    assert subject.startswith("Restore proposer_configs/gpt-4o-mini.yaml from ")
    assert run(repo, "plan", database=db).code == 0

    missing = run(repo, "restore", "proposer_configs/gpt-9", "--from", before_changes, "--yes", database=db)
    assert missing.code == 1
    assert f"proposer_configs/gpt-9.yaml: no such record at {before_changes}" in missing.err
