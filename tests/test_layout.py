"""One record layout and one safe file writer, used by every command that
names or writes record files."""
from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest
from configsync import files
from configsync.config import load_config
from configsync.errors import NamingError, UnsafePathError
from configsync.layout import TableLayout, twin_name
from helpers import ENV_CONFIG, MOOSE, PERMISSIVE_SCHEMA, commit_all, execute, init_repo, run, sqlite_moose, two_environments

BACKUP = MOOSE / "config-backup-2025-10-03.json"
LONG_KEY = "k" * 300  # a legal key in the database; a file name of over 200 bytes


def test_one_function_names_base_and_overlay_records(tmp_path: Path) -> None:
    init_repo(tmp_path / "repo")
    layout = TableLayout(load_config(tmp_path / "repo" / "configsync.yaml"), "system_config", ("config_key",))
    row = {"config_key": "budget limits/2"}
    assert layout.record_paths([row]) == ["config-snapshots/system_config/budget%20limits%2F2.yaml"]
    assert layout.record_paths([row], "staging") == [
        "config-snapshots/_environments/staging/system_config/budget%20limits%2F2.yaml"]
    with pytest.raises(NamingError, match=r"table system_config, row config_key='k+': key gives a file name"):
        layout.record_paths([{"config_key": LONG_KEY}])
    assert layout.record_paths([{"config_key": LONG_KEY}], lenient=True) == ["config-snapshots/system_config/?"]
    twins = layout.record_paths([{"config_key": "Foo"}, {"config_key": "foo"}, {"config_key": "bar"}])
    assert twins == [f"config-snapshots/system_config/{twin_name('Foo.yaml')}",
                     f"config-snapshots/system_config/{twin_name('foo.yaml')}",
                     "config-snapshots/system_config/bar.yaml"]
    assert twin_name("Foo.yaml").startswith("Foo~") and twin_name("Foo.yaml") != twin_name("foo.yaml")
    assert len({p.casefold() for p in twins}) == 3


def test_env_snapshot_of_an_unnameable_key_is_the_same_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --env the overlay writer names records through the same layout:
    exit 1 and the same message as without --env (it was exit 3, a "bug")."""
    staging = sqlite_moose(tmp_path / "staging.db")
    monkeypatch.setenv("STAGING_DB", staging)
    monkeypatch.setenv("PRODUCTION_DB", staging)
    repo = tmp_path / "repo"
    init_repo(repo, config=ENV_CONFIG)
    assert run(repo, "snapshot", "--commit", "--database", staging).code == 2
    execute(staging, "INSERT INTO system_config (id, config_key, config_value, config_type, description) "
                     "VALUES ('00000000-0000-0000-0000-000000000001', ?, '{}', 'feature_flag', 'long')", [LONG_KEY])
    plain = run(repo, "snapshot", "--database", staging)
    with_env = run(repo, "snapshot", "--env", "staging")
    for result in (plain, with_env):
        assert result.code == 1, result.text
        assert "Traceback" not in result.text and "bug" not in result.text
        assert f"table system_config, row config_key='{LONG_KEY}': key gives a file name of 305 bytes" in result.err
    assert plain.err == with_env.err
    assert not (repo / "config-snapshots/_environments").exists()


def _outside_link(repo: Path, outside: Path, table: str = "system_config") -> Path:
    """Replace a table's record directory with a link to a directory outside the repository."""
    outside.mkdir()
    (outside / "precious.yaml").write_text("not configsync's\n")
    link = repo / "config-snapshots" / table
    if link.exists():
        for child in link.iterdir():
            child.unlink()
        link.rmdir()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    return link


def _untouched(outside: Path) -> bool:
    return sorted(p.name for p in outside.iterdir()) == ["precious.yaml"] and \
        (outside / "precious.yaml").read_text() == "not configsync's\n"


def test_snapshot_refuses_a_symlinked_table_directory(tmp_path: Path) -> None:
    db = sqlite_moose(tmp_path / "db.sqlite")
    repo = tmp_path / "repo"
    init_repo(repo)
    _outside_link(repo, tmp_path / "outside")
    for args in (("snapshot",), ("snapshot", "--commit")):
        result = run(repo, *args, database=db)
        assert result.code == 1, result.text
        assert "config-snapshots/system_config is a symbolic link; configsync never writes or deletes through one" in result.err
        assert _untouched(tmp_path / "outside")
    # nothing else was written either: a refusal leaves no half-written snapshot
    assert not (repo / "config-snapshots/proposer_configs").exists()


def test_import_backup_refuses_a_symlinked_table_directory(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    pygit2.init_repository(str(repo), initial_head="main")
    assert run(repo, "init", "--from-backup", str(BACKUP)).code == 0
    _outside_link(repo, tmp_path / "outside", "proposer_configs")
    before = {p: p.read_bytes() for p in (repo / "config-snapshots").rglob("*") if p.is_file() and not p.is_symlink()
              and "proposer_configs" not in p.parts}
    result = run(repo, "import-backup", str(BACKUP))
    assert result.code == 1, result.text
    assert "config-snapshots/proposer_configs is a symbolic link" in result.err
    assert _untouched(tmp_path / "outside")
    after = {p: p.read_bytes() for p in (repo / "config-snapshots").rglob("*") if p.is_file() and not p.is_symlink()
             and "proposer_configs" not in p.parts}
    assert after == before


@pytest.mark.parametrize("source", ["backup", "database"])
def test_init_refuses_a_symlinked_table_directory(tmp_path: Path, source: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    pygit2.init_repository(str(repo), initial_head="main")
    _outside_link(repo, tmp_path / "outside")
    if source == "backup":
        result = run(repo, "init", "--from-backup", str(BACKUP))
    else:
        db = sqlite_moose(tmp_path / "db.sqlite")
        result = run(repo, "init", "--database", db, "--all")
    assert result.code == 1, result.text
    assert "config-snapshots/system_config is a symbolic link" in result.err
    assert "Traceback" not in result.text
    assert _untouched(tmp_path / "outside")


def test_the_writer_refuses_links_anywhere_on_the_path(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (root / "a" / "link").symlink_to(tmp_path / "elsewhere")
    (root / "a" / "file.yaml").symlink_to(tmp_path / "elsewhere" / "target.yaml")
    for rel in ("a/link/x.yaml", "a/file.yaml", "../escape.yaml", "/etc/passwd"):
        with pytest.raises(UnsafePathError):
            files.write(root, rel, b"x")
        with pytest.raises(UnsafePathError):
            files.delete(root, rel)
    assert os.listdir(tmp_path / "elsewhere") == []
    files.write(root, "a/new/dir/x.yaml", b"ok")
    assert (root / "a/new/dir/x.yaml").read_bytes() == b"ok"


def _twins_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    """A Moose repository snapshotted from production, where staging has more rows."""
    repo, staging, production = two_environments(tmp_path, monkeypatch)
    # The example's schema allows only lower-case keys; these tests need both cases.
    (repo / "schemas/system_config.schema.json").write_text(PERMISSIVE_SCHEMA)
    commit_all(repo, "any system_config key")
    return repo, production, staging


def _add_flag(url: str, key: str, n: int) -> None:
    execute(url, "INSERT INTO system_config (id, config_key, config_value, config_type, description) "
                 f"VALUES ('00000000-0000-0000-0000-00000000000{n}', ?, 'true', 'boolean', 'case twin')", [key])


def test_keys_differing_only_in_case_get_twin_names_and_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row gets a file: twins get a suffix from their exact key, every
    other record keeps its plain name; validate, plan and a second snapshot
    agree with those names."""
    repo, production, _ = _twins_repo(tmp_path, monkeypatch)
    _add_flag(production, "Routing_Config", 1)  # a twin of routing_config
    result = run(repo, "snapshot", "--commit", "--database", production)
    assert result.code == 2, result.text
    directory = repo / "config-snapshots/system_config"
    names = sorted(p.name for p in directory.iterdir())
    assert twin_name("Routing_Config.yaml") in names and twin_name("routing_config.yaml") in names
    assert "routing_config.yaml" not in names and "budget_limits.yaml" in names
    assert len({n.casefold() for n in names}) == len(names) == 7  # six seeded rows and the twin
    assert run(repo, "validate").code == 0
    assert run(repo, "plan", "--database", production).code == 0
    assert run(repo, "snapshot", "--database", production).code == 0

    # A file under the plain name beside its twin is refused, naming the name to use.
    (directory / "routing_config.yaml").write_bytes((directory / twin_name("routing_config.yaml")).read_bytes())
    (directory / twin_name("routing_config.yaml")).unlink()
    result = run(repo, "validate")
    assert result.code == 1
    assert ("config-snapshots/system_config/routing_config.yaml: same name as "
            f"config-snapshots/system_config/{twin_name('Routing_Config.yaml')} apart from letter case") in result.out
    assert f"expected config-snapshots/system_config/{twin_name('routing_config.yaml')}" in result.out

    # When the twin goes away, the other takes its plain name back.
    (directory / "routing_config.yaml").unlink()
    result = run(repo, "validate")
    assert result.code == 1
    assert "file name does not match the record's key: expected config-snapshots/system_config/Routing_Config.yaml" in result.out


def test_an_overlay_names_a_new_twin_without_renaming_the_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, production, staging = _twins_repo(tmp_path, monkeypatch)
    assert run(repo, "snapshot", "--commit", "--database", production).code == 2
    _add_flag(staging, "Budget_Limits", 2)  # only staging has the twin
    result = run(repo, "snapshot", "--env", "staging")
    assert result.code == 2, result.text
    overlay = repo / "config-snapshots/_environments/staging/system_config"
    assert sorted(p.name for p in overlay.iterdir()) == [twin_name("Budget_Limits.yaml")]
    assert (repo / "config-snapshots/system_config/budget_limits.yaml").is_file()  # the base keeps its name
    assert run(repo, "validate").code == 0
    commit_all(repo, "staging's twin")
    assert run(repo, "plan", "--env", "staging").code == 0
    assert run(repo, "plan", "--env", "production").code == 0
    assert run(repo, "snapshot", "--env", "staging").code == 0


def test_an_overlay_whose_base_record_is_gone_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Renaming a key in the base leaves the staging overlay of the old name
    patching nothing: validate says so instead of keeping a partial record
    alive in staging. An overlay that writes a whole record stays valid."""
    repo, production, _ = _twins_repo(tmp_path, monkeypatch)
    assert run(repo, "snapshot", "--commit", "--database", production).code == 2
    overlay = repo / "config-snapshots/_environments/staging/system_config"
    overlay.mkdir(parents=True)
    (overlay / "budget_limits.yaml").write_text("config_key: budget_limits\nconfig_value:\n  daily_hard_cap: 10\n")
    whole = (repo / "config-snapshots/system_config/orchestrator_enabled.yaml").read_text()
    (overlay / "staging_only.yaml").write_text(whole.replace("orchestrator_enabled", "staging_only"))
    assert run(repo, "validate").code == 0
    base = repo / "config-snapshots/system_config"
    (base / "budget_caps.yaml").write_text((base / "budget_limits.yaml").read_text().replace(
        "config_key: budget_limits", "config_key: budget_caps"))
    (base / "budget_limits.yaml").unlink()
    result = run(repo, "validate")
    assert result.code == 1, result.text
    assert ("config-snapshots/_environments/staging/system_config/budget_limits.yaml:1: there is no base record "
            "budget_limits.yaml for this overlay to change (was it renamed or deleted?)") in result.out
    assert "staging_only" not in result.out


def test_history_takes_the_key_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`history TABLE/KEY` finds the record whether given its file name or its
    key as typed (percent-encoded in the file name, or a twin's suffixed name)."""
    repo, production, _ = _twins_repo(tmp_path, monkeypatch)
    _add_flag(production, "beta/api v2", 1)
    _add_flag(production, "Budget_Limits", 2)
    assert run(repo, "snapshot", "--commit", "--database", production).code == 2
    for typed in ("system_config/beta/api v2", "system_config/beta%2Fapi%20v2", "system_config/beta%2Fapi%20v2.yaml",
                  "system_config/budget_limits", "system_config/Budget_Limits"):
        result = run(repo, "history", typed)
        assert result.code == 0, (typed, result.text)
        assert "created" in result.out, (typed, result.out)
    result = run(repo, "history", "system_config/nothing here")
    assert result.code == 1
    assert "system_config/nothing here.yaml: no such record in the history of HEAD" in result.err
