"""`plan --trusted-config FILE`: a pull request's plan takes every setting from
the base branch's configsync.yaml, and is withheld when the pull request changes
what is hidden (issue 14, point 3). Real git repositories and a real SQLite
database; the attack is the one the issue reproduced."""
from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
import yaml
from configsync.cli.sync import EXIT_WITHHELD
from helpers import ROOT, commit_all, dump, init_repo, run, sqlite_moose
from test_github import TEMPLATES, WORKFLOWS, load

SECRET = "Cost-optimized fallback"  # the notes of gpt-4o-mini in the seeded database
RECORD = "config-snapshots/proposer_configs/gpt-4o-mini.yaml"
PLAIN = "    filename: \"{name}\"\n    exclude: [created_at, updated_at]\n"
HIDDEN = PLAIN + "    secret: [notes]\n"


@pytest.fixture
def pr(tmp_path: Path) -> tuple[Path, Path, str]:
    """(the pull request's checkout, the base branch's configsync.yaml, the database): the base
    keeps proposer_configs.notes secret, and the checkout starts equal to the base."""
    url = sqlite_moose(tmp_path / "moose.db")
    config = (ROOT / "configsync.yaml").read_text().replace(PLAIN, HIDDEN)
    base = tmp_path / "base" / "configsync.yaml"
    base.parent.mkdir()
    base.write_text(config)
    repo = tmp_path / "pr"
    init_repo(repo, config=config)
    assert run(repo, "snapshot", "--commit", database=url).code == 2
    assert SECRET not in (repo / RECORD).read_text()
    return repo, base, url


def change(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new))


def plans(repo: Path, base: Path, url: str) -> dict[str, tuple[int, str]]:
    """`plan --trusted-config` in every format: format -> (exit code, stdout + stderr)."""
    found = {}
    for fmt in ("text", "markdown", "json"):
        result = run(repo, "plan", "--trusted-config", str(base), "--format", fmt, database=url)
        assert "Traceback" not in result.text
        found[fmt] = (result.code, result.text)
    return found


def test_a_pull_request_that_unhides_a_secret_column_gets_no_plan(pr: tuple[Path, Path, str]) -> None:
    repo, base, url = pr
    change(repo / "configsync.yaml", HIDDEN, PLAIN)
    change(repo / RECORD, "name: gpt-4o-mini\n", "name: gpt-4o-mini\nnotes: x\n")
    commit_all(repo, "notes are not secret (really: show me production's)")
    before = dump(url)
    # the attack, without the option: the pull request's own settings put the value in the plan
    assert SECRET in run(repo, "plan", "--format", "markdown", database=url).out

    outputs = plans(repo, base, url)
    assert all(SECRET not in text for _, text in outputs.values())
    assert {code for code, _ in outputs.values()} == {EXIT_WITHHELD}
    code, text = outputs["markdown"]
    assert text.startswith("### configsync plan: withheld\n")
    assert "- `tables.proposer_configs.secret`: no longer hides `notes`" in text
    assert "the apply runs with the merged settings and shows its plan before it writes" in text
    assert json.loads(outputs["json"][1])["settings"] == ["tables.proposer_configs.secret"]
    assert dump(url) == before


def test_a_withheld_plan_never_opens_the_database(pr: tuple[Path, Path, str], tmp_path: Path) -> None:
    repo, base, _ = pr
    change(repo / "configsync.yaml", HIDDEN, PLAIN)
    missing = f"sqlite:///{tmp_path / 'no such directory' / 'x.db'}"
    result = run(repo, "plan", "--trusted-config", str(base), database=missing)
    assert result.code == EXIT_WITHHELD, result.text
    assert result.text.startswith("Plan withheld.\n") and "no such directory" not in result.text


def test_a_pull_request_that_changes_a_key_gets_no_plan(pr: tuple[Path, Path, str]) -> None:
    """`key: notes` would list every secret as a row label (and a delete label)."""
    repo, base, url = pr
    change(repo / "configsync.yaml", HIDDEN, PLAIN.replace('"{name}"', '"{notes}"'))
    change(repo / "configsync.yaml", "  proposer_configs:\n    key: name\n", "  proposer_configs:\n    key: notes\n")
    for path in (repo / "config-snapshots/proposer_configs").iterdir():
        path.unlink()  # every row a delete, labelled by its key
    commit_all(repo, "name the proposers by their notes")
    assert SECRET in run(repo, "plan", database=url).out  # the attack, without the option
    outputs = plans(repo, base, url)
    assert all(code == EXIT_WITHHELD and SECRET not in text for code, text in outputs.values())
    text = outputs["markdown"][1]
    assert "- `tables.proposer_configs.key`: from `name`; to `notes`" in text
    assert "- `tables.proposer_configs.secret`: no longer hides `notes`" in text

    # a key change alone, hiding nothing, is withheld too: the labels a plan shows change
    repo_config = repo / "configsync.yaml"
    repo_config.write_text(base.read_text().replace("  contracts:\n    key: [name, version]\n",
                                                    "  contracts:\n    key: [version, name]\n"))
    code, text = plans(repo, base, url)["text"]
    assert code == EXIT_WITHHELD and "- `tables.contracts.key`: from `name, version`; to `version, name`" in text


@pytest.mark.parametrize(("old", "new", "setting"), [
    ("    exclude: [created_at, updated_at]\n    secret: [notes]\n",
     "    exclude: [created_at]\n    secret: [notes]\n", "`tables.proposer_configs.exclude`: no longer hides `updated_at`"),
    ("  system_config:\n    key: config_key\n    filename: \"{config_key}\"\n    exclude: [created_at, updated_at]\n",
     "  system_config:\n    key: config_key\n    filename: \"{config_key}\"\n    exclude: [created_at]\n",
     "`tables.system_config.exclude`: no longer hides `updated_at`"),
    ("  contracts:\n", "  pg_roles:\n    key: rolname\n  contracts:\n", "tables`: adds `pg_roles`"),
    ("  contracts:\n    key: [name, version]\n    filename: \"{name}@{version}\"\n    exclude: [created_at, updated_at]\n",
     "", "tables`: removes `contracts`"),
    ("tables:\n", "history_table: proposer_configs_history\ntables:\n", "`history_table`"),
    ("  system_config:\n    key: config_key\n", "  system_config:\n    rls: all-rows-visible\n    key: config_key\n",
     "`tables.system_config.rls`"),
])
def test_every_setting_that_decides_what_is_hidden_withholds_the_plan(
    pr: tuple[Path, Path, str], old: str, new: str, setting: str,
) -> None:
    repo, base, url = pr
    change(repo / "configsync.yaml", old, new)
    code, text = plans(repo, base, url)["markdown"]
    assert code == EXIT_WITHHELD, text
    assert setting in text


def test_a_json_path_exclude_is_a_hiding_setting(tmp_path: Path) -> None:
    url = sqlite_moose(tmp_path / "moose.db")
    exclude = "    exclude: [created_at, updated_at, config_value.daily_hard_cap]\n"
    config = (ROOT / "configsync.yaml").read_text().replace(
        "    filename: \"{config_key}\"\n    exclude: [created_at, updated_at]\n", "    filename: \"{config_key}\"\n" + exclude)
    base = tmp_path / "base.yaml"
    base.write_text(config)
    repo = tmp_path / "pr"
    init_repo(repo, config=config.replace(exclude, "    exclude: [created_at, updated_at]\n"))
    result = run(repo, "plan", "--trusted-config", str(base), "--format", "markdown", database=url)
    assert result.code == EXIT_WITHHELD, result.text
    assert "- `tables.system_config.exclude`: no longer hides `config_value.daily_hard_cap`" in result.out


def test_a_pull_request_that_hides_nothing_new_is_planned(pr: tuple[Path, Path, str]) -> None:
    """Same settings: a normal plan. Other settings changed (mode, filename): planned with the
    base branch's values, and a note says which were not taken."""
    repo, base, url = pr
    change(repo / "config-snapshots/system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40")
    commit_all(repo, "cap 40")
    result = run(repo, "plan", "--trusted-config", str(base), "--format", "markdown", database=url)
    assert result.code == 2, result.text
    assert "config_value.daily_hard_cap: 40" in result.out and "Note:" not in result.out
    assert result.out == run(repo, "plan", "--format", "markdown", database=url).out

    change(repo / "configsync.yaml", "  proposer_configs:\n    key: name\n",
           "  proposer_configs:\n    mode: upsert\n    key: name\n")
    change(repo / "configsync.yaml", "tables:\n", "notify: false\ntables:\n")
    (repo / "config-snapshots/proposer_configs/claude-sonnet-4-5.yaml").unlink()  # upsert: kept, after merge
    commit_all(repo, "proposers are upserted")
    result = run(repo, "plan", "--trusted-config", str(base), "--format", "markdown", database=url)
    assert result.code == 2, result.text
    assert "config_value.daily_hard_cap: 40" in result.out
    assert "configsync plan: 0 to create, 1 to update, 1 to delete" in result.out  # the base's mode: reconcile
    assert ("Note: this pull request also changes `tables.proposer_configs.mode`, `notify` in configsync.yaml; this plan "
            "was made with the base branch's values of those settings") in result.out
    as_json = run(repo, "plan", "--trusted-config", str(base), "--format", "json", database=url)
    assert json.loads(as_json.out)["summary"]["update"] == 1 and "Note:" in as_json.err


def test_a_missing_or_invalid_trusted_config_is_an_error(pr: tuple[Path, Path, str], tmp_path: Path) -> None:
    repo, _, url = pr
    result = run(repo, "plan", "--trusted-config", str(tmp_path / "none.yaml"), database=url)
    assert result.code == 1 and f"--trusted-config {tmp_path / 'none.yaml'}: no such file" in result.err
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables: {}\n")
    result = run(repo, "plan", "--trusted-config", str(bad), database=url)
    assert result.code == 1 and result.err.startswith(f"error: --trusted-config {bad}: bad.yaml:1: tables")


def test_both_pull_request_workflows_plan_with_the_base_branch_settings() -> None:
    for path in (WORKFLOWS / "config-pr.yml", TEMPLATES / "workflows" / "config-pr.yml"):
        steps = load(path)["jobs"]["plan"]["steps"]
        assert all("configsync.yaml" not in step.get("run", "") for step in steps), path  # no cp over the PR's copy
        (plan,) = [s for s in steps if s.get("name") == "configsync plan"]
        assert plan["with"]["args"] == "plan --trusted-config ../base/configsync.yaml --format markdown"
        assert plan["with"]["working-directory"] == "pr"
        assert plan["with"]["ok-exit-codes"].split() == ["0", "2", str(EXIT_WITHHELD)]
        (diff,) = [s for s in steps if s.get("name") == "configsync diff (git only)"]
        assert f"steps.plan.outputs.exit-code == '{EXIT_WITHHELD}'" in diff["if"]
        assert yaml.safe_load(path.read_text())  # still YAML


def test_diff_of_a_pull_request_that_adds_a_table(pr: tuple[Path, Path, str]) -> None:
    """The pull-request job shows the change from git with the pull request's settings (a withheld
    plan, or no read-only credential): a table the base revision lacks is empty there, not an error."""
    repo, _, _ = pr
    change(repo / "configsync.yaml", "  contracts:\n", "  flags:\n    key: name\n  contracts:\n")
    (repo / "schemas/flags.schema.json").write_text('{"type": "object"}\n')
    (repo / "config-snapshots/flags").mkdir()
    (repo / "config-snapshots/flags/beta.yaml").write_text("name: beta\nenabled: true\n")
    commit_all(repo, "manage the flags table")
    result = run(repo, "diff", "HEAD^1", "HEAD")
    assert result.code == 2, result.text
    assert "+ beta" in result.out


def test_the_planned_revision_s_settings_are_compared_too(pr: tuple[Path, Path, str]) -> None:
    """A trusted checkout planning a pull request's revision by --ref: its work tree holds the base's
    settings, the revision its own."""
    repo_path, base, url = pr
    repo = pygit2.Repository(str(repo_path))
    main = repo.head.target
    change(repo_path / "configsync.yaml", HIDDEN, PLAIN)
    change(repo_path / RECORD, "name: gpt-4o-mini\n", "name: gpt-4o-mini\nnotes: x\n")
    feature = commit_all(repo_path, "unhide the notes")
    repo.reset(main, pygit2.enums.ResetMode.HARD)
    assert (repo_path / "configsync.yaml").read_text() == base.read_text()
    result = run(repo_path, "plan", "--trusted-config", str(base), "--ref", feature, "--format", "markdown",
                 database=url)
    assert result.code == EXIT_WITHHELD, result.text
    assert "- `tables.proposer_configs.secret`: no longer hides `notes`" in result.out and SECRET not in result.text


def test_a_symlinked_configsync_yaml_is_not_followed(pr: tuple[Path, Path, str], tmp_path: Path) -> None:
    repo, base, url = pr
    elsewhere = tmp_path / "runner-file"
    elsewhere.write_text((repo / "configsync.yaml").read_text())
    (repo / "configsync.yaml").unlink()
    (repo / "configsync.yaml").symlink_to(elsewhere)
    result = run(repo, "plan", "--trusted-config", str(base), database=url)
    assert result.code == 1 and "configsync.yaml: a symbolic link; with --trusted-config it is not followed" in result.err
