"""`init` on a repository that already has a configsync.yaml: it adds the
tables the file lacks and leaves everything a person wrote alone."""
from __future__ import annotations

from pathlib import Path

import pygit2
from helpers import commit_all, execute, run

DDL = [
    "CREATE TABLE feature_types (name TEXT PRIMARY KEY, label TEXT NOT NULL)",
    "CREATE TABLE features (name TEXT PRIMARY KEY, type TEXT NOT NULL REFERENCES feature_types (name), "
    "enabled BOOLEAN NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    "INSERT INTO feature_types (name, label) VALUES ('bool', 'On or off'), ('percent', 'Rollout percentage')",
    "INSERT INTO features (name, type, enabled) VALUES ('beta', 'bool', TRUE), ('new_ui', 'percent', FALSE)",
]
SHA_1, SHA_2 = "1" * 40, "2" * 40


def _database(db_url: str) -> str:
    for statement in DDL:
        execute(db_url, statement)
    return db_url


def _repo(path: Path) -> Path:
    path.mkdir()
    pygit2.init_repository(str(path), initial_head="main")
    return path


def _files(root: Path, *under: str) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for folder in under for p in sorted((root / folder).rglob("*")) if p.is_file()}


def test_init_adds_a_table_and_leaves_the_rest_alone(tmp_path: Path, db_url: str) -> None:
    url = _database(db_url)
    repo = _repo(tmp_path / "repo")
    first = run(repo, "init", "--database", url, "--tables", "features")
    assert first.code == 0, first.text
    # The team makes the config its own: a comment, a setting, an environment after `tables:`.
    config = (repo / "configsync.yaml").read_text()
    assert "  features:\n    key: name\n" in config
    config = config.replace("tables:\n", "# Reviewed by the platform team.\ntables:\n").replace(
        "    key: name\n", "    key: name\n    mode: upsert   # production adds its own flags\n")
    config += "\nenvironments:\n  staging: ${STAGING_URL}\n"
    (repo / "configsync.yaml").write_text(config)
    schema = repo / "schemas/features.schema.json"
    schema.write_text(schema.read_text().replace('"title"', '"description": "Feature flags.",\n  "title"', 1))
    beta = repo / "config-snapshots/features/beta.yaml"
    beta.write_text("# the public beta\n" + beta.read_text())
    commit_all(repo, "adopt features")
    # The database moved on: init must not snapshot it into the managed table.
    execute(url, "INSERT INTO features (name, type, enabled) VALUES ('dark_mode', 'bool', TRUE)")
    before = _files(repo, "schemas", "config-snapshots")

    result = run(repo, "init", "--database", url, "--tables", "features,feature_types")

    assert result.code == 0, result.text
    assert "left alone (edited" not in result.out, result.out
    assert "  updated    configsync.yaml\n" in result.out
    assert "Added 1 table(s): feature_types. Already in configsync.yaml, left as they are: features." in result.out
    # The entry goes at the end of `tables:`, in init's style; every other byte stays.
    added = "  feature_types:\n    key: name\n    filename: \"{name}\"\n"
    expected = config.replace("\nenvironments:\n", added + "\nenvironments:\n")
    assert (repo / "configsync.yaml").read_text() == expected
    after = _files(repo, "schemas", "config-snapshots")
    assert {k: v for k, v in after.items() if "feature_types" not in k} == before
    assert sorted(k for k in after if "feature_types" in k) == [
        "config-snapshots/feature_types/bool.yaml", "config-snapshots/feature_types/percent.yaml",
        "schemas/feature_types.schema.json",
    ]
    assert run(repo, "validate").code == 0

    # Once more: nothing to add, nothing written, nothing called edited.
    tree = _files(repo, "schemas", "config-snapshots")
    again = run(repo, "init", "--database", url, "--tables", "features,feature_types")
    assert again.code == 0, again.text
    assert "No table added." in again.out and "0 file(s) written" in again.out and "left alone (edited" not in again.out
    assert _files(repo, "schemas", "config-snapshots") == tree
    assert (repo / "configsync.yaml").read_text() == expected


def test_init_updates_what_it_wrote_and_leaves_what_a_person_edited(tmp_path: Path, db_url: str) -> None:
    url = _database(db_url)
    repo = _repo(tmp_path / "repo")
    assert run(repo, "init", "--database", url, "--all", "--action", f"acme/configsync@{SHA_1}").code == 0
    edited = repo / ".github/workflows/config-pr.yml"
    edited.write_text(edited.read_text() + "# our own step\n")

    result = run(repo, "init", "--database", url, "--all", "--action", f"acme/configsync@{SHA_2}")

    assert result.code == 0, result.text
    # Files init wrote and nobody touched follow the new pin; the edited one is left alone, and said so.
    assert "  updated    .github/workflows/config-apply.yml\n" in result.out
    assert "  left alone (edited; --force overwrites) .github/workflows/config-pr.yml\n" in result.out
    assert result.out.count("left alone (edited") == 1
    assert SHA_2 in (repo / ".github/workflows/config-apply.yml").read_text()
    assert SHA_1 in edited.read_text() and edited.read_text().endswith("# our own step\n")


def test_init_cannot_add_to_a_flow_style_tables_setting(tmp_path: Path, db_url: str) -> None:
    url = _database(db_url)
    repo = _repo(tmp_path / "repo")
    config = "tables: {features: {key: name, exclude: [created_at]}}\n"
    (repo / "configsync.yaml").write_text(config)

    result = run(repo, "init", "--database", url, "--tables", "features,feature_types")

    assert result.code == 1
    assert "configsync.yaml: cannot find a block-style `tables:` setting to add feature_types to" in result.err
    assert "  feature_types:\n    key: name\n" in result.err  # the lines to paste
    assert "Traceback" not in result.text
    assert (repo / "configsync.yaml").read_text() == config
    assert not (repo / "schemas").exists()


def test_a_configured_table_without_a_primary_key_does_not_stop_init_adding_another(
    tmp_path: Path, db_url: str
) -> None:
    url = _database(db_url)
    execute(url, "CREATE TABLE notes (title TEXT, body TEXT)")  # no key init could infer
    execute(url, "INSERT INTO notes (title, body) VALUES ('welcome', 'hello')")
    repo = _repo(tmp_path / "repo")
    config = "tables:\n  notes:\n    key: title   # chosen by hand\n"
    (repo / "configsync.yaml").write_text(config)

    result = run(repo, "init", "--database", url, "--tables", "notes,feature_types")

    assert result.code == 0, result.text
    assert "Added 1 table(s): feature_types. Already in configsync.yaml, left as they are: notes." in result.out
    assert (repo / "configsync.yaml").read_text() == config + '  feature_types:\n    key: name\n    filename: "{name}"\n'
    # a configured table whose schema was never written (an init that stopped half-way) gets one
    assert (repo / "schemas/notes.schema.json").is_file() and (repo / "config-snapshots/notes/welcome.yaml").is_file()
