"""--format json for the commands scripts read: status, snapshot, history."""
from __future__ import annotations

import json
from pathlib import Path

from helpers import commit_all, execute, init_repo, run, sqlite_moose

BUDGET = "config-snapshots/system_config/budget_limits.yaml"


def test_snapshot_status_and_history_as_json(tmp_path: Path) -> None:
    db = sqlite_moose(tmp_path / "db.sqlite")
    repo = tmp_path / "repo"
    init_repo(repo)
    result = run(repo, "snapshot", "--commit", "--format", "json", database=db)
    assert result.code == 2, result.text
    data = json.loads(result.out)
    assert data["drift"] is True and len(data["commit"]) == 40
    assert {"status": "A", "path": BUDGET, "earlier": False} in data["files"]
    assert data["counts"]["system_config"] == {"added": 6, "updated": 0, "removed": 0}
    again = json.loads(run(repo, "snapshot", "--format", "json", database=db).out)
    assert again == {"drift": False, "files": [], "counts": again["counts"], "commit": None}

    status = run(repo, "status", "--format", "json", database=db)
    assert status.code == 0, status.text  # the files are the database's, though never applied here
    data = json.loads(status.out)
    assert data["in_sync"] is True and data["deployed"] is None and len(data["head"]) == 40

    assert run(repo, "apply", "--yes", database=db).code == 0
    data = json.loads(run(repo, "status", "--format", "json", database=db).out)
    assert data["in_sync"] is True and data["deployed"]["revision"] == data["head"]
    assert data["plan"]["summary"]["total"] == 0

    budget = repo / BUDGET
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    commit_all(repo, "lower the cap")
    history = run(repo, "history", "system_config/budget_limits", "--format", "json")
    assert history.code == 0, history.text
    versions = json.loads(history.out)
    assert [v["action"] for v in versions] == ["changed", "created"]
    assert versions[0]["subject"] == "lower the cap"
    assert versions[0]["change"]["fields"] == ["config_value"]


def test_status_shortens_a_long_list(tmp_path: Path) -> None:
    db = sqlite_moose(tmp_path / "db.sqlite")
    repo = tmp_path / "repo"
    init_repo(repo)
    assert run(repo, "snapshot", "--commit", database=db).code == 2
    for n in range(150):
        execute(db, "INSERT INTO system_config (id, config_key, config_value, config_type, description) "
                    f"VALUES ('00000000-0000-0000-0000-{n:012d}', 'extra_{n:02d}', 'true', 'boolean', 'x')")
    result = run(repo, "status", database=db)
    assert result.code == 2
    listed = [line for line in result.out.splitlines() if line.startswith("  - ")]
    assert 0 < len(listed) < 150
    assert "more (--format json lists every one)" in result.out
    assert len(json.loads(run(repo, "status", "--format", "json", database=db).out)["plan"]["changes"]) == 150
