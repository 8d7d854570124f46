"""Messages a newcomer met on day two: each names the right file, line and cause."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import PERMISSIVE_SCHEMA, commit_all, execute, run, two_environments

BUDGET = "config-snapshots/system_config/budget_limits.yaml"
STAGING_BUDGET = "config-snapshots/_environments/staging/system_config/budget_limits.yaml"


def _with_staging_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    repo, staging, production = two_environments(tmp_path, monkeypatch)
    assert run(repo, "snapshot", "--commit", "--database", production).code == 2
    overlay = repo / STAGING_BUDGET
    overlay.parent.mkdir(parents=True)
    overlay.write_text("config_key: budget_limits\ndescription: staging spends less\n")
    commit_all(repo, "staging overlay")
    return repo, staging, production


def test_a_base_files_unknown_column_is_reported_at_the_base_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _, _ = _with_staging_overlay(tmp_path, monkeypatch)
    (repo / "schemas/system_config.schema.json").write_text(PERMISSIVE_SCHEMA)  # only the database objects
    base = repo / BUDGET
    base.write_text(base.read_text() + "colour: blue\n")
    line = len(base.read_text().splitlines())
    overlay = repo / STAGING_BUDGET
    overlay.write_text(overlay.read_text() + "flavour: mint\n")
    commit_all(repo, "two unknown columns")

    result = run(repo, "plan", "--env", "staging")

    assert result.code == 1, result.text
    assert f"{BUDGET}:{line}: unknown column 'colour': table system_config has" in result.err
    assert f"{STAGING_BUDGET}:3: unknown column 'flavour'" in result.err  # the overlay's own column stays its
    assert "Traceback" not in result.text


def test_snapshot_of_an_environment_sees_new_columns_as_a_database_url_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _, production = _with_staging_overlay(tmp_path, monkeypatch)
    (repo / "schemas/system_config.schema.json").write_text(PERMISSIVE_SCHEMA)  # as `schema infer` would widen it
    commit_all(repo, "a schema for the migration")
    execute(production, "ALTER TABLE system_config ADD COLUMN owner TEXT")
    execute(production, "UPDATE system_config SET owner = 'platform'")
    execute(production, "UPDATE system_config SET config_value = json_set(config_value, '$.weekly_cap', 140) "
                        "WHERE config_key = 'budget_limits'")

    result = run(repo, "snapshot", "--env", "production")

    assert result.code == 2, result.text  # drift, not "No drift"
    assert "No drift" not in result.out
    overlay = repo / "config-snapshots/_environments/production/system_config/budget_limits.yaml"
    text = overlay.read_text()
    assert "owner: platform\n" in text and "  weekly_cap: 140\n" in text, text
    assert "daily_hard_cap" not in text  # only what differs from the base
    # What the snapshot wrote is what production holds: nothing left to plan.
    commit_all(repo, "production snapshot")
    plan = run(repo, "plan", "--env", "production")
    assert plan.code == 0 and "No changes." in plan.out, plan.text
    # Staging has no such column: once it holds its overlay, its snapshot finds nothing.
    assert run(repo, "apply", "--env", "staging", "--yes").code == 0
    assert run(repo, "snapshot", "--env", "staging").code == 0


def test_a_dry_run_rollback_says_rollback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _, production = _with_staging_overlay(tmp_path, monkeypatch)
    base = repo / BUDGET
    base.write_text(base.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    commit_all(repo, "lower the cap")
    assert run(repo, "apply", "--env", "production", "--yes").code == 0

    dry = run(repo, "rollback", "HEAD", "--env", "production", "--dry-run")
    real = run(repo, "rollback", "HEAD", "--env", "production", "--yes")

    assert dry.code == 0 and real.code == 0, dry.text + real.text
    for result in (dry, real):
        assert "Rollback: 0 to create, 1 to update, 0 to delete." in result.out, result.out
        assert "Plan:" not in result.out


def test_a_misspelt_key_is_named_with_the_column_the_template_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _, _ = _with_staging_overlay(tmp_path, monkeypatch)
    config = repo / "configsync.yaml"
    config.write_text(config.read_text().replace("key: config_key", "key: nmae", 1))

    for command in (("validate",), ("plan", "--env", "production")):
        result = run(repo, *command)
        assert result.code == 1, result.text
        assert ("configsync.yaml: tables.system_config.key: nmae is not in the filename template '{config_key}', "
                "which names files by config_key: if the table has no column nmae, correct `key`") in result.err
        assert "Traceback" not in result.text
