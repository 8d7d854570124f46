"""Every command, run as a user would in a real git repository with a plain
`git add -A` and commit after each, leaves `git status` clean and never gets
configsync's local state (.configsync/) or a saved plan committed."""
from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import execute, run


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def porcelain(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--untracked-files=all")


def add_and_commit(repo: Path, message: str) -> None:
    """What a user types after every command; then nothing may be left over,
    and nothing of configsync's own may be in git."""
    git(repo, "add", "-A")
    if git(repo, "diff", "--cached", "--name-only"):
        git(repo, "commit", "-q", "-m", message)
    assert porcelain(repo) == "", f"after {message}: {porcelain(repo)}"
    tracked = git(repo, "ls-files").split()
    assert not [p for p in tracked if p.startswith(".configsync/") or p.endswith("plan.json")], tracked


def test_every_command_leaves_a_clean_tree(tmp_path: Path, moose_url: str) -> None:
    repo = tmp_path / "config"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Dee Veloper")
    git(repo, "config", "user.email", "dee@example.com")
    db = ("--database", moose_url)

    # no .gitignore of the user's: configsync's own state must ignore itself
    assert run(repo, "init", *db, "--all").code == 0
    add_and_commit(repo, "init")

    assert run(repo, "validate").code == 0
    assert porcelain(repo) == ""
    add_and_commit(repo, "validate")

    budget = repo / "config-snapshots/system_config/budget_limits.yaml"
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    add_and_commit(repo, "lower the cap")

    assert run(repo, "plan", *db).code == 2
    assert porcelain(repo) == ""
    add_and_commit(repo, "plan")

    saved = run(repo, "plan", *db, "--out")
    assert saved.code == 2, saved.text
    assert "Plan saved to .configsync/plan.json" in saved.err
    assert (repo / ".configsync/plan.json").is_file()
    assert porcelain(repo) == ""
    add_and_commit(repo, "plan --out")

    applied = run(repo, "apply", *db, "--plan", "--yes")
    assert applied.code == 0, applied.text
    assert porcelain(repo) == ""
    add_and_commit(repo, "apply")

    execute(moose_url, "UPDATE system_config SET description = 'edited in the dashboard' "
                       "WHERE config_key = 'orchestrator_enabled'")
    snapshot = run(repo, "snapshot", *db, "--commit")
    assert snapshot.code == 2, snapshot.text
    assert porcelain(repo) == ""
    add_and_commit(repo, "snapshot --commit")

    rolled = run(repo, "rollback", "HEAD~1", *db, "--yes")  # undo the lowered cap, whose commit is HEAD~1
    assert rolled.code == 0, rolled.text
    assert "daily_hard_cap: 50" in budget.read_text()
    assert porcelain(repo) == ""
    add_and_commit(repo, "rollback")

    assert run(repo, "plan", *db).code == 0  # the database is where git says
    add_and_commit(repo, "plan after all")


def test_apply_plan_without_a_saved_plan_says_how_to_make_one(repo_path: Path, moose_url: str) -> None:
    result = run(repo_path, "apply", "--plan", "--yes", database=moose_url)
    assert result.code == 1
    assert "error: .configsync/plan.json: no saved plan; make one with `configsync plan --out`" in result.err
    result = run(repo_path, "apply", "--plan", "reviewed.json", "--yes", database=moose_url)
    assert result.code == 1 and "make one with `configsync plan --out reviewed.json`" in result.err
    assert "Traceback" not in result.text
