"""Bad input never hurts: every mistake in a record file, a schema, configsync.yaml,
a database URL or a saved plan ends with a clear message that names the file
(and line) or the setting, exit code 1, no traceback, and the database exactly
as it was. Also the safety refusals of `apply`: uncommitted changes, mass
deletion, secret columns in git, stale/replayed/tampered plans, no terminal.

Each case starts from a real repository snapshotted from the seeded Moose
database (SQLite and PostgreSQL), breaks one thing, commits it, and runs the
commands a user or CI would run.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
from helpers import Result, commit_all, dump, execute, head, is_clean, postgres_moose, run, sqlite_moose

CONFIG = "configsync.yaml"
SYSTEM = "config-snapshots/system_config"
BUDGET = f"{SYSTEM}/budget_limits.yaml"
MINI = "config-snapshots/proposer_configs/gpt-4o-mini.yaml"
CLAUDE = "config-snapshots/proposer_configs/claude-sonnet-4-5.yaml"
SCHEMA = "schemas/system_config.schema.json"
SYSTEM_EXCLUDE = "    exclude: [created_at, updated_at]\n  proposer_configs:"  # line 16 of configsync.yaml

Break = Callable[[Path], None]


# ---- helpers -------------------------------------------------------------------


def snapshot(repo: Path, url: str) -> None:
    result = run(repo, "snapshot", "--commit", database=url)
    assert result.code == 2, result.text


def snapshot_then_break(repo: Path, url: str, break_it: Break, message: str = "break something") -> None:
    snapshot(repo, url)
    break_it(repo)
    commit_all(repo, message)


def assert_refused(result: Result, *fragments: str) -> None:
    """Exit 1, a message (each fragment on one line of it), never a traceback or a crash report."""
    code, text = result.code, result.text
    assert code == 1, f"exit {code}, expected 1:\n{text}"
    assert "Traceback" not in text, text
    assert "failed unexpectedly" not in text, text  # the CLI's report of a bug (exit 3)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"


def backup_refs(repo: Path) -> list[str]:
    return [r for r in pygit2.Repository(str(repo)).references if r.startswith("refs/configsync/backups/")]


def edit(path: str, old: str, new: str) -> Break:
    def apply(repo: Path) -> None:
        file = repo / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new, 1))

    return apply


def write(path: str, text: str | bytes) -> Break:
    def apply(repo: Path) -> None:
        file = repo / path
        file.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            file.write_bytes(text)
        else:
            file.write_text(text)

    return apply


def copy(source: str, target: str) -> Break:
    def apply(repo: Path) -> None:
        shutil.copyfile(repo / source, repo / target)

    return apply


def both(*steps: Break) -> Break:
    def apply(repo: Path) -> None:
        for step in steps:
            step(repo)

    return apply


def allow_in_schema(column: str) -> Break:
    """Let the JSON Schema accept ``column`` so only the database can object."""

    def apply(repo: Path) -> None:
        path = repo / SCHEMA
        schema = json.loads(path.read_text())
        schema["properties"][column] = {"type": "string"}
        path.write_text(json.dumps(schema, indent=2) + "\n")

    return apply


def ensure_refused_everywhere(repo: Path, url: str, fragment: str, *, validate: bool = True) -> None:
    """validate (no database), plan and apply --yes all refuse with ``fragment``;
    the database, HEAD and the backup refs are untouched."""
    before, commit = dump(url), head(repo)
    if validate:
        assert_refused(run(repo, "validate"), fragment)
    assert_refused(run(repo, "plan", database=url), fragment)
    assert_refused(run(repo, "apply", "--yes", database=url), fragment)
    assert dump(url) == before
    assert head(repo) == commit
    assert backup_refs(repo) == []


# ---- record files and schemas -------------------------------------------------------

# (id, how to break the committed snapshot, the message as printed: file:line: what)
RECORD_CASES = [
    pytest.param(
        edit(BUDGET, "config_type: budget", "config_type: budget: oops"),
        f"{BUDGET}:10: invalid YAML: mapping values are not allowed here",
        id="invalid-yaml",
    ),
    pytest.param(
        edit(BUDGET, "  daily_soft_cap: 20", "\tdaily_soft_cap: 20"),
        f"{BUDGET}:6: invalid YAML: found character '\\t' that cannot start any token",
        id="invalid-yaml-tab-indent",
    ),
    pytest.param(
        # the unclosed bracket is on line 6; PyYAML notices it on line 7
        edit(BUDGET, "  daily_soft_cap: 20", "  daily_soft_cap: [20"),
        f"{BUDGET}:7: invalid YAML: expected ',' or ']'",
        id="invalid-yaml-unclosed-list",
    ),
    pytest.param(
        edit(BUDGET, "config_type: budget", "config_type: budget\nconfig_type: json"),
        f"{BUDGET}:11: duplicate key 'config_type'",
        id="duplicate-key",
    ),
    pytest.param(
        edit(BUDGET, "  daily_soft_cap: 20", "  daily_soft_cap: 20\n  daily_soft_cap: 25"),
        f"{BUDGET}:7: duplicate key 'daily_soft_cap'",
        id="duplicate-nested-key",
    ),
    pytest.param(
        edit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: -5"),
        f"{BUDGET}:5: config_value.daily_hard_cap: -5 is less than the minimum of 0",
        id="schema-violation-nested",
    ),
    pytest.param(
        edit(BUDGET, "config_type: budget", "config_type: budgett"),
        f"{BUDGET}:10: config_type: 'budgett' is not one of",
        id="schema-violation-enum",
    ),
    pytest.param(
        edit(MINI, "context_limit: 128000", "context_limit: lots"),
        f"{MINI}:6: context_limit: 'lots' is not of type 'integer'",
        id="schema-violation-type",
    ),
    pytest.param(
        edit(BUDGET, "config_key: budget_limits", "config_key: budget_caps"),
        f"{BUDGET}:3: file name does not match the record's key: expected {SYSTEM}/budget_caps.yaml",
        id="file-name-not-key",
    ),
    pytest.param(
        # the usual way to get two files with one key: copy a file, forget the key
        copy(BUDGET, f"{SYSTEM}/budget_limits_v2.yaml"),
        f"{SYSTEM}/budget_limits_v2.yaml:3: file name does not match the record's key: expected {BUDGET}",
        id="two-files-same-key-copied",
    ),
    pytest.param(
        # both names match their key, yet 1 and 1.0 are one key
        both(
            write(f"{SYSTEM}/1.yaml", "config_key: 1\nconfig_value: 1\nconfig_type: number\n"),
            write(f"{SYSTEM}/1.0.yaml", "config_key: 1.0\nconfig_value: 1\nconfig_type: number\n"),
        ),
        f"{SYSTEM}/1.yaml: same key as {SYSTEM}/1.0.yaml",
        id="two-files-same-key",
    ),
    pytest.param(
        # a second file for gpt-4o-mini that only differs in letter case
        write(
            "config-snapshots/proposer_configs/GPT-4o-mini.yaml",
            "name: GPT-4o-mini\nprovider: openai\nendpoint: https://x\ncontext_limit: 1\n"
            "cost_profile: {}\nstrengths: []\ncomplexity_threshold: 0.5\n",
        ),
        "apart from letter case; the two would collide on macOS and Windows",
        id="two-files-same-name-but-case",
    ),
    pytest.param(
        edit(BUDGET, "config_key: budget_limits", "config_key: ../x"),
        f"{BUDGET}:3: file name does not match the record's key: expected {SYSTEM}/%2E.%2Fx.yaml",
        id="key-escapes-directory",
    ),
    pytest.param(
        write(f"{SYSTEM}/%2E.%2F%2E.%2Fx.yaml", "config_key: ../../x\nconfig_value: 1\nconfig_type: number\n"),
        f"{SYSTEM}/%2E.%2F%2E.%2Fx.yaml:1: config_key: '../../x' does not match",
        id="key-escapes-directory-encoded-name",
    ),
    pytest.param(
        edit(BUDGET, "updated_by: api_user", "updated_by: api_user\ncolour: red"),
        f"{BUDGET}:13: colour: not allowed by the schema (unknown column or field)",
        id="unknown-column",
    ),
    pytest.param(
        edit(BUDGET, "updated_by: api_user", "updated_by: api_user\ncreated_at: '2025-01-01T00:00:00Z'"),
        f"{BUDGET}:13: column 'created_at' is excluded in configsync.yaml; remove it",
        id="excluded-column",
    ),
    pytest.param(
        write("config-snapshots/system_confg/foo.yaml", "config_key: foo\n"),
        "config-snapshots/system_confg/foo.yaml: directory 'system_confg' is not a table in configsync.yaml "
        "(tables: system_config, proposer_configs, contracts)",
        id="unknown-table-directory",
    ),
    pytest.param(
        write(f"{SYSTEM}/old/foo.yaml", "config_key: foo\n"),
        f"{SYSTEM}/old/foo.yaml: record files go in config-snapshots/<table>/<name>.yaml",
        id="nested-directory",
    ),
    pytest.param(
        write(f"{SYSTEM}/foo.yml", "config_key: foo\n"),
        f"{SYSTEM}/foo.yml: record files must end in .yaml",
        id="wrong-extension",
    ),
    pytest.param(
        write(f"{SYSTEM}/foo.yaml", "# nothing here yet\n"),
        f"{SYSTEM}/foo.yaml:1: file is empty; a record is a mapping of column: value",
        id="empty-file",
    ),
    pytest.param(
        write(f"{SYSTEM}/foo.yaml", "- config_key: foo\n"),
        f"{SYSTEM}/foo.yaml:1: a record must be a mapping of column: value",
        id="not-a-mapping",
    ),
    pytest.param(
        write(f"{SYSTEM}/foo.yaml", b"config_key: foo\nconfig_type: caf\xe9\n"),
        f"{SYSTEM}/foo.yaml:2: not valid UTF-8",
        id="not-utf8",
    ),
    pytest.param(
        edit(BUDGET, "config_type: budget", "config_type: &t budget\ndescription: *t"),
        f"{BUDGET}:10: anchors (&t) are not allowed",
        id="yaml-anchor",
    ),
    pytest.param(
        edit(BUDGET, "config_key: budget_limits\n", ""),
        f"{BUDGET}:1: key column 'config_key' is missing or empty",
        id="key-missing",
    ),
    pytest.param(
        write(SCHEMA, '{"type": "object",\n "properties": }\n'),
        f"{SCHEMA}:2: invalid JSON",
        id="schema-not-json",
    ),
    pytest.param(
        write(SCHEMA, '{"type": 5}\n'),
        f"{SCHEMA}: not a valid JSON Schema at type",
        id="schema-not-a-schema",
    ),
    pytest.param(
        lambda repo: (repo / SCHEMA).unlink(),
        f"{SCHEMA}: no schema for table system_config",
        id="schema-missing",
    ),
]


@pytest.mark.parametrize(("break_it", "message"), RECORD_CASES)
def test_bad_record_file_is_refused(repo_path: Path, moose_url: str, break_it: Break, message: str) -> None:
    snapshot_then_break(repo_path, moose_url, break_it)
    ensure_refused_everywhere(repo_path, moose_url, message)


# Cases only the database can catch: validate passes, plan and apply refuse.
DATABASE_CASES = [
    pytest.param(
        both(allow_in_schema("colour"), edit(BUDGET, "updated_by: api_user", "updated_by: api_user\ncolour: red")),
        f"{BUDGET}:13: unknown column 'colour': table system_config has id, config_key, config_value",
        id="unknown-column-schema-allows-it",
    ),
    pytest.param(
        # .nan is a number (numeric and float columns hold NaN), but not inside JSON:
        # only the database says config_value is jsonb.
        edit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: .nan"),
        f"{BUDGET}:4: config_value: .nan is not a JSON number (JSON has no NaN or Infinity)",
        id="nan-inside-json",
    ),
    pytest.param(
        edit(CONFIG, SYSTEM_EXCLUDE, SYSTEM_EXCLUDE.replace("updated_at]", "updatd_at]")),
        "configsync.yaml: tables.system_config.exclude: table system_config has no column 'updatd_at'",
        id="setting-names-unknown-column",
    ),
    pytest.param(
        edit(CONFIG, "  contracts:", "  contractz:"),
        "table contractz does not exist in",
        id="setting-names-unknown-table",
    ),
]


@pytest.mark.parametrize(("break_it", "message"), DATABASE_CASES)
def test_mismatch_with_the_database_is_refused(
    repo_path: Path, moose_url: str, break_it: Break, message: str
) -> None:
    snapshot_then_break(repo_path, moose_url, break_it)
    ensure_refused_everywhere(repo_path, moose_url, message, validate=False)


# ---- configsync.yaml ---------------------------------------------------------------

SETTING_CASES = [
    pytest.param(
        edit(CONFIG, SYSTEM_EXCLUDE, SYSTEM_EXCLUDE.replace("exclude:", "exlude:")),
        "unknown setting tables.system_config.'exlude' (allowed: drift, exclude, filename, key, mode, rls, secret)",
        id="typo-in-table-setting",
    ),
    pytest.param(
        edit(CONFIG, "tables:", "tabels:"),
        "unknown setting 'tabels' (allowed: database, environments, environments_file, groups, history_table, notify, rollout, schemas, snapshots, tables)",
        id="typo-in-top-level-setting",
    ),
    pytest.param(
        edit(CONFIG, '    filename: "{name}"\n', '    filename: "{name}"\n    mode: upsret\n'),
        "configsync.yaml:20: tables.proposer_configs.mode: 'upsret' is not one of ['reconcile', 'upsert', 'seed']",
        id="typo-in-a-value",
    ),
    pytest.param(
        edit(CONFIG, "key: config_key", "key:"),
        "configsync.yaml:14: tables.system_config.key: expected a column name or a list of column names",
        id="empty-key",
    ),
    pytest.param(
        edit(CONFIG, 'filename: "{config_key}"', 'filename: "{id}"'),
        "configsync.yaml: tables.system_config.key: config_key is not in the filename template '{id}', which names "
        "files by id: if the table has no column config_key, correct `key`; otherwise make the template use {config_key}",
        id="filename-not-the-key",
    ),
    pytest.param(
        edit(CONFIG, "tables:", "snapshots: ../elsewhere\ntables:"),
        "configsync.yaml: snapshots: '../elsewhere' must be a directory inside the config repository",
        id="snapshots-outside-repo",
    ),
    pytest.param(
        edit(CONFIG, "key: config_key", "key: config_key: oops"),
        "configsync.yaml:14: invalid YAML: mapping values are not allowed here",
        id="invalid-yaml",
    ),
    pytest.param(
        write(CONFIG, "# just a comment\n"),
        "configsync.yaml: expected a mapping with a 'tables' setting",
        id="empty",
    ),
]


@pytest.mark.parametrize(("break_it", "message"), SETTING_CASES)
def test_bad_setting_is_named(repo_path: Path, moose_url: str, break_it: Break, message: str) -> None:
    snapshot_then_break(repo_path, moose_url, break_it, "break configsync.yaml")
    ensure_refused_everywhere(repo_path, moose_url, message)


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        pytest.param(SYSTEM_EXCLUDE, SYSTEM_EXCLUDE.replace("exclude:", "exlude:"), 16, id="table-setting"),
        pytest.param("tables:", "tabels:", 12, id="top-level-setting"),
    ],
)
def test_typo_in_setting_points_at_its_line(repo_path: Path, old: str, new: str, line: int) -> None:
    """The line given for an unknown setting is the line where the typo is."""
    edit(CONFIG, old, new)(repo_path)
    result = run(repo_path, "validate")
    assert_refused(result, f"configsync.yaml:{line}: unknown setting")


def test_missing_config_file(repo_path: Path, moose_url: str) -> None:
    snapshot(repo_path, moose_url)
    (repo_path / CONFIG).unlink()
    commit_all(repo_path, "remove the config")
    ensure_refused_everywhere(
        repo_path, moose_url,
        "configsync.yaml: no such file (run configsync in the config repository, or pass --config FILE)",
    )
    assert_refused(run(repo_path, "--config", "other.yaml", "plan", database=moose_url), "other.yaml: no such file")


def test_environment_without_its_variable(repo_path: Path) -> None:
    result = run(repo_path, "--env", "production", "plan")
    assert_refused(result, "environments.production: environment variable SUPABASE_DB_URL is not set")
    result = run(repo_path, "--env", "staging", "plan")
    assert_refused(result, "--env staging: no such environment in configsync.yaml (production)")


# ---- database URLs -----------------------------------------------------------------

URL_CASES = [
    # A port that is not a number is not shown: in postgresql://user:pass/word@host
    # libpq reads "pass" as the port.
    pytest.param(
        "postgresql://host:notaport/db",
        "database URL <unparseable database URL>: the port is not a number "
        "(expected sqlite:///path/to/file.db, postgresql://user:password@host:5432/dbname or, for Supabase's "
        "REST API, https://<project-ref>.supabase.co with $SUPABASE_SERVICE_ROLE_KEY (a PostgREST without the "
        "/rest/v1 prefix: postgrest+https://<host>))",
        id="malformed-port",
    ),
    pytest.param(
        "postgresql://user:s3cret@host:notaport/db",
        "database URL <unparseable database URL>: the port is not a number",
        id="malformed-port-with-password",
    ),
    pytest.param("mysql://x/y", "database URL mysql://x/y: unsupported scheme 'mysql'", id="unsupported-scheme"),
    pytest.param("localhost:5432/db", "unsupported scheme", id="no-scheme"),
    pytest.param("db.example.com/app", "or, for Supabase's REST API, https://<project-ref>.supabase.co",
                 id="no-scheme-names-every-form"),
    pytest.param("postgresql:///db", "database URL postgresql:///db: no host given", id="no-host"),
    pytest.param("sqlite://", "database URL sqlite://: expected sqlite:///relative/path.db", id="sqlite-no-path"),
    pytest.param(
        "postgresql://user:s3cret@[::1/db",
        "database URL <unparseable database URL>: an IPv6 address without its closing ']'",
        id="unparseable",
    ),
    pytest.param(
        "postgresql://user:s3cret@127.0.0.1:1/db",
        "cannot connect to postgresql://user:***@127.0.0.1:1/db: connection failed",
        id="unreachable",
    ),
]


@pytest.fixture
def snapshotted_repo(repo_path: Path, tmp_path: Path) -> Path:
    """The repository with committed record files (from an SQLite Moose database)."""
    snapshot(repo_path, sqlite_moose(tmp_path / "moose.sqlite"))
    return repo_path


@pytest.mark.parametrize(("url", "message"), URL_CASES)
@pytest.mark.parametrize("command", [("plan",), ("apply", "--yes"), ("snapshot",), ("status",)], ids=" ".join)
def test_bad_database_url(snapshotted_repo: Path, url: str, message: str, command: tuple[str, ...]) -> None:
    commit = head(snapshotted_repo)
    result = run(snapshotted_repo, *command, database=url)
    assert_refused(result, message)
    assert "s3cret" not in result.text
    assert is_clean(snapshotted_repo) and head(snapshotted_repo) == commit


def test_unreachable_database_from_an_environment(snapshotted_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CI path: --env production with the URL in a secret variable."""
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://postgres:s3cret@127.0.0.1:1/postgres")
    for command in (("plan",), ("apply", "--yes")):
        result = run(snapshotted_repo, "--env", "production", *command)
        assert_refused(result, "cannot connect to postgresql://postgres:***@127.0.0.1:1/postgres")
        assert "s3cret" not in result.text


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://user@127.0.0.1:1/db?password=s3cret", id="password-in-query"),
        pytest.param("host=127.0.0.1 port=1 user=u password=s3cret dbname=db", id="keyword-value-dsn"),
    ],
)
def test_password_never_printed(snapshotted_repo: Path, url: str) -> None:
    """libpq also takes the password as ?password= or in a key=value string;
    neither form may end up in the output."""
    result = run(snapshotted_repo, "plan", database=url)
    assert_refused(result)
    assert "s3cret" not in result.text, result.text


def test_password_in_query_not_printed_once_connected(repo_path: Path, pg_url: str, tmp_path: Path) -> None:
    """Connected, the plan header, the saved plan and snapshot's output show the URL: redacted."""
    url = postgres_moose(pg_url)
    url += ("&" if "?" in url else "?") + "password=s3cret"  # ignored by the test server (trust auth)
    plan_file = tmp_path / "plan.json"
    for command in (("snapshot", "--commit"), ("plan", "--out", str(plan_file)), ("status",)):
        result = run(repo_path, *command, database=url)
        assert result.code in (0, 2), result.text
        assert "s3cret" not in result.text, result.text
    assert "s3cret" not in plan_file.read_text()


# ---- apply's safety refusals -----------------------------------------------------------


def _change_budget(repo: Path) -> None:
    edit(BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 40")(repo)
    commit_all(repo, "lower the daily hard cap")


def saved_plan(repo: Path, url: str, tmp_path: Path) -> Path:
    """The plan of a committed change, saved to a file after a snapshot."""
    snapshot(repo, url)
    _change_budget(repo)
    plan_file = tmp_path / "plan.json"
    assert run(repo, "plan", "--out", str(plan_file), database=url).code == 2
    return plan_file


def assert_apply_refused(
    repo: Path, url: str, apply_args: tuple[str, ...], *fragments: str, input: str | None = None
) -> None:
    """``apply *apply_args`` refuses with ``fragments``; the database is untouched and no backup is made."""
    before = dump(url)
    result = run(repo, "apply", *apply_args, database=url, input=input)
    assert_refused(result, *fragments)
    assert dump(url) == before
    assert backup_refs(repo) == []


@pytest.mark.parametrize(
    ("dirty", "path"),
    [
        pytest.param(edit(f"{SYSTEM}/routing_config.yaml", "enable_parallel_mode: false", "enable_parallel_mode: true"),
                     f"{SYSTEM}/routing_config.yaml", id="modified"),
        pytest.param(write(f"{SYSTEM}/new_flag.yaml", "config_key: new_flag\nconfig_value: true\nconfig_type: boolean\n"),
                     f"{SYSTEM}/new_flag.yaml", id="untracked"),
        pytest.param(lambda repo: (repo / f"{SYSTEM}/orchestrator_enabled.yaml").unlink(),
                     f"{SYSTEM}/orchestrator_enabled.yaml", id="deleted"),
        pytest.param(allow_in_schema("colour"), SCHEMA, id="schema-modified"),
    ],
)
def test_apply_refuses_uncommitted_changes(repo_path: Path, moose_url: str, dirty: Break, path: str) -> None:
    snapshot(repo_path, moose_url)
    _change_budget(repo_path)  # a committed change apply would make...
    dirty(repo_path)  # ...and one it would silently ignore
    assert_apply_refused(
        repo_path, moose_url, ("--yes",), "uncommitted changes that apply would ignore", path, "Commit or stash them first."
    )
    # The refusal comes before any plan: nothing on screen looks like a plan to confirm.
    result = run(repo_path, "apply", "--yes", database=moose_url)
    assert "Plan:" not in result.out and "budget_limits" not in result.out, result.out


def test_library_apply_refuses_uncommitted_changes(repo_path: Path, moose_url: str) -> None:
    """The library refuses too, not only the command line."""
    from configsync.errors import RepoError
    from configsync.workspace import Workspace

    snapshot(repo_path, moose_url)
    _change_budget(repo_path)
    before = dump(moose_url)
    (repo_path / f"{SYSTEM}/orchestrator_enabled.yaml").unlink()
    with Workspace.open(repo_path / "configsync.yaml", database=moose_url) as ws:
        plan = ws.plan()
        with pytest.raises(RepoError, match="uncommitted changes that apply would ignore"):
            ws.apply(plan)
    assert dump(moose_url) == before


def test_apply_refuses_emptying_a_table_unless_allowed(repo_path: Path, moose_url: str) -> None:
    snapshot(repo_path, moose_url)
    original = dump(moose_url)
    for file in (repo_path / SYSTEM).glob("*.yaml"):
        file.unlink()
    commit_all(repo_path, "bad merge: system_config lost every file")

    result = run(repo_path, "plan", database=moose_url)
    assert result.code == 2, result.text
    assert "Plan: 0 to create, 0 to update, 6 to delete." in result.out

    result = run(repo_path, "apply", "--yes", database=moose_url)
    assert_refused(
        result,
        "refusing a mass deletion",
        "system_config: would delete all 6 rows, leaving the table empty",
        "run again with --allow-mass-delete",
    )
    assert dump(moose_url) == original
    assert backup_refs(repo_path) == []

    result = run(repo_path, "apply", "--yes", "--allow-mass-delete", database=moose_url)
    assert result.code == 0, result.text
    assert "Applied: 0 created, 0 updated, 6 deleted" in result.out
    after = dump(moose_url)
    assert after["system_config"] == []
    assert after["proposer_configs"] == original["proposer_configs"]
    assert after["contracts"] == original["contracts"]


def test_secret_column_in_a_record_file_is_refused(repo_path: Path, moose_url: str) -> None:
    config = repo_path / CONFIG
    config.write_text(config.read_text().replace(
        '    filename: "{name}"\n    exclude: [created_at, updated_at]\n',
        '    filename: "{name}"\n    exclude: [created_at, updated_at]\n    secret: [notes]\n',
    ))
    commit_all(repo_path, "proposer notes are secret")
    snapshot(repo_path, moose_url)
    mini = repo_path / MINI
    assert "notes" not in mini.read_text()  # snapshot never writes a secret column

    mini.write_text(mini.read_text() + "notes: hunter2-do-not-leak\n")
    commit_all(repo_path, "oops")
    line = len(mini.read_text().splitlines())
    ensure_refused_everywhere(
        repo_path, moose_url, f"{MINI}:{line}: column 'notes' is secret and must never be in git; remove it"
    )
    for command in (("validate",), ("plan",), ("apply", "--yes")):
        assert "hunter2" not in run(repo_path, *command, database=moose_url).text


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        pytest.param("UPDATE system_config SET description = 'edited in the dashboard' "
                     "WHERE config_key = 'orchestrator_enabled'", "system_config orchestrator_enabled: changed",
                     id="update"),
        pytest.param("DELETE FROM system_config WHERE config_key = 'orchestrator_enabled'",
                     "system_config orchestrator_enabled: deleted", id="delete"),
        pytest.param("INSERT INTO system_config (config_key, config_value, config_type) "
                     "VALUES ('new_flag', 'true', 'boolean')", "system_config new_flag: created", id="insert"),
        pytest.param("UPDATE system_config SET config_value = '{\"daily_hard_cap\": 45}' "
                     "WHERE config_key = 'budget_limits'", "system_config budget_limits: changed",
                     id="update-the-planned-row"),
    ],
)
def test_saved_plan_is_refused_when_the_database_changed(
    repo_path: Path, moose_url: str, tmp_path: Path, sql: str, what: str
) -> None:
    plan_file = saved_plan(repo_path, moose_url, tmp_path)
    execute(moose_url, sql)  # someone edits the database after the plan was reviewed
    assert_apply_refused(
        repo_path, moose_url, (str(plan_file), "--yes"),
        "the database changed since this plan was made", what, "Nothing was applied.",
    )


def test_saved_plan_applied_twice_is_refused(repo_path: Path, moose_url: str, tmp_path: Path) -> None:
    plan_file = saved_plan(repo_path, moose_url, tmp_path)
    assert run(repo_path, "apply", str(plan_file), "--yes", database=moose_url).code == 0
    after_first = dump(moose_url)
    refs = backup_refs(repo_path)
    result = run(repo_path, "apply", str(plan_file), "--yes", database=moose_url)
    assert_refused(result, "this plan was already applied at ", "by Test Author <test@example.com>")
    assert dump(moose_url) == after_first
    assert backup_refs(repo_path) == refs


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        pytest.param(lambda text: text.replace('"daily_hard_cap": 40', '"daily_hard_cap": 4000'),
                     "the plan file was modified after it was made (checksum mismatch)", id="value-changed"),
        pytest.param(lambda text: text.replace('"action": "update"', '"action": "delete"'),
                     "the plan file was modified after it was made (checksum mismatch)", id="action-changed"),
        pytest.param(lambda text: text[: len(text) // 2], "not a configsync plan file (invalid JSON", id="truncated"),
        pytest.param(lambda text: "[]\n", "not a configsync plan file (expected format configsync-plan/2)",
                     id="not-a-plan"),
    ],
)
def test_tampered_plan_file_is_refused(
    repo_path: Path, moose_url: str, tmp_path: Path, tamper: Callable[[str], str], message: str
) -> None:
    plan_file = saved_plan(repo_path, moose_url, tmp_path)
    text = plan_file.read_text()
    tampered = tamper(text)
    assert tampered != text
    plan_file.write_text(tampered)
    assert_apply_refused(repo_path, moose_url, (str(plan_file), "--yes"), str(plan_file), message)


def test_saved_plan_for_another_database_is_refused(repo_path: Path, moose_url: str, tmp_path: Path) -> None:
    plan_file = saved_plan(repo_path, moose_url, tmp_path)
    other = sqlite_moose(tmp_path / "other.sqlite")
    before = dump(other)
    result = run(repo_path, "apply", str(plan_file), "--yes", database=other)
    assert_refused(result, "this plan was made for", f"not {other}; make a new plan")
    assert dump(other) == before


@pytest.mark.parametrize("answer", [None, "y\n"], ids=["no-input", "piped-yes"])
def test_apply_without_yes_and_without_terminal_refuses(
    repo_path: Path, moose_url: str, answer: str | None
) -> None:
    """In CI there is nobody to ask: apply must not treat piped input as consent."""
    snapshot(repo_path, moose_url)
    _change_budget(repo_path)
    assert_apply_refused(
        repo_path, moose_url, (), "refusing to apply without confirmation: no terminal to ask on; pass --yes", input=answer
    )

    # rollback asks the same way, and leaves git as it was when it cannot ask
    commit = head(repo_path)
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    applied = dump(moose_url)
    result = run(repo_path, "rollback", "HEAD", database=moose_url, input=answer)
    assert_refused(result, "refusing to apply without confirmation")
    assert dump(moose_url) == applied
    assert head(repo_path) == commit


def test_key_from_the_database_never_escapes_the_directory(repo_path: Path, moose_url: str) -> None:
    """A row whose key looks like a path is written inside its table directory."""
    execute(moose_url, "INSERT INTO system_config (config_key, config_value, config_type) "
                       "VALUES ('../../escape', '1', 'number')")
    result = run(repo_path, "snapshot", database=moose_url)
    assert result.code == 2, result.text
    assert "escape" in (repo_path / SYSTEM / "%2E.%2F..%2Fescape.yaml").read_text()
    assert not (repo_path / "escape.yaml").exists()
    assert not (repo_path.parent / "escape.yaml").exists()
    assert not (repo_path / "config-snapshots" / "escape.yaml").exists()
