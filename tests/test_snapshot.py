"""Snapshot: deterministic bytes, comments survive unchanged data, deletions, --table."""
from __future__ import annotations

from pathlib import Path

import pygit2
from helpers import execute, head, init_repo, is_clean, run


def read_all(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "config-snapshots").rglob("*.yaml"))}


def test_snapshot_is_deterministic(repo_path: Path, moose_url: str, tmp_path: Path) -> None:
    assert run(repo_path, "snapshot", database=moose_url).code == 2
    first = read_all(repo_path)
    for path in (repo_path / "config-snapshots").rglob("*.yaml"):
        path.unlink()
    assert run(repo_path, "snapshot", database=moose_url).code == 2
    assert read_all(repo_path) == first
    # and equal to the files this repository ships for the same backup
    shipped = read_all(Path(__file__).resolve().parent.parent)
    assert first == shipped


def test_comment_survives_until_the_value_changes(repo_path: Path, moose_url: str) -> None:
    run(repo_path, "snapshot", "--commit", database=moose_url)
    path = repo_path / "config-snapshots/system_config/orchestrator_enabled.yaml"
    annotated = path.read_text().replace(
        "config_value: false", "# flipped off during the 2025-10 incident, see #142\nconfig_value: false"
    )
    path.write_text(annotated)
    assert run(repo_path, "snapshot", database=moose_url).code == 0
    assert path.read_text() == annotated

    execute(moose_url, "UPDATE system_config SET config_value = 'true' WHERE config_key = 'orchestrator_enabled'")
    assert run(repo_path, "snapshot", database=moose_url).code == 2
    assert "config_value: true" in path.read_text()


def test_deleted_rows_lose_their_file_and_commit_is_scoped(repo_path: Path, moose_url: str) -> None:
    run(repo_path, "snapshot", "--commit", database=moose_url)
    (repo_path / "notes.txt").write_text("work in progress, not for the snapshot commit\n")
    execute(moose_url, "DELETE FROM proposer_configs WHERE name = 'claude-sonnet-4-5'")
    before = head(repo_path)
    result = run(repo_path, "snapshot", "--commit", database=moose_url)
    assert result.code == 2, result.text
    assert "D config-snapshots/proposer_configs/claude-sonnet-4-5.yaml" in result.out
    assert "proposer_configs 1 removed" in result.out
    assert not (repo_path / "config-snapshots/proposer_configs/claude-sonnet-4-5.yaml").exists()
    assert head(repo_path) != before
    assert not is_clean(repo_path)  # notes.txt stayed out of the commit
    (repo_path / "notes.txt").unlink()
    assert is_clean(repo_path)


def test_table_option_limits_the_snapshot(repo_path: Path, moose_url: str) -> None:
    result = run(repo_path, "snapshot", "--table", "proposer_configs", database=moose_url)
    assert result.code == 2
    assert not (repo_path / "config-snapshots/system_config").exists()
    assert len(list((repo_path / "config-snapshots/proposer_configs").iterdir())) == 2
    result = run(repo_path, "snapshot", "--table", "nope", database=moose_url)
    assert result.code == 1
    assert "unknown table 'nope'" in result.err


def test_snapshot_then_snapshot_commit_commits_what_the_first_wrote(tmp_path: Path, moose_url: str) -> None:
    """A plain snapshot writes the drift; a second one with --commit finds the
    files already match the database and must still commit them."""
    repo = tmp_path / "repo"
    init_repo(repo)
    assert run(repo, "snapshot", "--commit", database=moose_url).code == 2
    execute(moose_url, "UPDATE system_config SET description = 'edited in the dashboard' WHERE config_key = 'budget_limits'")
    execute(moose_url, "DELETE FROM proposer_configs WHERE name = 'claude-sonnet-4-5'")
    first = run(repo, "snapshot", database=moose_url)
    assert first.code == 2, first.text
    assert not is_clean(repo)
    second = run(repo, "snapshot", "--commit", database=moose_url)
    assert second.code == 2, second.text
    assert "M config-snapshots/system_config/budget_limits.yaml (written earlier, not committed)" in second.out
    assert "D config-snapshots/proposer_configs/claude-sonnet-4-5.yaml (written earlier, not committed)" in second.out
    assert "Committed" in second.out
    assert is_clean(repo)
    message = pygit2.Repository(str(repo)).head.peel(pygit2.Commit).message
    assert "system_config 1 updated; proposer_configs 1 removed" in message
    assert run(repo, "status", database=moose_url).code == 0
    assert run(repo, "snapshot", "--commit", database=moose_url).code == 0
